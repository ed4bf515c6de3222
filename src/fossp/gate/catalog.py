"""What the stage gate does to the catalog, the only way a role's status changes.

A role keeps the status of its data file until a go into a phase that sets one (Launch
launches, Service Removal retires); the newest such change of a role counts. Proposing,
reviewing, a no-go and every other go leave the catalog alone, so a launched role stays
launched while a new application for it goes through the gates.

A role the catalog does not have can be proposed: its role file (and recipe, with the
templates beside it) are deliverables, validated like installed ones when delivered and
kept as delivered; the go into Launch validates them again and installs them as a site
role. Reading the statuses never writes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Connection, inspect, select

from fossp.catalog.loader import Catalog, CatalogError, cross_check, parse_role, read_text, site_roles_folder
from fossp.catalog.schema import ROLE_ID_PATTERN, CatalogStatus, Role
from fossp.errors import BadInput
from fossp.gate.errors import Invalid, Refused
from fossp.gate.models import CatalogChange

ROLE_FILE, RECIPE = "role-definition", "role-recipe"  # the deliverables that carry a new role
Bundle = dict[str, str]  # a path under a site folder -> the text delivered for it


def read_statuses(connection: Connection) -> dict[str, CatalogStatus]:
    """Role ID -> the status the newest catalog change gave it ({} before any, or in a
    database whose schema predates catalog changes)."""
    if not inspect(connection).has_table(CatalogChange.__tablename__):
        return {}
    rows = connection.execute(select(CatalogChange.role_id, CatalogChange.status).order_by(CatalogChange.id))
    return {role_id: CatalogStatus(status) for role_id, status in rows}


def check_new_role(ref: str, catalog: Catalog) -> str:
    """The ID of a role proposed as new: well formed, of a known service, not in the catalog."""
    role_id = ref.strip().upper()
    if not re.fullmatch(ROLE_ID_PATTERN, role_id):
        raise Invalid("new_roles", f"'{ref}' is not a role ID (FOSSP-, service code, S, implementation code)")
    if role_id in catalog.roles:
        raise Invalid(
            "new_roles", f"{role_id} is in the catalog already ({catalog.roles[role_id].name}); name it as a role"
        )
    code = role_id.removeprefix("FOSSP-")[:2]
    if code not in {service.code for service in catalog.services.values()}:
        raise Invalid("new_roles", f"{role_id}: no service has the code {code}")
    return role_id


def role_bundle(text: str, source: str, role_id: str, catalog: Catalog) -> tuple[Role, Bundle]:
    """A new role's file checked by the schema and against the catalog, with its bundle."""
    role = parse_role(text, source)
    if role.id != role_id:
        raise CatalogError(f"{source}: field 'id': {role.id} is not the role this application proposes ({role_id})")
    if role.id in catalog.roles:
        raise CatalogError(f"{source}: field 'id': {role.id} is in the catalog already ({catalog.sources[role.id]})")
    taken = next((r.id for r in catalog.roles.values() if r.name == role.name), None)
    if taken is not None:
        raise CatalogError(f"{source}: field 'name': '{role.name}' is already used by {taken}")
    if not role.probes:
        raise CatalogError(f"{source}: field 'probes': a role the stage gate launches needs a health probe")
    cross_check(replace(catalog, roles={**catalog.roles, role.id: role}, sources={**catalog.sources, role.id: source}))
    return role, {f"{role.name}.yaml": text}


def recipe_bundle(text: str, source: str, role: Role, templates: Path) -> Bundle:
    """A new role's recipe checked against its role, with the templates it brings from ``templates``."""
    from fossp.engine.recipe import check_delivered

    _recipe, brought = check_delivered(text, source, role, templates)
    return {f"{role.name}.yaml": text, **{f"templates/{name}": read_text(templates / name) for name in brought}}


