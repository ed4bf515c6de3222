"""Host roots: one cached Debian base made by debootstrap, one snapshot per host.

The base is pure debootstrap output, so changing how hosts are configured never
needs a rebuild; each snapshot is configured when its host is created.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fossp.lab import pool
from fossp.lab.paths import LabPaths
from fossp.lab.system import require_tools, run

SUITE = "bookworm"
MIRROR = os.environ.get("FOSSP_LAB_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "procps", "btrfs-progs")
BASE_STAMP = f"{SUITE} minbase {','.join(BASE_PACKAGES)}\n"
REPO_MOUNT = "srv/fossp-repo"

#: Units that touch the controller's kernel or hardware, or fail without them.
MASKED_UNITS = (
    "systemd-logind.service",
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
