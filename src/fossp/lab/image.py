"""Host roots: one cached Debian base made by debootstrap, one snapshot per host.

The base is pure debootstrap output, so changing how hosts are configured never
needs a rebuild; each snapshot is configured when its host is created. A restore
inside a host swaps its root for one of its snapshots here, at its next start.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from fossp.lab import pool
from fossp.lab.paths import LabPaths
from fossp.lab.system import LabError, require_tools, run

SUITE = "bookworm"
MIRROR = os.environ.get("FOSSP_LAB_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "procps", "btrfs-progs")
BASE_STAMP = f"{SUITE} minbase {','.join(BASE_PACKAGES)}\n"
REPO_MOUNT = "srv/fossp-repo"

#: Units that touch the controller's kernel or hardware, or fail without them.
MASKED_UNITS = (
    "e2scrub_reap.service",
    "e2scrub_all.timer",
    "getty@.service",
    "serial-getty@.service",
    "console-getty.service",
    "systemd-timesyncd.service",
    "systemd-sysctl.service",
    "systemd-modules-load.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-binfmt.service",
    "systemd-remount-fs.service",
    "systemd-hwdb-update.service",
    "systemd-tmpfiles-setup-dev.service",
    "kmod-static-nodes.service",
    "systemd-firstboot.service",
    "systemd-pstore.service",
    "systemd-networkd-wait-online.service",
    "systemd-journald-audit.socket",
    "proc-sys-fs-binfmt_misc.automount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount",
    "dev-hugepages.mount",
    "dev-mqueue.mount",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "fstrim.timer",
)

SSHD_CONFIG = """\
# Written by fossp lab: key-only root login, one host key, fast key exchange.
HostKey /etc/ssh/ssh_host_ed25519_key
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxStartups 100:30:200
"""

#: The kernel log is the controller's: hosts neither write their boot into it nor read it.
SYSTEMD_CONFIG = "[Manager]\nLogTarget=journal\n"
JOURNALD_CONFIG = "[Journal]\nReadKMsg=no\n"

APT_SOURCE = f"deb [trusted=yes] file:/{REPO_MOUNT} ./\n"
APT_CONFIG = 'Acquire::Languages "none";\nAPT::Install-Recommends "false";\n'


def base_is_current(paths: LabPaths) -> bool:
    stamp = paths.base / "etc" / "fossp-lab-base"
    return stamp.exists() and stamp.read_text() == BASE_STAMP


def build_base(paths: LabPaths) -> None:
    """Debootstrap the base once (about a minute); callers hold the lab lock."""
    require_tools("debootstrap")
    building = paths.pool / "base.new"
    pool.delete_subvolume(building)
    pool.create_subvolume(building)
    run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, building, MIRROR],
        f"debootstrap {SUITE} from {MIRROR} into {building}",
        timeout=1800,
    )
    (building / "etc" / "fossp-lab-base").write_text(BASE_STAMP)
    pool.delete_subvolume(paths.base)
    building.rename(paths.base)
    pool.set_readonly(paths.base)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def _mask_units(root: Path) -> None:
    system = root / "etc" / "systemd" / "system"
    system.mkdir(parents=True, exist_ok=True)
    for unit in MASKED_UNITS:
        link = system / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")


def _configure_apt(root: Path) -> None:
    """Only the lab's local repository: hosts have no route to any mirror."""
    apt = root / "etc" / "apt"
    (apt / "sources.list").unlink(missing_ok=True)
    for source in (apt / "sources.list.d").glob("*"):
        source.unlink()
    _write(apt / "sources.list.d" / "fossp-lab.list", APT_SOURCE)
    _write(apt / "apt.conf.d" / "90fossp-lab", APT_CONFIG)
    (root / REPO_MOUNT).mkdir(parents=True, exist_ok=True)


