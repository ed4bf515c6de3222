"""The lab's BTRFS pool: a sparse loop file, so snapshots work on any controller disk."""

from __future__ import annotations

import os
from pathlib import Path

from fossp.lab.paths import LabPaths
from fossp.lab.system import LabError, require_tools, run

POOL_SIZE = os.environ.get("FOSSP_LAB_POOL_SIZE", "32G")


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
    run(["mount", "-o", "loop", paths.pool_image, paths.pool], f"mount {paths.pool_image}")
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


def set_readonly(path: Path) -> None:
    """The cached base must not change under the hosts snapshotted from it."""
    run(["btrfs", "property", "set", "-ts", path, "ro", "true"], f"make {path} read-only")


def delete_subvolume(path: Path) -> None:
    """Delete a subvolume and any nested ones (systemd may create /var/lib/machines etc.)."""
    if not path.exists():
        return
    if not is_subvolume(path):
        raise LabError(f"delete {path}: not a BTRFS subvolume; refusing to remove it")
    listing = run(["btrfs", "subvolume", "list", "-o", path], f"list subvolumes in {path}")
    lines = listing.stdout.splitlines()
    nested = [line.split(" path ", 1)[1] for line in lines if " path " in line]
    pool_root = path.parent
    while not is_mounted(pool_root) and pool_root != pool_root.parent:
        pool_root = pool_root.parent
    for relative in sorted(nested, key=len, reverse=True):
        run(["btrfs", "subvolume", "delete", pool_root / relative], f"delete subvolume {relative}")
    run(["btrfs", "subvolume", "delete", path], f"delete subvolume {path}")
