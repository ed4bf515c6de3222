"""Whole-disk images from a root folder: GPT, BTRFS subvolumes, GRUB by UUID (issue 10).

The disk is assembled by hand (mkosi 14 fails on this machine kind): sfdisk on a file,
mkfs.btrfs on its loop partition, the root copied into ``@`` (the default subvolume) with
each data subvolume nested where FOSSP's snapshot code expects it, an ESP filled with
mtools (no vfat mount), and FOSSP's own grub.cfg naming the root by UUID (update-grub
would write the build machine's loop device). Every argv and text is built by a pure
function here; the mounts live in a private mount namespace that dies with its script.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from fossp.build.common import LOOP_RECORD, scratch
from fossp.errors import BadInput, FosspError
from fossp.hosts.chroot import ChrootConnector, private_script
from fossp.lab.system import require_tools

#: What a root needs to boot on a disk, from the lab's flat repository.
BOOT_PACKAGES = (
    "linux-image-amd64",
    "initramfs-tools",
    "udev",
    "zstd",
    "btrfs-progs",
    "systemd-sysv",
    "openssh-server",
    "cloud-init",
)
#: Where ChrootConnector binds the lab repository inside the root (read-only).
REPO_TARGET = "/srv/fossp-repo"
#: Build scaffolding inside the root: apt's source list and lists, removed after.
APT_WORK = "/var/tmp/fossp-build-apt"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
APT_TIMEOUT = 1800.0

#: FOSSP's host-key unit (shared with every built root); it prints the key on the console,
#: where `fossp image boot` reads it to check the host key of the first login.
HOSTKEYS_UNIT = resources.files("fossp").joinpath("data", "build", "fossp-ssh-hostkeys.service").read_text()
NETWORK_FILE = "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n"
#: cloud-init: NoCloud first (a seed's hostname and key), root keeps its key, FOSSP's
#: network. No ssh_pwauth: setting it restarts sshd in the middle of the first boot; C.UTF-8
#: needs no locale generation (slow under TCG, and it fails without the locales package).
CLOUD_CONFIG = """\
# Written by FOSSP: the image's first boot.
datasource_list: [NoCloud, ConfigDrive, None]
network: {config: disabled}
users: []
disable_root: false
ssh_deletekeys: true
ssh_genkeytypes: [ed25519]
preserve_hostname: false
locale: C.UTF-8
"""
BOOT_FILES = {
    "/etc/systemd/system/fossp-ssh-hostkeys.service": HOSTKEYS_UNIT,
    "/etc/systemd/network/80-fossp-dhcp.network": NETWORK_FILE,
    "/etc/cloud/cloud.cfg.d/90-fossp.cfg": CLOUD_CONFIG,
}
BOOT_UNITS = ("fossp-ssh-hostkeys.service", "systemd-networkd.service")


def apt_argv(*command: str) -> list[str]:
    """apt-get inside the root, reading only the lab repository through the build's own lists."""
    return [
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "-q",
        "-y",
        "-o",
        f"Dir::Etc::SourceList={APT_WORK}/sources.list",
        "-o",
        f"Dir::Etc::SourceParts={APT_WORK}/parts",
        "-o",
        f"Dir::State::Lists={APT_WORK}/lists",
        "-o",
        "APT::Install-Recommends=false",
        "-o",
        "Acquire::Languages=none",
        *command,
    ]


async def install_boot_layer(connector: ChrootConnector, packages: tuple[str, ...] = BOOT_PACKAGES) -> None:
    """Install the kernel, initramfs, GRUB's modules, sshd and cloud-init into the root.

    The connector must bind the lab repository at :data:`REPO_TARGET`. A policy-rc.d
    keeps maintainer scripts from starting daemons on the build machine; it and apt's
    build lists are removed even when the install fails, the root's own sources stay.
    """
    await connector.write_file(POLICY_RC_D, b"#!/bin/sh\nexit 101\n", 0o755)
    try:
        await connector.check(["mkdir", "-p", f"{APT_WORK}/parts", f"{APT_WORK}/lists/partial"])
        await connector.write_file(f"{APT_WORK}/sources.list", f"deb [trusted=yes] file:{REPO_TARGET} ./\n".encode())
        await connector.check(apt_argv("update"), timeout=APT_TIMEOUT)
        await connector.check(apt_argv("install", *packages), timeout=APT_TIMEOUT)
        await connector.check(apt_argv("clean"), timeout=APT_TIMEOUT)
        for path, text in BOOT_FILES.items():
            await connector.write_file(path, text.encode())
        await connector.check(["systemctl", "enable", *BOOT_UNITS])
    finally:
        await connector.run(["rm", "-rf", APT_WORK, POLICY_RC_D])


