"""Load and cross-check the catalog data files.

The data ships inside the package (``fossp/data``); a site adds or overrides roles with
YAML files in ``/etc/fossp/roles.d`` (or the folder named by ``FOSSP_ROLES_DIR``).
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fossp.catalog.schema import Feature, PlatformComponent, Role, Service
from fossp.errors import BadInput, one_line, plain, shorten
from fossp.files import read_text

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SITE_ROLES_DIR = Path("/etc/fossp/roles.d")

M = TypeVar("M", bound=BaseModel)


class CatalogError(BadInput):
    """A data file that does not follow the schema: names the file, the field and why."""

    code = "bad_catalog"
    where_leads = True  # FILE: why


def describe_validation_error(error: ValidationError) -> str:
    """One line for the first problem (and a count of the others)."""
    problems = error.errors()
    first = problems[0]
    where = ".".join(str(part) if plain(str(part), 40) else shorten(part, 40) for part in first["loc"])
    message = one_line(first["msg"].removeprefix("Value error, "))
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"field '{where}': {message}{more}" if where else f"{message}{more}"


def parse_yaml(text: str, source: str) -> Any:
    """YAML ``text`` read from ``source``; bad YAML is one line naming the source and line.
    (PyYAML is imported here: a cached catalog needs none.)"""
    import yaml

    try:  # libyaml's safe loader parses the catalog 8x faster than the pure-Python one (same result)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or getattr(error, "reason", None) or error
        raise BadInput(f"{source}:{line} is not valid YAML: {one_line(str(problem))}") from None
    except ValueError:  # PyYAML's int() of a number with thousands of digits
        raise BadInput(f"{source}: is not valid YAML: a number too long to read") from None


def read_yaml(path: Path) -> Any:
    """The YAML document in the file at ``path``; an unreadable file or bad YAML is one line."""
    return parse_yaml(read_text(path), str(path))


def parse_model(model: type[M], data: Any, source: str) -> M:
    """Validate ``data`` as ``model``; a failure becomes a CatalogError naming ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise CatalogError(f"{source}: {describe_validation_error(error)}") from None


def _parse_list(model: type[M], path: Path) -> list[M]:
    data = read_yaml(path)
    if not isinstance(data, list):
        raise CatalogError(f"{path.name}: expected a list of entries")
    return [parse_model(model, item, f"{path.name}: entry {n}") for n, item in enumerate(data)]


def load_role_file(path: Path) -> Role:
    return parse_role(read_text(path), str(path))


def parse_role(text: str, source: str) -> Role:
    """A role file's ``text``, validated by the schema; errors name ``source`` and the field."""
    data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: expected a mapping of role fields")
    return parse_model(Role, data, source)


def closest(word: str, candidates: list[str], limit: int = 3) -> list[str]:
    """The candidates most like ``word`` (for "did you mean ...?")."""
    unique = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in unique}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=limit, cutoff=0.6)
    return [lowered[h] for h in hits]


@dataclass(frozen=True)
class Catalog:
    """Roles, services, the feature vocabulary and the platform definition, cross-checked."""

    services: dict[str, Service]
    features: dict[str, Feature]
    platform: list[PlatformComponent]
    roles: dict[str, Role] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # a broken site role file -> why

    def skipped_note(self) -> str:
        """What to add to "unknown role": the site role files left out, which may hold it."""
        if not self.skipped:
            return ""
        first, *others = self.skipped.values()
        more = f" and {len(others)} more" if others else ""
        return f" (a skipped site role file may define it: {first}{more})"

    def role(self, ref: str) -> Role:
        """Find a role by ID or name, case-insensitively; raise BadInput with close matches."""
        wanted = ref.strip().lower()
        for role in self.roles.values():
            if wanted in (role.id.lower(), role.name):
                return role
        matches = [r for r in self.roles.values() if r.implementation.lower() == wanted]
        if len(matches) == 1:
            return matches[0]
        hint = closest(wanted, [*(r.name for r in self.roles.values()), *self.roles])
        suffix = f"; did you mean {', '.join(hint)}?" if hint else ""
        if len(matches) > 1:
            suffix = f"; it is ambiguous: {', '.join(r.id for r in matches)}"
        raise BadInput(f"unknown role {shorten(ref)}{suffix}{self.skipped_note()}")

    def providers(self, feature: str) -> list[Role]:
        """Roles that provide ``feature``, best first."""
        return sorted(
            (r for r in self.roles.values() if feature in r.features),
            key=lambda r: (-r.preference, r.id),
        )


