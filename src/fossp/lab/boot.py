"""PID 1 launcher of a lab host; runs as ``python -m fossp.lab.boot`` inside new namespaces.

`fossp lab up` starts it under ``nsenter --net`` (the host's netns) and ``unshare --pid
--fork --mount --uts --ipc``, so this process is PID 1 of the host. It moves itself
into the host's own cgroups (two hosts' systemd must not manage the same cgroup
tree), mounts what systemd needs inside the root, then becomes systemd. It needs no
third-party code itself: the mounts and the chroot are plain system calls and
`mount` commands.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
from pathlib import Path

from fossp.lab.cgroups import CGROUP_ROOT

#: What `systemd-detect-virt --container` says inside a lab host.
CONTAINER = "fossp-lab"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _enter_cgroups(cgroups: list[Path]) -> None:
    for cgroup in cgroups:
        cgroup.mkdir(parents=True, exist_ok=True)
        (cgroup / "cgroup.procs").write_text("0\n")


def _mount_filesystems(root: Path, repo: Path, console: Path) -> None:
    """The mounts systemd needs, private to this host's mount namespace."""
    _mount("--make-rprivate", "/")
    # The root must be a mount point, or systemd cannot make / shared for its services.
    _mount("--bind", str(root), str(root))
    _mount("-t", "proc", "proc", str(root / "proc"))
    _mount("-t", "sysfs", "sysfs", str(root / "sys"))
    # An rbind, not a fresh mount: systemd finds its (non-root) cgroup via /proc/self/cgroup.
    _mount("--rbind", str(CGROUP_ROOT), str(root / "sys/fs/cgroup"))
    for tmp in ("run", "tmp"):
        _mount("-t", "tmpfs", "-o", "mode=1777" if tmp == "tmp" else "mode=755", "tmpfs", str(root / tmp))
    _mount("--rbind", "/dev", str(root / "dev"))
    # Nothing in the host may write to the controller's console: give it the host's log.
    _mount("--bind", str(console), str(root / "dev/console"))
    _mount("--bind", "-o", "ro", str(repo), str(root / "srv/fossp-repo"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--console", type=Path, required=True)
    parser.add_argument("--cgroup", type=Path, action="append", default=[])
    args = parser.parse_args()
    if os.getpid() != 1:
        raise SystemExit("fossp.lab.boot must run as PID 1 of a new PID namespace")
    _enter_cgroups(args.cgroup)
    socket.sethostname(args.hostname)
    _mount_filesystems(args.root, args.repo, args.console)
    os.chroot(args.root)
    os.chdir("/")
    # systemd reads container= from its environment: without it, it takes a lab host for
    # bare metal and would shut down through the controller's devices.
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "container": CONTAINER}
    os.execve("/lib/systemd/systemd", ["/lib/systemd/systemd", "--system"], environment)


if __name__ == "__main__":
    main()
