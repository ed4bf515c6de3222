"""An offline root folder reached through chroot: the root's own tools act on it.

apt, dpkg's maintainer scripts, ``systemctl enable``, ``btrfs`` and user lookups all run
inside the root, so an offline Debian root is planned and applied by the same engine as a
live host, with the root's own package database and users. Each command gets a private
mount and PID namespace: ``/proc``, ``/sys``, ``/dev``, a fresh ``/dev/shm`` (initdb
probes POSIX shared memory) and read-only binds (the lab's package repository) exist only
for it, and any daemon a maintainer script leaves behind dies with the command. The
root's own ``/run`` folder is kept (FOSSP's lock lives there between commands; a booted
system mounts a tmpfs over it). The command gets a clean environment (the controller's,
such as its pip settings, would leak into the root). Values reach the fixed script only as
positional arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from fossp.hosts.connector import WRITE_SCRIPT, Connector, HostError, Result, _run_local
from fossp.hosts.timeouts import Timeouts

#: $1 the root; then SOURCE TARGET pairs bound read-only, up to "--"; then the command.
CHROOT_SCRIPT = r"""
R=$1; shift
mount -t proc proc "$R/proc" && mount -t sysfs sysfs "$R/sys" && mount --rbind /dev "$R/dev" &&
  mkdir -p "$R/dev/shm" && mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm" || exit 125
while [ "$1" != "--" ]; do
  mkdir -p "$R$2" && mount --bind "$1" "$R$2" && mount -o remount,bind,ro "$R$2" || exit 125
  shift 2
done
shift
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  chroot "$R" "$@"
"""

#: Folders the script mounts over; they must exist in the root.
MOUNT_POINTS = ("proc", "sys", "dev")


#: A command in its own mount and PID namespaces: its mounts, and any process it leaves
#: behind, end with it (a killed build leaves neither).
PRIVATE_NAMESPACES = ("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--")


def private_script(script: str, name: str, *args: str) -> list[str]:
    """A fixed shell ``script`` run in private namespaces, every value a positional argument."""
    return [*PRIVATE_NAMESPACES, "sh", "-c", script, name, *args]


def chroot_argv(root: Path, argv: list[str], binds: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """``argv`` run inside ``root`` in private mount and PID namespaces."""
    pairs = [value for source, target in binds for value in (source, target)]
    return private_script(CHROOT_SCRIPT, "fossp-chroot", str(root), *pairs, "--", *argv)


class ChrootConnector(Connector):
    """A root folder on this machine whose commands run chrooted into it.

    :attr:`root` is ``/``: inside the chroot, paths are the root's own, while the facts
    and the planner still treat it as offline (no service runs, none is started).
    """

    root: str

    def __init__(
        self,
        folder: Path,
        name: str | None = None,
        timeouts: Timeouts | None = None,
        binds: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.folder = folder.resolve()
        if not all((self.folder / point).is_dir() for point in MOUNT_POINTS):
            raise HostError(f"{self.folder}: not an OS root (needs {', '.join(MOUNT_POINTS)} folders)")
        self.root = "/"
        self.name = name or f"chroot:{self.folder}"
        self.address = ""
        self.binds = binds
        self.timeouts = timeouts or Timeouts()

    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: BinaryIO | None) -> Result:
        if os.geteuid() != 0:
            raise HostError(f"{self.name}: working in an offline root needs root (chroot, mounts)")
        result = await _run_local(chroot_argv(self.folder, argv, self.binds), stdin, timeout, sink)
        if result is None:
            raise self._timed_out(argv, timeout)
        if result.exit_status == 125 and not result.stdout:
            raise HostError(f"{self.name}: could not enter the root: {result.stderr.strip()[-500:]}")
        return Result(tuple(argv), result.exit_status, result.stdout, result.stderr)

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        """Written inside the root, so ``owner`` names the root's own users."""
        await self.check(["sh", "-c", WRITE_SCRIPT, "fossp-write", path, f"{mode:o}", owner], stdin=data)
