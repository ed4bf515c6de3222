"""What every installation method shares: the checks on the roles before anything is
written, the roles' data folders, findings, work folders, and writing the result atomically."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


SCRATCH = Path("/var/tmp")
_SCRATCH_NAME = re.compile(r"fossp-[a-z]+-(\d+)-\w+")
LOOP_RECORD = "loop-device"


@contextmanager
def scratch(kind: str, under: Path = SCRATCH) -> Iterator[Path]:
    """A work folder for one build step, removed after. Its name holds this process's ID,
    so the next build removes what a killed one left (and detaches the loop device it
    recorded in ``LOOP_RECORD``): a SIGKILL runs no ``finally``."""
    sweep_scratch(under)
    work = Path(tempfile.mkdtemp(prefix=f"fossp-{kind}-{os.getpid()}-", dir=under))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sweep_scratch(under: Path = SCRATCH) -> list[Path]:
    """Remove the work folders of builds whose process is gone; returns them."""
    swept = []
    for folder in under.glob("fossp-*-*-*"):
        found = _SCRATCH_NAME.fullmatch(folder.name)
        if found is None or not folder.is_dir() or _alive(int(found.group(1))):
            continue
        record = folder / LOOP_RECORD
        if record.is_file():
            device, backing = record.read_text().split(maxsplit=1)
            detach_loop(device, backing.strip())
            if ".fossp-partial" in Path(backing.strip()).name:  # never renamed: a half-written output
                Path(backing.strip()).unlink(missing_ok=True)
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(folder)], check=False, timeout=600)
        swept.append(folder)
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def detach_loop(device: str, backing: str) -> None:
    """Detach ``device`` if it still serves ``backing`` (a deleted file counts): a device
    number is reused, so one that now serves another file is left alone."""
    listed = subprocess.run(["losetup", "-J", "-l", device], capture_output=True, text=True, timeout=30, check=False)
    if listed.returncode != 0 or not listed.stdout.strip():
        return
    [entry] = json.loads(listed.stdout)["loopdevices"]
    if (entry.get("back-file") or "").removesuffix(" (deleted)") == backing:
        subprocess.run(["losetup", "-d", device], capture_output=True, timeout=30, check=False)
