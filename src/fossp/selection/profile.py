"""Profiles: the roles chosen for a host plus their settings, saved as YAML.

A profile is what `fossp recommend --save` writes and what later commands deploy. The
file format is stable and canonical: loading a profile and saving it again gives the
same bytes, so profiles diff cleanly in version control.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from fossp.catalog.loader import Catalog, describe_validation_error, read_yaml
from fossp.catalog.schema import Role, RoleId, single_line
from fossp.errors import BadInput

PROFILE_VERSION: Literal[1] = 1


def _one_line(text: str) -> str:
    if not single_line(text):
        raise ValueError("control characters and line breaks are not allowed")
    return text


class RoleChoice(BaseModel):
    """One chosen role and the settings that differ from (or add to) its defaults."""

    model_config = ConfigDict(extra="forbid")

    id: RoleId
    settings: dict[str, Any] = {}


class Profile(BaseModel):
    """Roles to deploy together on a host (or a group of hosts)."""

    model_config = ConfigDict(extra="forbid")

    fossp_profile: Literal[1] = PROFILE_VERSION
    description: Annotated[str, AfterValidator(_one_line)] | None = None
    roles: list[RoleChoice] = Field(default_factory=list)

    def role_ids(self) -> list[str]:
        return [choice.id for choice in self.roles]


def resolve_settings(role: Role, given: dict[str, Any], where: str, complete: bool = True) -> dict[str, Any]:
    """Validate ``given`` against the role's settings schema and fill in defaults.

    ``complete=False`` lets required settings stay unset: a profile may leave them (and
    secrets) to be given at deploy time, when they must be complete.
    Raises BadInput naming ``where``, the role and the setting on the first problem.
    """
    unknown = sorted(set(given) - {s.name for s in role.settings})
    if unknown:
        known = ", ".join(s.name for s in role.settings) or "none"
        raise BadInput(f"{where}: {role.id} has no setting '{unknown[0]}' (settings: {known})")
    resolved: dict[str, Any] = {}
    for setting in role.settings:
        if setting.name in given:
            try:
                resolved[setting.name] = setting.check(given[setting.name])
            except ValueError as error:
                raise BadInput(f"{where}: {role.id} setting '{setting.name}': {error}") from None
        elif setting.required and complete:
            raise BadInput(f"{where}: {role.id} setting '{setting.name}' is required")
        elif setting.default is not None:
            resolved[setting.name] = setting.default
    return resolved


def validate_profile(profile: Profile, catalog: Catalog, where: str) -> None:
    """Check that every role exists, appears once, and has valid settings."""
    seen: set[str] = set()
    for index, choice in enumerate(profile.roles):
        if choice.id not in catalog.roles:
            raise BadInput(f"{where}: field 'roles.{index}.id': unknown role {choice.id}")
        if choice.id in seen:
            raise BadInput(f"{where}: field 'roles.{index}.id': {choice.id} is listed twice")
        seen.add(choice.id)
        resolve_settings(catalog.roles[choice.id], choice.settings, where, complete=False)


def parse_profile(data: Any, catalog: Catalog, where: str) -> Profile:
    if not isinstance(data, dict):
        raise BadInput(f"{where}: a profile is a mapping with 'fossp_profile' and 'roles'")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as error:
        raise BadInput(f"{where}: {describe_validation_error(error)}") from None
    validate_profile(profile, catalog, where)
    return profile


def load_profile(path: Path, catalog: Catalog) -> Profile:
    """Read and validate a profile file; any problem is one BadInput naming the file."""
    return parse_profile(read_yaml(path), catalog, str(path))


def dump_profile(profile: Profile) -> str:
    """The canonical YAML text of a profile (stable key order, no aliases)."""
    data: dict[str, Any] = {"fossp_profile": profile.fossp_profile}
    if profile.description is not None:
        data["description"] = profile.description
    data["roles"] = [
        {"id": c.id, "settings": dict(sorted(c.settings.items()))} if c.settings else {"id": c.id}
        for c in profile.roles
    ]
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def save_profile(profile: Profile, path: Path) -> None:
    """Write atomically, so a failure never leaves half a profile behind."""
    text = dump_profile(profile)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise BadInput(f"{path}: cannot write profile: {error.strerror}") from None
