"""Profiles: the roles chosen for a host plus their settings, saved as YAML.

A profile is what `fossp recommend --save` writes and what later commands deploy. The
file format is stable and canonical: loading a profile and saving it again gives the
same bytes, so profiles diff cleanly in version control. A secret setting is given as
its value (the profile is then written 0600) or as ``{from_file: PATH}`` /
``{from_env: VAR}``, read when a deploy needs it (see fossp.secrets).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from fossp.catalog.loader import Catalog, describe_validation_error, read_yaml
from fossp.catalog.schema import Role, RoleId, Setting, SettingType, Slug, single_line
from fossp.errors import BadInput, shorten
from fossp.secrets import check_reference, read_reference, readable_by_others, reference, register

PROFILE_VERSION: Literal[1] = 1
HostName = Annotated[str, StringConstraints(pattern=r"^(lab:)?[A-Za-z0-9][A-Za-z0-9._-]*$")]


def _one_line(text: str) -> str:
    if not single_line(text):
        raise ValueError("control characters and line breaks are not allowed")
    return text


class RoleChoice(BaseModel):
    """One chosen role and the settings that differ from (or add to) its defaults."""

    model_config = ConfigDict(extra="forbid")

    id: RoleId
    settings: dict[str, Any] = {}
    hosts: list[HostName] | dict[Slug, list[HostName]] | None = Field(
        default=None,
        description="where it goes: target names, or for a multi-host role {part: [names]} (None: every target)",
    )

    def placement(self, role: Role) -> dict[str, list[str]] | None:
        """{part: [hosts]} for a multi-host role (a plain list fills its only part), or
        {"": [hosts]} for a role placed on some targets; None: every target."""
        if self.hosts is None or isinstance(self.hosts, dict):
            return self.hosts
        if role.cluster is not None and len(role.cluster.parts) == 1:
            return {role.cluster.parts[0].name: list(self.hosts)}
        return {"": list(self.hosts)}


class Profile(BaseModel):
    """Roles to deploy together on a host (or a group of hosts)."""

    model_config = ConfigDict(extra="forbid")

    fossp_profile: Literal[1] = PROFILE_VERSION
    description: Annotated[str, AfterValidator(_one_line)] | None = None
    roles: list[RoleChoice] = Field(default_factory=list)

    def role_ids(self) -> list[str]:
        return [choice.id for choice in self.roles]


def typed_value(setting: Setting | None, raw: str) -> Any:
    """A setting's value as a person typed it (a --set, a form field): a YAML scalar, but a
    secret is the text as typed (12345678 stays text) unless it is a reference such as
    {from_env: VAR}, and a list may be typed as its items with commas between them
    (``10.0.0.1, 10.0.0.2``) as well as in YAML (``[10.0.0.1]``)."""
    import yaml

    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError):  # ValueError: an integer of too many digits
        value = raw
    if setting is not None and setting.secret and reference(value) is None:
        return raw
    if setting is not None and setting.type is SettingType.LIST and not isinstance(value, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return value


def resolve_settings(role: Role, given: dict[str, Any], where: str, complete: bool = True) -> dict[str, Any]:
    """Validate ``given`` against the role's settings schema and fill in defaults.

    ``complete=False`` lets required settings stay unset: a profile may leave them (and
    secrets) to be given at deploy time, when they must be complete; secret references
    are then only checked for form. ``complete=True`` gives what a deploy uses: references
    are read, and an optional secret that is not given is '' (recipes test for it).
    Every secret value is registered for masking. Raises BadInput naming ``where``, the
    role and the setting on the first problem.
    """
    unknown = sorted(set(given) - {s.name for s in role.settings})
    if unknown:
        known = ", ".join(s.name for s in role.settings) or "none"
        raise BadInput(f"{where}: {role.id} has no setting {shorten(unknown[0])} (settings: {known})")
    resolved: dict[str, Any] = {}
    for setting in role.settings:
        context = f"{where}: {role.id} setting '{setting.name}'"
        value = given.get(setting.name)
        if setting.name not in given:
            if setting.required and complete:
                raise BadInput(f"{context} is required")
            if setting.default is not None:
                resolved[setting.name] = setting.default
            elif setting.secret and complete:
                resolved[setting.name] = ""
            continue
        if setting.secret and reference(value) is not None and not complete:
            check_reference(value, context)
            resolved[setting.name] = value
            continue
        if setting.secret:
            value = read_reference(value, context)
            if isinstance(value, str):
                register(value)
        try:
            resolved[setting.name] = setting.check(value)
        except ValueError as error:
            raise BadInput(f"{context}: {error}") from None
    return resolved


def validate_profile(profile: Profile, catalog: Catalog, where: str) -> None:
    """Check that every role exists, appears once, and has valid settings."""
    seen: set[str] = set()
    for index, choice in enumerate(profile.roles):
        if choice.id not in catalog.roles:
            raise BadInput(f"{where}: field 'roles.{index}.id': unknown role {choice.id}{catalog.skipped_note()}")
        if choice.id in seen:
            raise BadInput(f"{where}: field 'roles.{index}.id': {choice.id} is listed twice")
        seen.add(choice.id)
        role = catalog.roles[choice.id]
        resolve_settings(role, choice.settings, where, complete=False)
        if isinstance(choice.hosts, dict) and role.cluster is None:
            raise BadInput(f"{where}: field 'roles.{index}.hosts': {role.id} has no parts; list its hosts")


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
        {
            "id": c.id,
            **({"settings": dict(sorted(c.settings.items()))} if c.settings else {}),
            **({"hosts": c.hosts} if c.hosts is not None else {}),
        }
        for c in profile.roles
    ]
    import yaml  # here: `fossp recommend` without --save reads no YAML

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def held_secrets(profile: Profile, catalog: Catalog) -> list[str]:
    """ROLE.SETTING of each secret whose value (not a reference) the profile holds."""
    return [
        f"{catalog.roles[choice.id].name}.{name}"
        for choice in profile.roles
        for name, value in choice.settings.items()
        if (setting := catalog.roles[choice.id].setting(name)) and setting.secret and reference(value) is None
    ]


def exposure_warning(profile: Profile, catalog: Catalog, path: Path) -> str | None:
    """A warning when the profile file holds secrets and its group or others can read it."""
    held = held_secrets(profile, catalog)
    mode = readable_by_others(path) if held else None
    if mode is None:
        return None
    return (
        f"{path} holds secrets ({', '.join(held)}) but has mode {mode:04o}: chmod 600 {path}, "
        "or give them as {from_file: PATH} or {from_env: VAR}"
    )


def save_profile(profile: Profile, path: Path, catalog: Catalog) -> None:
    """Write atomically, so a failure never leaves half a profile behind; a profile that
    holds a secret is written 0600 (from the start: the temporary file is never wider)."""
    text = dump_profile(profile).encode()
    mode = 0o600 if held_secrets(profile, catalog) else 0o666  # the umask applies as ever
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.unlink(missing_ok=True)
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as handle:
            handle.write(text)
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise BadInput(f"{path}: cannot write profile: {error.strerror}") from None


def secrets_folder(path: Path) -> Path:
    """Where the secrets typed for the profile at ``path`` are kept: beside it, 0700."""
    return path.with_name(f"{path.name}.secrets")


def keep_secrets_apart(profile: Profile, typed: dict[str, dict[str, str]], path: Path, catalog: Catalog) -> Profile:
    """``profile`` with each typed secret (role ID -> setting -> value) moved to a file of
    its own (0600, in :func:`secrets_folder`) and named there as ``{from_file: PATH}``: the
    profile stays shareable and never holds what was typed at the prompt."""
    folder = secrets_folder(path)
    roles = []
    for choice in profile.roles:
        settings = dict(choice.settings)
        for name, value in typed.get(choice.id, {}).items():
            target = folder / f"{catalog.roles[choice.id].name}.{name}"
            _write_private(folder, target, value)
            settings[name] = {"from_file": str(target.resolve())}
        roles.append(choice.model_copy(update={"settings": settings}))
    return profile.model_copy(update={"roles": roles})


def _write_private(folder: Path, target: Path, value: str) -> None:
    """Write ``value`` to ``target`` mode 0600 from the start, replacing an older one whole."""
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        temporary.unlink(missing_ok=True)
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(value + "\n")
        temporary.replace(target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise BadInput(f"{target}: cannot write the secret: {error.strerror}") from None