def _role_problem(catalog: Catalog, role: Role) -> str | None:
    """Why ``role`` does not fit the catalog (its service, ID, features, references), or None."""
    service = catalog.services.get(role.service)
    if service is None:
        return f"field 'service': unknown service '{role.service}'"
    expected = f"FOSSP-{service.code}S{role.code}"
    if role.id != expected:
        return (
            f"field 'id': {role.id} does not follow the ID scheme "
            f"(service code {service.code} + implementation code {role.code} = {expected})"
        )
    unknown = [f for f in role.features if f not in catalog.features]
    if unknown:
        return f"field 'features': unknown feature '{unknown[0]}'"
    references = [
        *(("requires", r.role) for r in role.requires),
        *(("conflicts", r.role) for r in role.conflicts),
        ("upstream.replacement_role", role.upstream.replacement_role),
    ]
    for where, reference in references:
        if reference is not None and reference not in catalog.roles:
            return f"field '{where}': unknown role {reference}"
    return None


def _cross_check(catalog: Catalog, packaged: set[str]) -> None:
    """A packaged role that does not fit is FOSSP's own bug (refused); a site role that
    does not fit is left out, and so are the site roles that needed it."""
    while problems := {i: p for i, r in catalog.roles.items() if (p := _role_problem(catalog, r)) is not None}:
        for role_id, problem in problems.items():
            if catalog.sources[role_id] in packaged:
                raise CatalogError(f"{catalog.sources[role_id]}: {problem}")
            catalog.skipped[catalog.sources[role_id]] = f"{catalog.sources[role_id]}: {problem}"
            del catalog.roles[role_id]
    _check_features(catalog)


def cross_check(catalog: Catalog) -> None:
    """Refuse a catalog with a role that does not fit it (how a delivered role file is checked)."""
    for role_id, role in catalog.roles.items():
        problem = _role_problem(catalog, role)
        if problem is not None:
            raise CatalogError(f"{catalog.sources[role_id]}: {problem}")
    _check_features(catalog)


def _check_features(catalog: Catalog) -> None:
    for feature in catalog.features.values():
        for implied in feature.implies:
            if implied not in catalog.features:
                raise CatalogError(f"features.yaml: feature '{feature.key}' implies unknown '{implied}'")


def _add_role(catalog: Catalog, path: Path, source: str, packaged: bool, names: dict[str, str]) -> None:
    role = load_role_file(path)
    if role.id in catalog.roles and packaged:
        raise CatalogError(f"{source}: field 'id': {role.id} is already used by {catalog.sources[role.id]}")
    if names.get(role.name, role.id) != role.id:
        raise CatalogError(f"{source}: field 'name': '{role.name}' is already used by {names[role.name]}")
    catalog.roles[role.id] = role
    catalog.sources[role.id] = source
    names[role.name] = role.id


#: The catalog's list files in data_dir, beside its roles/ folder.
SERVICES, FEATURES, PLATFORM = "services.yaml", "features.yaml", "platform.yaml"


def role_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml"))


def catalog_files(data_dir: Path, extra_role_dirs: Iterable[Path]) -> list[Path]:
    """Every file :func:`build_catalog` reads."""
    lists = [data_dir / name for name in (SERVICES, FEATURES, PLATFORM)]
    return [*lists, *(path for folder in (data_dir / "roles", *extra_role_dirs) for path in role_files(folder))]


def build_catalog(data_dir: Path, extra_role_dirs: Iterable[Path] = ()) -> Catalog:
    """Load every data file under ``data_dir`` (and extra role folders) and cross-check them.

    A site role file that cannot be read or does not validate is skipped and named in
    ``skipped``: one bad file must not stop every command; those that need its role say so.
    """
    services = {s.key: s for s in _parse_list(Service, data_dir / SERVICES)}
    features = {f.key: f for f in _parse_list(Feature, data_dir / FEATURES)}
    platform = _parse_list(PlatformComponent, data_dir / PLATFORM)
    catalog = Catalog(services=services, features=features, platform=platform)
    names: dict[str, str] = {}
    for path in role_files(data_dir / "roles"):
        _add_role(catalog, path, path.name, True, names)
    packaged = set(catalog.sources.values())
    for folder in extra_role_dirs:
        for path in role_files(folder):
            try:
                _add_role(catalog, path, str(path), False, names)
            except BadInput as error:
                catalog.skipped[str(path)] = error.message
    _cross_check(catalog, packaged)
    return catalog


def site_roles_folder() -> Path:
    """Where site roles live (and the stage gate installs the roles it launches)."""
    return Path(os.environ.get("FOSSP_ROLES_DIR") or SITE_ROLES_DIR)


def site_role_dirs() -> list[Path]:
    folder = site_roles_folder()
    return [folder] if folder.is_dir() else []


@cache
def load_catalog() -> Catalog:
    """The catalog this installation uses (packaged data plus site roles), loaded once (from
    the disk cache while its files are unchanged); each site role file skipped is one
    warning line on stderr, on every run."""
    from fossp.catalog.cache import cached

    role_dirs = site_role_dirs()
    catalog = cached("catalog", Catalog, catalog_files(DATA_DIR, role_dirs), lambda: build_catalog(DATA_DIR, role_dirs))
    for problem in catalog.skipped.values():
        sys.stderr.write(f"fossp: warning: {problem}; this site role file is skipped\n")
    return catalog