# --- the disk ---------------------------------------------------------------------------

MIB = 1024**2
BIOS_BOOT_TYPE = "21686148-6449-6E6F-744E-656564454649"
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#: The x86-64 root type of the Discoverable Partitions Specification.
ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
ESP_MIB = 100
#: GPT, the BIOS boot partition and the ESP come first; BTRFS needs room for metadata.
FIXED_MIB = 2 + ESP_MIB + 1
BTRFS_OVERHEAD_MIB = 256
ROOT_GROWTH = 1.3
TOP_SUBVOLUMES = ("@", "@home", "@snapshots")
#: Built into GRUB's images, so the disk needs no module folder (and none to keep current).
GRUB_MODULES = (
    *("part_gpt", "btrfs", "search", "search_fs_uuid", "normal", "linux", "configfile"),
    *("echo", "test", "serial", "terminal", "gzio", "zstd"),
)
BIOS_MODULES = ("biosdisk", *GRUB_MODULES)
EFI_MODULES = ("fat", "all_video", "efi_gop", *GRUB_MODULES)
BIOS_GRUB_DIR = Path("/usr/lib/grub/i386-pc")
#: Folders copied into their own subvolume or mounted over: never into ``@``.
NOT_IN_ROOT = ("home", ".snapshots")
STEP_TIMEOUT = 1800.0

Format = Literal["raw", "qcow2"]
Progress = Callable[[str, float], None]


def sfdisk_script() -> str:
    """GPT: a BIOS boot partition for GRUB's core, an ESP, and the rest for BTRFS."""
    return (
        "label: gpt\n"
        f"start=1MiB, size=1MiB, type={BIOS_BOOT_TYPE}, name=bios\n"
        f"start=2MiB, size={ESP_MIB}MiB, type={ESP_TYPE}, name=ESP\n"
        f"start={2 + ESP_MIB}MiB, type={ROOT_TYPE}, name=root\n"
    )


def fstab_text(fs_uuid: str) -> str:
    """``/`` without ``subvol=``: the default subvolume is the root, so a restore's set-default works."""
    return (
        "# Written by FOSSP: one BTRFS file system, by UUID.\n"
        f"UUID={fs_uuid} / btrfs defaults 0 0\n"
        f"UUID={fs_uuid} /home btrfs subvol=/@home 0 0\n"
        f"UUID={fs_uuid} /.snapshots btrfs subvol=/@snapshots 0 0\n"
    )


def kernel_command_line(fs_uuid: str) -> str:
    """ttyS0 last, so /dev/console (and the host key line) goes to the serial port."""
    return f"root=UUID={fs_uuid} ro console=tty0 console=ttyS0,115200"


def grub_cfg(fs_uuid: str, kernel: str, initrd: str) -> str:
    """GRUB finds the file system by UUID; paths are from the top level, so through ``/@``."""
    return (
        "# Written by FOSSP (not update-grub): the root by UUID, never a device name.\n"
        "set timeout=1\n"
        "set default=0\n"
        "serial --unit=0 --speed=115200\n"
        "terminal_input serial console\n"
        "terminal_output serial console\n"
        f"search --no-floppy --fs-uuid --set=root {fs_uuid}\n"
        "menuentry 'FOSSP' {\n"
        f"  linux /@{kernel} {kernel_command_line(fs_uuid)}\n"
        f"  initrd /@{initrd}\n"
        "}\n"
    )


