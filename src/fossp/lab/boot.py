"""The launcher of a lab host: ``python -m fossp.lab.boot`` watches it, ``... --init`` is its PID 1.

`fossp lab up` starts the watcher, which runs ``unshare --pid --fork --mount --uts
--ipc`` with itself and ``--init``, so that process is PID 1 of the host. PID 1
enters the host's netns, moves itself into the host's own cgroups (two hosts'
systemd must not manage the same cgroup tree; its devices cgroup allows only its
own devices), mounts what systemd needs inside the root (its own /dev, the cgroup
trees read-only but for its own folders), pivots into it, drops the capabilities a
host must not have, refuses the pool-wide BTRFS ioctls with seccomp, then becomes
systemd. When that systemd reboots, the watcher starts the host again as `fossp lab
restart` would. Until then it needs no third-party code: the mounts are `mount`
commands, the rest plain system calls.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

from fossp.lab.cgroups import CGROUP_ROOT, enter_cgroups

#: PID 1's ``container=``: systemd then knows it runs in a container (it writes this to
#: /run/systemd/container) and shuts down the container way, not through devices.
CONTAINER = "fossp-lab"

#: The character devices of a host's own /dev (name, major, minor): none of the
#: controller's disks, loop devices, kvm or consoles.
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = {
    "ptmx": "pts/ptmx",
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
}

#: Capabilities a lab host must not have (numbers from linux/capability.h): loading
#: kernel modules, raw I/O, setting the machine's clock, making device nodes (the way
#: back to the controller's disks) and open_by_handle_at (DAC_READ_SEARCH), which opens
#: any file of the pool, other hosts' roots included. CAP_SYS_ADMIN stays: hosts make
#: BTRFS snapshots. CAP_SYS_BOOT stays: in a PID namespace reboot(2) only ends that
#: namespace, and systemd's shutdown uses it to tell reboot (SIGHUP) from power-off.
DROPPED_CAPABILITIES = {
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_TIME": 25,
    "CAP_MKNOD": 27,
}

#: BTRFS ioctls that act on the whole pool (linux/btrfs.h): SET_DEFAULT switches the
#: pool's default subvolume (snapper rollback --ambit classic does it), SNAP_DESTROY_V2
#: deletes any subvolume by its ID (other hosts' roots, the base). Deleting by path
#: (v1) stays. A seccomp filter refuses the two with EPERM.
REFUSED_IOCTLS = {"BTRFS_IOC_SET_DEFAULT": 0x40089413, "BTRFS_IOC_SNAP_DESTROY_V2": 0x5000943F}

#: Per machine: pivot_root's and ioctl's system call numbers and the seccomp audit arch.
SYSCALLS = {"x86_64": (155, 16, 0xC000003E), "aarch64": (41, 29, 0xC00000B7)}
CLONE_NEWNET = 0x40000000
MNT_DETACH = 2
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
# BPF: load a 32-bit word, jump if equal, return.
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _enter_netns(netns: Path) -> None:
    """Only PID 1's tree joins the host's netns: once it is gone, nothing holds the netns."""
    fd = os.open(netns, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"enter {netns}")
    finally:
        os.close(fd)


def _make_dev(dev: Path, console: Path) -> None:
    """A /dev of the host's own, instead of the controller's: safe devices, its own PTYs."""
    _mount("-t", "tmpfs", "-o", "mode=755,nosuid,size=4m", "tmpfs", str(dev))
    for name, major, minor in DEVICES:
        os.mknod(dev / name, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(dev / name, 0o666)
    for name, target in DEV_LINKS.items():
        (dev / name).symlink_to(target)
    (dev / "pts").mkdir()
    # A new devpts instance: the host's PTYs (sshd needs them) are not the controller's.
    _mount("-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620,gid=5", "devpts", str(dev / "pts"))
    (dev / "shm").mkdir()
    _mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", str(dev / "shm"))
    # Nothing in the host may write to the controller's console: give it the host's log.
    (dev / "console").touch()
    _mount("--bind", str(console), str(dev / "console"))


def _mount_cgroups(root: Path, cgroups: list[Path]) -> None:
    """The controller's cgroup trees, read-only but for the host's own folders in them.

    An rbind, not a fresh mount: systemd finds its (non-root) cgroup via /proc/self/cgroup,
    so the whole tree must be there; read-only, so nothing in a host writes to the
    controller's or other hosts' cgroups by mistake.
    """
    inside = root / "sys/fs/cgroup"
    _mount("--rbind", str(CGROUP_ROOT), str(inside))
    with open("/proc/self/mountinfo") as mountinfo:
        hierarchies = [fields[4] for fields in map(str.split, mountinfo) if fields[4].startswith(f"{inside}/")]
    for cgroup in cgroups:
        own = str(root / cgroup.relative_to("/"))
        _mount("--bind", own, own)
    for hierarchy in hierarchies:
        _mount("-o", "remount,bind,ro", hierarchy)


def _mount_filesystems(root: Path, repo: Path, suites: Path | None, console: Path, cgroups: list[Path]) -> None:
    """The mounts systemd needs, private to this host's mount namespace."""
    _mount("--make-rprivate", "/")
    # The root must be a mount point, or systemd cannot make / shared for its services.
    _mount("--bind", str(root), str(root))
    _mount("-t", "proc", "proc", str(root / "proc"))
    _mount("-t", "sysfs", "-o", "ro", "sysfs", str(root / "sys"))
    _mount_cgroups(root, cgroups)
    for tmp in ("run", "tmp"):
        _mount("-t", "tmpfs", "-o", "mode=1777" if tmp == "tmp" else "mode=755", "tmpfs", str(root / tmp))
    # Its own boot id, so `journalctl -b` and `--list-boots` see the host's boots.
    boot_id = root / "run" / "fossp-lab" / "boot_id"
    boot_id.parent.mkdir()
    boot_id.write_text(f"{uuid.uuid4()}\n")
    _mount("--bind", "-o", "ro", str(boot_id), str(root / "proc/sys/kernel/random/boot_id"))
    _make_dev(root / "dev", console)
    _mount("--bind", "-o", "ro", str(repo), str(root / "srv/fossp-repo"))
    if suites is not None:
        # Other releases' packages (upgrades), each in its own flat repository.
        (root / "srv/fossp-suites").mkdir(exist_ok=True)
        _mount("--bind", "-o", "ro", str(suites), str(root / "srv/fossp-suites"))