def configure_root(root: Path, name: str, client_key: str) -> str:
    """Make a fresh snapshot into host ``name``; return its SSH host public key."""
    from fossp.lab.keys import make_host_key

    _write(root / "etc" / "hostname", f"{name}\n")
    _write(root / "etc" / "hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n")
    _write(root / "etc" / "machine-id", secrets.token_hex(16) + "\n", 0o444)
    _mask_units(root)
    systemd = root / "etc" / "systemd"
    _write(systemd / "system.conf.d" / "fossp-lab.conf", SYSTEMD_CONFIG)
    _write(systemd / "journald.conf.d" / "fossp-lab.conf", JOURNALD_CONFIG)
    _configure_apt(root)
    _write(root / "etc" / "ssh" / "sshd_config.d" / "fossp-lab.conf", SSHD_CONFIG)
    ssh_dir = root / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(ssh_dir / "authorized_keys", client_key + "\n", 0o600)
    return make_host_key(root, name)


# A restore inside a host cannot switch its root (the pool is the controller's), so it
# leaves the snapshot number here and the controller switches while the host is stopped.
POINTER = Path(".snapshots") / "fossp-next-root"
POINTER_RE = re.compile(r"[0-9]{1,9}\n?")
#: What makes a host itself: a restored root keeps these from the root it replaces.
IDENTITY_FILES = (Path("etc/machine-id"), Path("etc/hostname"), Path("root/.ssh/authorized_keys"))
HOST_KEYS = Path("etc/ssh")


def switch_paths(root: Path) -> tuple[Path, Path, Path]:
    """The new root while built, once complete, and the old root while it is removed.

    A dot first: no host name starts with one, so these never meet a host's root.
    """
    building, ready, old = (root.with_name(f".{root.name}.{stage}") for stage in ("building", "next", "old"))
    return building, ready, old


def remove_root(root: Path) -> None:
    """Delete a host's root with its nested subvolumes and any half-done switch."""
    for path in (*switch_paths(root), root):
        pool.delete_subvolume(path)


def switch_root(root: Path) -> int | None:
    """Finish a switch a crash interrupted, then apply a pending one; return its snapshot.

    Call it with the host stopped. The new root is built under a temporary name and
    only renamed in once complete, so a crash at any step leaves a state this
    function finishes next time (or `remove_root` cleans).
    """
    building, ready, old = switch_paths(root)
    pool.delete_subvolume(building)
    if ready.exists():
        _finish_switch(root, ready, old)
    pool.delete_subvolume(old)
    source = pending_root(root)
    if source is None:
        return None
    pool.snapshot(source, building)
    _copy_identity(root, building)
    building.rename(ready)
    _finish_switch(root, ready, old)
    pool.delete_subvolume(old)
    return int(source.parent.name)


def pending_root(root: Path) -> Path | None:
    """The snapshot a restore asked for, checked; None if none. Changes nothing.

    LabError if the pointer is malformed, names no subvolume of this root, or the
    snapshot has something other than an empty folder where a nested subvolume goes.
    """
    number = pending_snapshot(root)
    if number is None:
        return None
    source = pool.real_path(root, Path(".snapshots", str(number), "snapshot"))
    if not pool.is_subvolume(source):
        raise LabError(f"{root / POINTER} names snapshot {number}, but {source} is not a subvolume; fix or remove it")
    for relative in pool.nested_subvolumes(root):
        _check_placeholder(source, relative)
    return source