def delivered_file(key: str, reference: str, role_id: str, catalog: Catalog, role_content: str | None) -> str:
    """The JSON content kept for a new role's role file or recipe, read from the path
    ``reference`` and validated; the recipe is checked against ``role_content``."""
    path = Path(reference.strip()).expanduser()
    if not path.is_absolute():
        raise Invalid("reference", f"'{reference}': give the absolute path of the file on this server")
    if key == ROLE_FILE:
        return json.dumps(role_bundle(read_text(path), str(path), role_id, catalog)[1])
    if role_content is None:
        raise Invalid("key", f"deliver the role file of {role_id} ({ROLE_FILE}) before its recipe")
    role = _role_of(role_content, role_id, catalog)
    return json.dumps(recipe_bundle(read_text(path), str(path), role, path.parent / "templates"))


def _role_of(content: str, role_id: str, catalog: Catalog) -> Role:
    bundle: Bundle = json.loads(content)
    [(name, text)] = bundle.items()
    return role_bundle(text, f"the delivered role file {name}", role_id, catalog)[0]


@dataclass(frozen=True)
class RoleChange:
    """What a go does to one role: ``before`` None means it is not in the catalog yet."""

    role_id: str
    name: str
    before: CatalogStatus | None
    after: CatalogStatus
    installs: tuple[tuple[Path, str], ...] = ()

    @property
    def text(self) -> str:
        if self.before is None:
            files = ", ".join(str(path) for path, _text in self.installs)
            return f"installs {self.role_id} {self.name} as a site role ({files}) and launches it"
        verb = "launches" if self.after is CatalogStatus.LAUNCHED else "retires"
        return f"{verb} {self.role_id} {self.name} (now {self.before})"

    def as_dict(self) -> dict[str, object]:
        return {
            "role_id": self.role_id,
            "name": self.name,
            "before": self.before.value if self.before else None,
            "after": self.after.value,
            "installs": [str(path) for path, _text in self.installs],
            "text": self.text,
        }


def summary(changes: Sequence[RoleChange]) -> str:
    """One sentence for the decision form and the CLI: what a go here changes in the catalog."""
    if not changes:
        return "a go here leaves the catalog as it is"
    return "a go here " + "; ".join(change.text for change in changes)


def new_role_change(role_id: str, role_content: str | None, recipe_content: str | None, catalog: Catalog) -> RoleChange:
    """The go into Launch of a new role: its delivered files validated again, where they go."""
    from fossp.engine.recipe_files import site_recipes_folder

    if role_content is None:
        raise Refused(f"the role file of {role_id} ({ROLE_FILE}) is not delivered")
    role = _role_of(role_content, role_id, catalog)
    files = [(site_roles_folder() / rel, text) for rel, text in json.loads(role_content).items()]
    if recipe_content is not None:
        recipe: Bundle = json.loads(recipe_content)
        with tempfile.TemporaryDirectory(prefix="fossp-recipe-") as folder:
            _write_all([(Path(folder) / rel, text) for rel, text in recipe.items()])
            recipe_bundle(
                recipe[f"{role.name}.yaml"], f"the delivered recipe {role.name}.yaml", role, Path(folder) / "templates"
            )
        files += [(site_recipes_folder() / rel, text) for rel, text in recipe.items()]
    present = [path for path, _text in files if path.exists()]
    if present:
        raise Refused(f"{present[0]} exists already; the stage gate does not overwrite a site file")
    return RoleChange(role.id, role.name, None, CatalogStatus.LAUNCHED, tuple(files))


def install(changes: Sequence[RoleChange]) -> None:
    """Write the site files of the new roles a go launches: all of them, or none."""
    files = [item for change in changes for item in change.installs]
    try:
        _write_all(files)
    except OSError as error:
        for path, _text in files:
            path.unlink(missing_ok=True)
        raise BadInput(f"cannot install the site role: {error.filename}: {error.strerror}") from None


def _write_all(files: Sequence[tuple[Path, str]]) -> None:
    """Write each file by a rename, so none is ever seen half written."""
    for path, text in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)


def current_statuses(catalog: Catalog, decided: Mapping[str, CatalogStatus]) -> dict[str, CatalogStatus]:
    """Every catalog role's status: its data file's, unless a decision set another."""
    return {role_id: decided.get(role_id, role.lifecycle.status) for role_id, role in catalog.roles.items()}
