"""Where a lab host's processes live in the controller's cgroup trees.

Each host's systemd gets its own cgroup folder below the controller's, so two hosts
never manage (or kill) each other's units, and the devices cgroup lets it open only
its own /dev's devices. Standard library only: the boot helper imports it before it
becomes systemd.
"""

from __future__ import annotations

import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def host_hierarchies() -> list[tuple[Path, str]]:
    """The cgroup hierarchies a host gets a folder in: (mount point, our path in it).

    Those systemd tracks processes in (the v2 unified one and, on hybrid hosts, the v1
    ``name=systemd`` one) and the v1 ``devices`` one, which limits the devices a host
    can open.
    """
    mounts: dict[str, Path] = {}
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            separator = fields.index("-")
            fstype, options = fields[separator + 1], fields[separator + 3]
            if fstype == "cgroup2":
                mounts[""] = Path(fields[4])
            elif fstype == "cgroup":
                for controller in {"name=systemd", "devices"} & set(options.split(",")):
                    mounts[controller] = Path(fields[4])
    found = []
    with open("/proc/self/cgroup") as cgroups:
        for line in cgroups:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers in mounts:
                found.append((mounts[controllers], path))
    return found


def host_cgroups(name: str) -> list[Path]:
    """The cgroup folders of lab host ``name``, below the caller's own cgroup."""
    return [mount / path.lstrip("/") / "fossp-lab" / name for mount, path in host_hierarchies()]


#: What a host may open (devices cgroup v1): its /dev's character devices, ptmx and its PTYs.
HOST_DEVICES = (
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
)


def enter_cgroups(cgroups: list[Path]) -> None:
    """Move the calling process into ``cgroups``; a devices cgroup first denies all but HOST_DEVICES.

    Even a devtmpfs a host mounts (it keeps CAP_SYS_ADMIN) then opens none of the
    controller's disks or loop devices.
    """
    for cgroup in cgroups:
        cgroup.mkdir(parents=True, exist_ok=True)
        if (cgroup / "devices.deny").exists():
            (cgroup / "devices.deny").write_text("a\n")
            for rule in HOST_DEVICES:
                (cgroup / "devices.allow").write_text(f"{rule}\n")
        (cgroup / "cgroup.procs").write_text("0\n")


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
