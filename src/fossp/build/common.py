"""What every installation method shares: the checks on the roles before anything is
written, the roles' data folders, findings, and writing the result atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fossp.catalog.schema import Family, Role
from fossp.errors import BadInput


@dataclass(frozen=True)
class Finding:
    """One problem in a generated file, at its line (0: the file as a whole)."""

    line: int
    message: str


def defaults(role: Role) -> dict[str, Any]:
    """The role's default settings: installation media carry no settings of their own."""
    return {s.name: s.default for s in role.settings}


def check_roles(roles: list[Role], family: Family, method: str) -> None:
    """Refuse, before anything is written, roles the ``method`` cannot install on one host
    of ``family``: not packaged there, spanning hosts, or unable to share the host."""
    from fossp.engine.planner import Wanted, refuse_conflicts

    for role in roles:
        if not role.available_on(family):
            note = role.packages[family].note
            raise BadInput(f"{role.id} ({role.implementation}) is not available on {family}: {note}")
        if role.cluster is not None:
            raise BadInput(f"{role.id} ({role.implementation}) spans hosts: deploy it with a placement instead")
    refuse_conflicts([Wanted(role, defaults(role)) for role in roles], [], method)


def data_folders(roles: list[Role], family: Family) -> list[str]:
    """The roles' data folders on ``family`` (their recipes' ``data``), which FOSSP's layout
    makes subvolumes nested in ``@``; one whose path needs an installed package's version
    cannot be known before the install and is refused."""
    from fossp.engine.recipe import filled_data, load_recipe, resolve_vars

    found: list[str] = []
    for role in roles:
        recipe = load_recipe(role.name).for_family(family)
        known, unknown = filled_data(recipe.data, resolve_vars(recipe, defaults(role), {}))
        if unknown:
            raise BadInput(f"{role.id}: data folder {unknown[0].path} is known only once the packages are installed")
        found += [item.path for item in known]
    return list(dict.fromkeys(found))


def exposed_ports(roles: list[Role]) -> list[str]:
    """SSH and the ports the roles expose, as ``PORT/PROTOCOL`` (an image's or container's
    ports: what a boot forwards, what an OCI image declares)."""
    ports = ["22/tcp"] + [f"{p.port}/{p.protocol.value}" for role in roles for p in role.ports if p.expose]
    return list(dict.fromkeys(ports))


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` under a temporary name and rename it, so a failure never leaves part
    of a file where an installer would read it (``mode`` from the start: a secret's file is
    never wider)."""
    temporary = path.with_name(f".{path.name}.fossp-partial")
    try:
        temporary.unlink(missing_ok=True)
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as handle:
            handle.write(text)
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise BadInput(f"{path}: cannot write it ({error.strerror})") from None