def _syscalls() -> tuple[int, int, int]:
    machine = os.uname().machine
    if machine not in SYSCALLS:
        raise SystemExit(f"fossp.lab.boot: system call numbers on {machine} are unknown")
    return SYSCALLS[machine]


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _refuse_pool_ioctls() -> None:
    """Install a seccomp filter: every process of the host gets EPERM for REFUSED_IOCTLS.

    It reads struct seccomp_data: nr at 0, arch at 4, the low half of args[1] (ioctl's
    request, an unsigned int for the kernel) at 24. Another arch's calls (32-bit
    programs) are not filtered.
    """
    _, ioctl, arch = _syscalls()
    refused = list(REFUSED_IOCTLS.values())
    allow, deny = len(refused) + 5, len(refused) + 6
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),
        (BPF_JEQ_K, 0, allow - 2, arch),
        (BPF_LD_W_ABS, 0, 0, 0),
        (BPF_JEQ_K, 0, allow - 4, ioctl),
        (BPF_LD_W_ABS, 0, 0, 24),
        *[(BPF_JEQ_K, deny - 6 - index, 0, request) for index, request in enumerate(refused)],
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM),
    ]
    filters = (_SockFilter * len(program))(*[_SockFilter(*instruction) for instruction in program])
    fprog = _SockFprog(len(program), filters)
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "install the seccomp filter")


def _pivot_root(root: Path) -> None:
    """Make ``root`` the namespace's root and detach the controller's mount tree.

    chroot would keep every controller mount in the namespace (and a way out of the
    root); after pivot_root(".", ".") the old root sits on top of the new one at "."
    and a lazy unmount removes it.
    """
    os.chdir(root)
    _check(_libc.syscall(_syscalls()[0], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the controller's mounts")
    os.chdir("/")


def _drop_capabilities() -> None:
    """Drop them from the bounding set: systemd and everything it starts can never regain them."""
    for name, number in DROPPED_CAPABILITIES.items():
        _check(_libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0), f"drop {name}")


def _watch(hostname: str) -> int:
    """Run the host's PID 1 in new namespaces; after a reboot inside, start the host again.

    In a PID namespace reboot(2) ends the namespace's init: with SIGHUP for a reboot,
    SIGINT for a power-off (unshare passes the signal on). A server comes back after
    a reboot, so a lab host does, through the controller's start (pending root included).
    """
    namespaces = ["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--"]
    status = subprocess.run([*namespaces, sys.executable, "-m", "fossp.lab.boot", "--init", *sys.argv[1:]]).returncode
    if status != -signal.SIGHUP:
        return 128 - status if status < 0 else status
    from fossp.lab.hosts import start_after_reboot

    start_after_reboot(hostname)
    return 0


def _init(args: argparse.Namespace) -> None:
    if os.getpid() != 1:
        raise SystemExit("fossp.lab.boot --init must run as PID 1 of a new PID namespace")
    _enter_netns(args.netns)
    enter_cgroups(args.cgroup)
    socket.sethostname(args.hostname)
    _mount_filesystems(args.root, args.repo, args.suites, args.console, args.cgroup)
    _pivot_root(args.root)
    _drop_capabilities()
    _refuse_pool_ioctls()
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "container": CONTAINER}
    os.execve("/lib/systemd/systemd", ["/lib/systemd/systemd", "--system"], environment)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--init", action="store_true", help="be PID 1 of the host (the watcher passes it)")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--netns", type=Path, required=True)
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--suites", type=Path, default=None)
    parser.add_argument("--console", type=Path, required=True)
    parser.add_argument("--cgroup", type=Path, action="append", default=[])
    args = parser.parse_args()
    if args.init:
        _init(args)
    sys.exit(_watch(args.hostname))


if __name__ == "__main__":
    main()