def embedded_cfg(fs_uuid: str) -> str:
    """The config inside GRUB's BIOS and UEFI images: find the BTRFS root, read its grub.cfg."""
    return (
        f"search --no-floppy --fs-uuid --set=root {fs_uuid}\n"
        "set prefix=($root)/@/boot/grub\n"
        "configfile $prefix/grub.cfg\n"
    )


def minimum_size(root_bytes: int) -> int:
    """The smallest disk a root of ``root_bytes`` fits, in bytes (whole MiB)."""
    root_mib = math.ceil(root_bytes * ROOT_GROWTH / MIB)
    return (FIXED_MIB + BTRFS_OVERHEAD_MIB + root_mib) * MIB


def check_size(size_bytes: int, root_bytes: int) -> None:
    """Refuse before any work a disk the root cannot fit, naming the minimum."""
    needed = minimum_size(root_bytes)
    if size_bytes < needed:
        raise BadInput(
            f"disk size {size_bytes / 1024**3:.2f} GiB is too small: the root ({root_bytes / MIB:.0f} MiB) "
            f"needs a disk of at least {math.ceil(needed / 1024**3 * 10) / 10:.1f} GiB ({needed // MIB} MiB)"
        )


def data_subvolume_paths(paths: list[str]) -> list[str]:
    """Absolute, normal paths below ``/``, parents first; never in /home or /.snapshots."""
    checked = []
    for path in paths:
        pure = PurePosixPath(path)
        if not pure.is_absolute() or str(pure) != path or ".." in pure.parts or len(pure.parts) < 2:
            raise BadInput(f"data subvolume {path!r}: not an absolute, normal path below /")
        if pure.parts[1] in NOT_IN_ROOT:
            raise BadInput(f"data subvolume {path!r}: /{pure.parts[1]} is a subvolume of its own")
        checked.append(path)
    return sorted(dict.fromkeys(checked), key=lambda p: (len(PurePosixPath(p).parts), p))


def boot_files(root: Path) -> tuple[str, str]:
    """The kernel and initrd GRUB loads: Debian's relative top-level links, kept current by
    the kernel's own postinst, else the newest versioned files."""
    links = (root / "vmlinuz", root / "initrd.img")
    if all(link.is_symlink() and not os.readlink(link).startswith("/") for link in links):
        return "/vmlinuz", "/initrd.img"
    kernels = sorted((root / "boot").glob("vmlinuz-*"), key=lambda p: _version_key(p.name))
    if not kernels:
        raise BadInput(f"{root}: no kernel in /boot (install the boot layer first)")
    version = kernels[-1].name.removeprefix("vmlinuz-")
    if not (root / "boot" / f"initrd.img-{version}").exists():
        raise BadInput(f"{root}: no /boot/initrd.img-{version} for its kernel")
    return f"/boot/vmlinuz-{version}", f"/boot/initrd.img-{version}"


def _version_key(name: str) -> list[int]:
    return [int(part) for part in re.findall(r"\d+", name)]


def hosts_text(hostname: str) -> str:
    return f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


#: $1 the BTRFS loop device, $2 its mount point, $3 the source root, $4 staged files, $5
#: the disk file, $6 GRUB's device map; then the data subvolumes, parents first. Runs in
#: its own mount and PID namespaces: a failure or a kill leaves no mount behind.
ASSEMBLE_SCRIPT = r"""
set -eu
P=$1 T=$2 S=$3 G=$4 D=$5 MAP=$6; shift 6
mount -o subvolid=5 "$P" "$T"
for v in @ @home @snapshots; do btrfs subvolume create "$T/$v" >/dev/null; done
for p in "$@"; do mkdir -p "$T/@${p%/*}"; btrfs subvolume create "$T/@$p" >/dev/null; done
cd "$S"
find . -mindepth 1 -maxdepth 1 ! -name home ! -name .snapshots -print0 | xargs -0r cp -a -t "$T/@/"
mkdir -p -m 0755 "$T/@/home"
mkdir -p -m 0750 "$T/@/.snapshots"
if [ -d "$S/home" ]; then cp -a "$S/home/." "$T/@home/"; fi
tar -C "$G" -cf - . | tar -C "$T/@" -xpf - --no-overwrite-dir
: > "$T/@/etc/machine-id"
if [ ! -L "$T/@/var/lib/dbus/machine-id" ]; then rm -f "$T/@/var/lib/dbus/machine-id"; fi
rm -f "$T/@/etc/ssh/"ssh_host_*
btrfs subvolume set-default "$T/@"
/usr/lib/grub/i386-pc/grub-bios-setup --skip-fs-probe --device-map="$MAP" --directory="$T/@/boot/grub/i386-pc" "$D"
btrfs filesystem sync "$T"
cd /
umount "$T"
"""


