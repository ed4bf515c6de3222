"""Where a lab host's processes live in the controller's cgroup trees.

Each host's systemd gets its own cgroup folder below the controller's, so two hosts
never manage (or kill) each other's units. Standard library only: the boot helper
imports it before it becomes systemd.
"""

from __future__ import annotations

import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def tracking_hierarchies() -> list[tuple[Path, str]]:
    """The cgroup hierarchies systemd tracks processes in: (mount point, our path in it).

    That is the v2 (unified) hierarchy and, on hybrid hosts, the v1 ``name=systemd`` one.
    """
    mounts: dict[str, Path] = {}
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            separator = fields.index("-")
            fstype, options = fields[separator + 1], fields[separator + 3]
            if fstype == "cgroup2":
                mounts[""] = Path(fields[4])
            elif fstype == "cgroup" and "name=systemd" in options.split(","):
                mounts["name=systemd"] = Path(fields[4])
    found = []
    with open("/proc/self/cgroup") as cgroups:
        for line in cgroups:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers in mounts:
                found.append((mounts[controllers], path))
    return found


def host_cgroups(name: str) -> list[Path]:
    """The cgroup folders of lab host ``name``, below the caller's own cgroup."""
    return [mount / path.lstrip("/") / "fossp-lab" / name for mount, path in tracking_hierarchies()]


def remove_cgroup(cgroup: Path, timeout: float = 10) -> None:
    """Remove a host's cgroup tree bottom-up (cgroups are removed with rmdir, one by one).

    Processes of a killed host take a moment to exit, and a cgroup with processes
    refuses rmdir (EBUSY), so keep trying for a while.
    """
    deadline = time.monotonic() + timeout
    while cgroup.is_dir():
        try:
            folders = sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
            for folder in [*folders, cgroup]:
                folder.rmdir()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