def pending_snapshot(root: Path) -> int | None:
    """The number in the host's pointer file, or None; LabError if it is malformed."""
    pointer = pool.real_path(root, POINTER)
    try:
        fd = os.open(pointer, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise LabError(f"{pointer}: cannot read the pending root ({error.strerror}); fix or remove it") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LabError(f"{pointer}: not a regular file; remove it")
        text = handle.read(64).decode("ascii", errors="replace")
    if not POINTER_RE.fullmatch(text):
        raise LabError(f"{pointer}: {text[:20]!r} is not a snapshot number (digits, one line); fix or remove it")
    return int(text)


def _check_placeholder(source: Path, relative: Path) -> None:
    """Where a nested subvolume goes, the snapshot must have nothing or an empty folder."""
    target = source
    for part in relative.parts:
        target = target / part
        if not target.exists() and not target.is_symlink():
            return
        if target.is_symlink() or not target.is_dir():
            raise LabError(f"snapshot {source}: {target.relative_to(source)} is not a folder; cannot put {relative} in")
    if any(target.iterdir()):
        raise LabError(f"snapshot {source}: {relative} is not empty; cannot put the subvolume {relative} there")


def _open_dir(base: Path, relative: Path, create: bool = False) -> int:
    """An fd of the folder ``base / relative``, never following a symlink (``create``: mkdir).

    FileNotFoundError if a part is missing (and not created); LabError if one is no folder.
    """
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in relative.parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
    except FileNotFoundError:
        os.close(fd)
        raise
    except OSError as error:
        os.close(fd)
        raise LabError(f"{base / relative}: not a folder ({error.strerror})") from None
    return fd


def _finish_switch(root: Path, ready: Path, old: Path) -> None:
    """Move the nested subvolumes into the new root, then rename it into place."""
    if root.exists():
        for relative in pool.nested_subvolumes(root):
            _move_subvolume(root, ready, relative)
        _remove_file(ready, POINTER)
        root.rename(old)
    ready.rename(root)


def _move_subvolume(old_root: Path, new_root: Path, relative: Path) -> None:
    """rename(2) moves a subvolume between subvolumes of one pool, replacing its placeholder."""
    source_fd = _open_dir(old_root, relative.parent)
    try:
        target_fd = _open_dir(new_root, relative.parent, create=True)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(relative.name, dir_fd=target_fd)
            os.rename(relative.name, relative.name, src_dir_fd=source_fd, dst_dir_fd=target_fd)
        except OSError as error:
            raise LabError(f"move subvolume {old_root / relative} to {new_root}: {error.strerror}") from None
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)


def _remove_file(root: Path, relative: Path) -> None:
    try:
        parent_fd = _open_dir(root, relative.parent)
    except FileNotFoundError:
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(relative.name, dir_fd=parent_fd)
    except OSError as error:
        raise LabError(f"remove {root / relative}: {error.strerror}") from None
    finally:
        os.close(parent_fd)


def _copy_identity(old_root: Path, new_root: Path) -> None:
    """Host keys, machine id, host name and SSH access carry over into a restored root."""
    for name in _names(new_root, HOST_KEYS):
        if name.startswith("ssh_host_"):
            _remove_file(new_root, HOST_KEYS / name)
    host_keys = [HOST_KEYS / name for name in _names(old_root, HOST_KEYS) if name.startswith("ssh_host_")]
    for relative in (*host_keys, *IDENTITY_FILES):
        _copy_file(old_root, new_root, relative)


def _names(root: Path, relative: Path) -> list[str]:
    try:
        fd = _open_dir(root, relative)
    except FileNotFoundError:
        return []
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def _copy_file(old_root: Path, new_root: Path, relative: Path) -> None:
    """Copy one file the host wrote: neither end's path may lead out of its root."""
    try:
        source_dir = _open_dir(old_root, relative.parent)
    except FileNotFoundError:
        return
    try:
        fd = os.open(relative.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=source_dir)
    except FileNotFoundError:
        return
    except OSError as error:
        raise LabError(f"{old_root / relative}: cannot keep it across the restore ({error.strerror})") from None
    finally:
        os.close(source_dir)
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LabError(f"{old_root / relative}: not a regular file; cannot keep it across the restore")
        data = source.read()
    target_dir = _open_dir(new_root, relative.parent, create=True)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(relative.name, dir_fd=target_dir)
        out = os.open(relative.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=target_dir)
    finally:
        os.close(target_dir)
    with os.fdopen(out, "wb") as target:
        target.write(data)
        os.fchown(out, info.st_uid, info.st_gid)
        os.fchmod(out, stat.S_IMODE(info.st_mode))