def assemble_argv(
    device: str, mount_point: Path, root: Path, staged: Path, disk: Path, device_map: Path, subvolumes: list[str]
) -> list[str]:
    """The fixed script in private mount and PID namespaces; every value a positional argument."""
    paths = [str(mount_point), str(root), str(staged), str(disk), str(device_map)]
    return private_script(ASSEMBLE_SCRIPT, "fossp-assemble", device, *paths, *subvolumes)


def device_map_text(disk: Path, device: str) -> str:
    """GRUB's names for the disk file and the loop device its -d folder is on (no partition
    nodes here: this kernel may not read GPT, so the BTRFS partition is an offset loop)."""
    return f"(hd0) {disk}\n(hd1) {device}\n"


def bios_mkimage_argv(output: Path, config: Path) -> list[str]:
    """core.img for the BIOS boot partition, its config built in."""
    return ["grub-mkimage", "-O", "i386-pc", "-d", str(BIOS_GRUB_DIR), "-o", str(output), "-p", "/@/boot/grub",
            "-c", str(config), *BIOS_MODULES]  # fmt: skip


def efi_mkimage_argv(output: Path, config: Path) -> list[str]:
    return ["grub-mkimage", "-O", "x86_64-efi", "-o", str(output), "-p", "/EFI/BOOT", "-c", str(config),
            *EFI_MODULES]  # fmt: skip


def esp_argvs(esp: Path, loader: Path) -> list[list[str]]:
    """A FAT ESP image made with mtools, never mounted (this kernel may have no vfat)."""
    return [
        ["mkfs.fat", "-C", "-F", "32", "-n", "ESP", str(esp), str(ESP_MIB * 1024)],
        ["mmd", "-i", str(esp), "::/EFI", "::/EFI/BOOT"],
        ["mcopy", "-i", str(esp), str(loader), "::/EFI/BOOT/BOOTX64.EFI"],
    ]


def losetup_argv(disk: Path, start: int, size: int) -> list[str]:
    """The BTRFS partition alone as a loop device, by its byte offset and size."""
    return ["losetup", "--find", "--show", "--offset", str(start), "--sizelimit", str(size), str(disk)]


def qcow2_argv(raw: Path, output: Path) -> list[str]:
    return ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(output)]


@dataclass
class _Steps:
    """Times each build step and reports it (name, seconds) when it ends."""

    progress: Progress
    done: list[dict[str, Any]] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        yield
        seconds = round(time.monotonic() - began, 1)
        self.done.append({"step": name, "seconds": seconds})
        self.progress(name, seconds)


class BuildError(FosspError):
    """A build step failed on this machine (a tool's error, a device that did not appear)."""

    code = "build_failed"


