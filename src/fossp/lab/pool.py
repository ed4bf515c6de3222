"""The lab's BTRFS pool: a sparse loop file, so snapshots work on any controller disk."""

from __future__ import annotations

import os
import re
from pathlib import Path

from fossp.lab.paths import LabPaths
from fossp.lab.system import LabError, require_tools, run

POOL_SIZE = os.environ.get("FOSSP_LAB_POOL_SIZE", "32G")
#: subvolid=5 mounts the top level, whatever default subvolume a host may have set.
TOP_LEVEL = "subvolid=5"
MOUNT_OPTIONS = f"loop,{TOP_LEVEL}"
LIST_LINE = re.compile(r"ID \d+ gen \d+ top level \d+ path (.+)")


def is_mounted(path: Path) -> bool:
    """Read mountinfo rather than trusting a remembered state (the machine may have rebooted)."""
    target = str(path.resolve())
    with open("/proc/self/mountinfo") as mountinfo:
        return any(line.split()[4] == target for line in mountinfo)


def ensure_pool(paths: LabPaths) -> None:
    """Create the pool file once and mount it; a later call (or a reboot) just remounts it."""
    require_tools("mkfs.btrfs", "btrfs", "losetup")
    if is_mounted(paths.pool):
        return
    paths.pool.mkdir(parents=True, exist_ok=True)
    if not paths.pool_image.exists():
        new_image = paths.pool_image.with_suffix(".new")
        run(["truncate", "-s", POOL_SIZE, new_image], "create the lab pool file")
        run(["mkfs.btrfs", "-q", "-L", "fossp-lab", new_image], "format the lab pool")
        new_image.rename(paths.pool_image)
    # `mount -o loop` asks losetup for a free device and creates one past loop7 if needed.
    run(["mount", "-o", MOUNT_OPTIONS, paths.pool_image, paths.pool], f"mount {paths.pool_image}")
    paths.roots.mkdir(exist_ok=True)


def is_subvolume(path: Path) -> bool:
    """A BTRFS subvolume root always has inode number 256."""
    try:
        return path.stat().st_ino == 256
    except FileNotFoundError:
        return False


def create_subvolume(path: Path) -> None:
    run(["btrfs", "subvolume", "create", path], f"create subvolume {path}")


def snapshot(source: Path, target: Path) -> None:
    """Instant copy-on-write copy: each host gets its own writable root from the base."""
    run(["btrfs", "subvolume", "snapshot", source, target], f"snapshot {source} to {target}")


def snapshot_tree(source: Path, target: Path) -> None:
    """A snapshot of ``source`` with its nested subvolumes snapshotted into place (a plain
    snapshot leaves each as an empty folder): a built root's data subvolumes stay theirs."""
    snapshot(source, target)
    for inner in nested_subvolumes(source):
        placeholder = real_path(target, inner)
        placeholder.rmdir()
        snapshot_tree(source / inner, placeholder)


def set_readonly(path: Path) -> None:
    """The cached base must not change under the hosts snapshotted from it."""
    run(["btrfs", "property", "set", "-ts", path, "ro", "true"], f"make {path} read-only")


def is_readonly(path: Path) -> bool:
    listing = run(["btrfs", "property", "get", "-ts", path, "ro"], f"read the ro flag of {path}")
    return listing.stdout.strip() == "ro=true"


def _top_level(path: Path) -> Path:
    """The pool's mount point above ``path``: `btrfs subvolume list` paths start there."""
    top = path
    while not is_mounted(top) and top != top.parent:
        top = top.parent
    return top


def real_path(base: Path, relative: Path) -> Path:
    """``base / relative``, refusing a symlink anywhere below ``base``.

    Host roots are written by the hosts: a symlink in one must never lead the
    controller out of it (into another host's root or the controller's files).
    """
    current = base
    for part in relative.parts:
        current = current / part
        if part in ("..", ".") or current.is_symlink():
            raise LabError(f"{current}: a symlink or dot path inside {base}; refusing to follow it")
    return current


def nested_subvolumes(path: Path) -> list[Path]:
    """The subvolumes directly inside subvolume ``path``, relative to it.

    Hosts name their subvolumes, so every listing line must parse and name a real
    subvolume below ``path`` (a name with a newline could otherwise fake a line).
    """
    top = _top_level(path)
    prefix = path.resolve().relative_to(top.resolve())
    listing = run(["btrfs", "subvolume", "list", "-o", path], f"list subvolumes in {path}")
    found = []
    for line in listing.stdout.splitlines():
        match = LIST_LINE.fullmatch(line)
        relative = Path(match.group(1)) if match else None
        if relative is None or not relative.is_relative_to(prefix) or relative == prefix:
            raise LabError(f"list subvolumes in {path}: unexpected line {line!r}; remove that subvolume by hand")
        inner = relative.relative_to(prefix)
        if not is_subvolume(real_path(path, inner)):
            raise LabError(f"list subvolumes in {path}: {path / inner} is not a subvolume; remove it by hand")
        found.append(inner)
    return found


def delete_subvolume(path: Path) -> None:
    """Delete a subvolume and every subvolume below it, deepest first.

    `btrfs subvolume list -o` names direct children only, and a subvolume with
    children cannot be deleted: hosts nest snapshots (/.snapshots/N/snapshot) and
    data subvolumes, so recurse.
    """
    if not path.exists():
        return
    if not is_subvolume(path):
        raise LabError(f"delete {path}: not a BTRFS subvolume; refusing to remove it")
    children = nested_subvolumes(path)
    if children and is_readonly(path):
        # A child's entry lives in its parent: a read-only parent cannot lose it.
        run(["btrfs", "property", "set", "-ts", path, "ro", "false"], f"make {path} writable to empty it")
    for child in children:
        delete_subvolume(path / child)
    run(["btrfs", "subvolume", "delete", path], f"delete subvolume {path}")