def _run(
    argv: Sequence[str | Path],
    what: str,
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (never through a shell) within ``timeout``; BuildError naming ``what``."""
    args = [str(arg) for arg in argv]
    try:
        result = subprocess.run(
            args, input=stdin, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: `{args[0]}` did not finish within {timeout:g} s") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-500:] or f"exit {result.returncode}"
        raise BuildError(f"{what}: `{' '.join(args)[:300]}` failed: {detail}")
    return result


def _quiet(_name: str, _seconds: float) -> None:
    """Default progress: library callers need no output."""


def root_bytes(root: Path) -> int:
    """What the root occupies (nested subvolumes included), for the size check."""
    return int(_run(["du", "-s", "-B1", root], f"measure {root}", timeout=STEP_TIMEOUT).stdout.split()[0])


def _check_inputs(root: Path, output: Path, fmt: str, hostname: str, key: str | None, force: bool) -> None:
    """Everything that can be refused before a long step starts."""
    check_request(output, fmt, hostname, key, force)
    if not (root / "etc" / "os-release").exists():
        raise BadInput(f"{root}: not an OS root folder (no etc/os-release)")


def check_request(output: Path, fmt: str, hostname: str, key: str | None, force: bool) -> None:
    """What an image build can refuse before even its root is made: tools, options, output."""
    require_tools("sfdisk", "losetup", "mkfs.btrfs", "btrfs", "grub-mkimage", "mkfs.fat", "mmd", "mcopy", "unshare")
    if not (BIOS_GRUB_DIR / "boot.img").exists():
        raise BadInput(f"{BIOS_GRUB_DIR}: no GRUB for BIOS here; install grub-pc-bin (scripts/setup.d/build.sh)")
    if fmt not in ("raw", "qcow2"):
        raise BadInput(f"image format {fmt!r}: use raw or qcow2")
    if fmt == "qcow2":
        require_tools("qemu-img")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", hostname):
        raise BadInput(f"host name {hostname!r}: use lower-case letters, digits and '-' (at most 63)")
    if key is not None and (len(key.splitlines()) != 1 or not key.startswith(("ssh-", "ecdsa-", "sk-"))):
        raise BadInput("SSH public key: not one OpenSSH public key line")
    if not output.parent.is_dir() or not os.access(output.parent, os.W_OK):
        raise BadInput(f"{output}: its folder does not exist or is not writable")
    if output.exists() and not force:
        raise BadInput(f"{output} exists; remove it or build with force")


def check_data_folders(root: Path, subvolumes: list[str]) -> None:
    """A data subvolume goes where the root has a folder (or nothing), never through a link."""
    for path in subvolumes:
        current = root
        for part in PurePosixPath(path).parts[1:]:
            current = current / part
            if current.is_symlink() or (current.exists() and not current.is_dir()):
                raise BadInput(f"data subvolume {path}: {current} in the root is a link or a file, not a folder")


def _stage(stage: Path, fs_uuid: str, boot: tuple[str, str], hostname: str, key: str | None) -> None:
    """Files the image gets on top of the root (GRUB's BIOS images too), with the modes new
    folders must have."""
    files = {
        "etc/fstab": (fstab_text(fs_uuid), 0o644),
        "etc/hostname": (f"{hostname}\n", 0o644),
        "etc/hosts": (hosts_text(hostname), 0o644),
        "boot/grub/grub.cfg": (grub_cfg(fs_uuid, *boot), 0o644),
    }
    if key is not None:
        files["root/.ssh/authorized_keys"] = (key + "\n", 0o600)
    stage.chmod(0o755)
    folders = [("etc", 0o755), ("boot", 0o755), ("boot/grub", 0o755), ("boot/grub/i386-pc", 0o755), ("root", 0o700)]
    for folder, mode in [*folders, *([("root/.ssh", 0o700)] if key is not None else [])]:
        (stage / folder).mkdir(mode=mode)
    for relative, (text, mode) in files.items():
        (stage / relative).write_text(text)
        (stage / relative).chmod(mode)
    grub = stage / "boot/grub/i386-pc"
    (stage.parent / "embedded.cfg").write_text(embedded_cfg(fs_uuid))
    _run(bios_mkimage_argv(grub / "core.img", stage.parent / "embedded.cfg"), "make GRUB's BIOS core image")
    shutil.copy(BIOS_GRUB_DIR / "boot.img", grub / "boot.img")


def _root_extent(disk: Path) -> tuple[int, int]:
    """Byte offset and size of the BTRFS partition, from the table sfdisk wrote."""
    table = json.loads(_run(["sfdisk", "--json", disk], f"read the partitions of {disk}").stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    last = table["partitions"][-1]
    return int(last["start"]) * sector, int(last["size"]) * sector


def _write_esp(work: Path, disk: Path, fs_uuid: str) -> None:
    """The UEFI loader in a FAT image made with mtools, then copied to the ESP's place."""
    (work / "embedded.cfg").write_text(embedded_cfg(fs_uuid))
    loader, esp = work / "BOOTX64.EFI", work / "esp.img"
    _run(efi_mkimage_argv(loader, work / "embedded.cfg"), "make the UEFI loader")
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    for argv in esp_argvs(esp, loader):
        _run(argv, "make the ESP", env=env)
    with open(esp, "rb") as source, open(disk, "r+b") as target:
        target.seek(2 * MIB)
        shutil.copyfileobj(source, target, MIB)


def assemble_disk(
    root: Path,
    output: Path,
    size_bytes: int,
    fmt: Format = "raw",
    data_subvolumes: list[str] | None = None,
    hostname: str = "fossp",
    ssh_public_key: str | None = None,
    progress: Progress = _quiet,
    force: bool = False,
) -> dict[str, Any]:
    """A bootable GPT disk (BIOS and UEFI) from ``root``, which is left unchanged.

    Written to ``OUTPUT.fossp-partial`` and renamed at the end; the loop device, the
    mounts and every partial file are gone when it returns or raises.
    """
    root, output = root.resolve(), output.absolute()
    _check_inputs(root, output, fmt, hostname, ssh_public_key, force)
    subvolumes = data_subvolume_paths(list(data_subvolumes or []))
    check_data_folders(root, subvolumes)
    boot = boot_files(root)
    steps = _Steps(progress)
    with steps.step("check size"):
        check_size(size_bytes, root_bytes(root))
    partial = output.with_name(output.name + ".fossp-partial")
    raw = partial.with_name(partial.name + ".raw") if fmt == "qcow2" else partial
    fs_uuid = str(uuid.uuid4())
    with scratch("disk") as work:
        device = None
        try:
            with steps.step("partition"):
                raw.unlink(missing_ok=True)
                _run(["truncate", "-s", str(size_bytes), raw], f"create {raw}")
                _run(["sfdisk", "-q", raw], f"partition {raw}", stdin=sfdisk_script())
                _write_esp(work, raw, fs_uuid)
            with steps.step("file system"):
                device = _run(losetup_argv(raw, *_root_extent(raw)), f"attach {raw}").stdout.strip()
                (work / LOOP_RECORD).write_text(f"{device} {raw}\n")  # for the next build, if this one is killed
                _run(["mkfs.btrfs", "-q", "-L", "fossp", "-U", fs_uuid, device], "make the BTRFS file system")
            with steps.step("copy the root"):
                staged, mount_point, device_map = work / "stage", work / "top", work / "device.map"
                staged.mkdir()
                mount_point.mkdir()
                _stage(staged, fs_uuid, boot, hostname, ssh_public_key)
                device_map.write_text(device_map_text(raw, device))
                argv = assemble_argv(device, mount_point, root, staged, raw, device_map, subvolumes)
                _run(argv, "copy the root into the image and install GRUB", timeout=STEP_TIMEOUT)
            _run(["losetup", "-d", device], f"detach {device}")
            device = None
            if fmt == "qcow2":
                with steps.step("convert to qcow2"):
                    _run(qcow2_argv(raw, partial), "convert to qcow2", timeout=STEP_TIMEOUT)
                    raw.unlink()
            partial.rename(output)
        finally:
            if device is not None:
                _run(["losetup", "-d", device], f"detach {device}", check=False)
            raw.unlink(missing_ok=True)
            partial.unlink(missing_ok=True)
    return {
        "output": str(output),
        "format": fmt,
        "size_bytes": size_bytes,
        "fs_uuid": fs_uuid,
        "firmware": ["bios", "uefi"],
        "partitions": ["bios", "ESP", "root"],
        "subvolumes": [*TOP_SUBVOLUMES, *(f"@{path}" for path in subvolumes)],
        "default_subvolume": "@",
        "data_subvolumes": subvolumes,
        "kernel": boot[0],
        "hostname": hostname,
        "disk_steps": steps.done,
    }
