"""Boot a whole-disk image under qemu and reach it over SSH with a verified host key.

The image is never changed (``snapshot=on``), the guest reaches no network but one
forwarded loopback port (``restrict=on``), and a NoCloud seed (a FAT image made with
mtools) gives it its host name and root's key. The guest prints its SSH host key on the
serial console (FOSSP's host-key unit); it becomes the only line of a private known_hosts,
so every SSH connection to the VM checks the key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from fossp.errors import BadInput, FosspError
from fossp.hosts.inventory import HostSpec

HOST_KEY_LINE = re.compile(r"fossp-host-key: (ssh-ed25519 [A-Za-z0-9+/=]+)")
SEED_KIB = 2048
OVMF = Path("/usr/share/ovmf/OVMF.fd")
POLL_SECONDS = 1.0
SSH_TRY_SECONDS = 30


class BootError(FosspError):
    """The VM did not start or did not answer over SSH in time (the console tail says why)."""

    code = "boot_failed"


def seed_texts(hostname: str, public_key: str) -> dict[str, str]:
    """NoCloud meta-data and user-data: the host name, and root's key."""
    instance = f"fossp-{hostname}-{int(time.time())}"
    user_data = "#cloud-config\n" + json.dumps(
        {"hostname": hostname, "disable_root": False, "ssh_authorized_keys": [public_key]}
    )
    meta_data = json.dumps({"instance-id": instance, "local-hostname": hostname})
    return {"meta-data": meta_data + "\n", "user-data": user_data + "\n"}


def seed_argvs(seed: Path, files: list[Path]) -> list[list[str]]:
    """A FAT image labelled CIDATA (cloud-init's NoCloud finds it by the label)."""
    return [
        ["mkfs.fat", "-C", "-n", "CIDATA", str(seed), str(SEED_KIB)],
        ["mcopy", "-i", str(seed), *(str(f) for f in files), "::/"],
    ]


def _qemu_value(path: Path) -> str:
    """A path inside a qemu option: commas are doubled."""
    return str(path).replace(",", ",,")


def qemu_argv(
    image: Path,
    fmt: str,
    seed: Path,
    console: Path,
    port: int,
    memory: int,
    firmware: str = "bios",
    address: str = "127.0.0.1",
    forwards: tuple[str, ...] = (),
) -> list[str]:
    """TCG (KVM is not usable on this machine kind), the image read-only behind a snapshot.
    SSH is forwarded from ``address``:``port``; each of ``forwards`` ("80/tcp") from the
    same port of ``address``, so probes of the roles' ports reach the guest."""
    ports = [f"hostfwd=tcp:{address}:{port}-:22"]
    ports += [f"hostfwd={p.split('/')[1]}:{address}:{p.split('/')[0]}-:{p.split('/')[0]}" for p in forwards]
    return [
        "qemu-system-x86_64",
        *(["-bios", str(OVMF)] if firmware == "uefi" else []),
        *("-nodefaults", "-no-user-config", "-machine", "q35", "-accel", "tcg,thread=multi"),
        *("-cpu", "max", "-smp", "2", "-m", str(memory), "-display", "none"),
        *("-serial", f"file:{_qemu_value(console)}"),
        *("-drive", f"file={_qemu_value(image)},format={fmt},if=virtio,snapshot=on"),
        *("-drive", f"file={_qemu_value(seed)},format=raw,if=virtio,readonly=on"),
        *("-netdev", ",".join(["user,id=n0,restrict=on", *ports])),
        *("-device", "virtio-net-pci,netdev=n0"),
    ]


def ssh_argv(key: Path, known_hosts: Path, port: int, command: list[str], address: str = "127.0.0.1") -> list[str]:
    """ssh to the VM, its host key checked against the private known_hosts only."""
    import shlex

    options = [
        *("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"),
        *("-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10"),
    ]
    return ["ssh", *options, "-i", str(key), "-p", str(port), f"root@{address}", "--", shlex.join(command)]


def host_key(console_text: str) -> str | None:
    """The last host key the guest printed (a later boot may print a new one)."""
    found = HOST_KEY_LINE.findall(console_text)
    return found[-1] if found else None


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def loopback_for(forwards: tuple[str, ...]) -> str:
    """A loopback address of its own (all of 127/8 is this machine) where the roles' ports
    are free, so a guest's 80 or 5432 never meets the controller's own services."""
    import random

    for _ in range(50):
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        try:
            for forward in forwards:
                number, protocol = forward.split("/")
                kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.bind((address, int(number)))
        except OSError:
            continue
        return address
    raise BootError("no loopback address with the roles' ports free")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console output)"


@dataclass
class Vm:
    """A running VM: how to reach it, and stop() to end it."""

    process: subprocess.Popen[bytes]
    image: Path
    port: int
    key: Path
    workdir: Path
    hostname: str
    address: str = "127.0.0.1"
    started: float = 0.0
    seconds_to_ssh: float = 0.0
    seconds_to_ready: float = 0.0
    system_state: str = ""
    keep: bool = False
    _stopped: bool = field(default=False, repr=False)

    @property
    def console(self) -> Path:
        return self.workdir / "console.log"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    def host_spec(self) -> HostSpec:
        """The VM as FOSSP's inventory names a host: SSH on the forwarded port, key verified."""
        return HostSpec(
            name=self.hostname,
            address=self.address,
            port=self.port,
            key=str(self.key),
            known_hosts=str(self.known_hosts),
        )

    def ssh(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``command`` as root on the VM (never raises on its exit status)."""
        argv = ssh_argv(self.key, self.known_hosts, self.port, list(command), self.address)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def stop(self) -> None:
        """Kill qemu (the image is untouched: writes went to its snapshot) and remove the seed."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Vm:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _image_format(image: Path) -> str:
    """qemu-img's own answer, so a qcow2 named .img is still read as qcow2."""
    try:
        result = subprocess.run(
            ["qemu-img", "info", "--output=json", str(image)], capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise BadInput("qemu-img not found; install qemu-utils (scripts/setup.d/build.sh)") from None
    if result.returncode != 0:
        raise BadInput(f"{image}: not a disk image qemu can read ({result.stderr.strip()[-200:]})")
    fmt = str(json.loads(result.stdout).get("format", ""))
    if fmt not in ("raw", "qcow2"):
        raise BadInput(f"{image}: a {fmt or 'unknown'} image; FOSSP boots raw or qcow2")
    if fmt == "raw" and not _has_gpt(image):
        raise BadInput(f"{image}: not a disk image (no GPT partition table)")
    return fmt


def _has_gpt(image: Path) -> bool:
    """Any file is a "raw" image to qemu-img: FOSSP's disks have a GPT header at sector 1."""
    with open(image, "rb") as handle:
        handle.seek(512)
        return handle.read(8) == b"EFI PART"


def public_key_of(private_key: Path) -> str:
    """The public half of ``private_key`` (ssh-keygen -y): proves it is a usable key."""
    if not private_key.is_file():
        raise BadInput(f"SSH key {private_key}: no such file")
    result = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(private_key)], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0 or not result.stdout.startswith(("ssh-", "ecdsa-", "sk-")):
        raise BadInput(f"SSH key {private_key}: not a private key without a passphrase")
    return result.stdout.strip()


def _make_seed(workdir: Path, hostname: str, public_key: str) -> Path:
    files = []
    for name, text in seed_texts(hostname, public_key).items():
        (workdir / name).write_text(text)
        files.append(workdir / name)
    seed = workdir / "seed.img"
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    for argv in seed_argvs(seed, files):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
        if result.returncode != 0:
            raise BootError(f"make the NoCloud seed: `{argv[0]}` failed: {result.stderr.strip()[-200:]}")
    return seed


def check_boot_inputs(
    image: Path, ssh_private_key: Path, port: int | None, memory: int, firmware: str = "bios"
) -> tuple[str, str]:
    """Refuse bad input before qemu starts; returns the image format and the public key."""
    if firmware not in ("bios", "uefi"):
        raise BadInput(f"firmware {firmware!r}: use bios or uefi")
    if firmware == "uefi" and not OVMF.is_file():
        raise BadInput(f"{OVMF} not found; install ovmf (scripts/setup.d/build.sh)")
    if not image.is_file():
        raise BadInput(f"{image}: no such image file")
    if port is not None and not 1024 <= port <= 65535:
        raise BadInput(f"port {port}: use 1024-65535")
    if memory < 256:
        raise BadInput(f"memory {memory} MiB: at least 256")
    if shutil.which("qemu-system-x86_64") is None:
        raise BadInput("qemu-system-x86_64 not found; install qemu-system-x86 (scripts/setup.d/build.sh)")
    return _image_format(image), public_key_of(ssh_private_key)


def boot_image(
    image: Path,
    ssh_private_key: Path,
    port: int | None = None,
    timeout: float = 900,
    memory: int = 1024,
    hostname: str = "fossp-vm",
    keep: bool = False,
    firmware: str = "bios",
    forwards: tuple[str, ...] = (),
) -> Vm:
    """Start qemu on ``image`` and return once root logs in over SSH with a verified host key.

    ``keep`` leaves the work folder (console log, seed, known_hosts) after stop().
    BootError, with the console's tail, if qemu dies or SSH does not answer in ``timeout``.
    """
    fmt, public_key = check_boot_inputs(image, ssh_private_key, port, memory, firmware)
    workdir = Path(tempfile.mkdtemp(prefix="fossp-vm-"))
    try:
        seed = _make_seed(workdir, hostname, public_key)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    address = loopback_for(forwards) if forwards else "127.0.0.1"
    port = port or free_port(address)
    argv = qemu_argv(image.resolve(), fmt, seed, workdir / "console.log", port, memory, firmware, address, forwards)
    with open(workdir / "qemu.log", "wb") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    key = ssh_private_key.resolve()
    vm = Vm(process, image.resolve(), port, key, workdir, hostname, address, started=time.monotonic(), keep=keep)
    try:
        _wait_for_ssh(vm, timeout)
    except BaseException:
        vm.keep = False
        vm.stop()
        raise
    return vm


def _wait_for_startup(vm: Vm, deadline: float) -> None:
    """Until systemd's start-up (cloud-init's last stage too) is over: it may restart sshd."""
    remaining = max(1.0, deadline - time.monotonic())
    result = vm.ssh("systemctl", "is-system-running", "--wait", timeout=remaining)
    vm.system_state = result.stdout.strip() or f"unknown ({result.stderr.strip()[-200:]})"
    vm.seconds_to_ready = round(time.monotonic() - vm.started, 1)


def _wait_for_ssh(vm: Vm, timeout: float) -> None:
    """Poll the console for the host key, then SSH until root gets in."""
    deadline = vm.started + timeout
    while time.monotonic() < deadline:
        if vm.process.poll() is not None:
            qemu_log = _tail(vm.workdir / "qemu.log", 5)
            raise BootError(f"qemu exited {vm.process.returncode}: {qemu_log}\nconsole:\n{_tail(vm.console)}")
        key = host_key(vm.console.read_text(errors="replace")) if vm.console.exists() else None
        if key is not None:
            vm.known_hosts.write_text(f"[{vm.address}]:{vm.port} {key}\n")
            remaining = max(1.0, min(SSH_TRY_SECONDS, deadline - time.monotonic()))
            if vm.ssh("true", timeout=remaining).returncode == 0:
                vm.seconds_to_ssh = round(time.monotonic() - vm.started, 1)
                _wait_for_startup(vm, deadline)
                return
        time.sleep(POLL_SECONDS)
    raise BootError(f"no SSH login to the VM within {timeout:g} s; console:\n{_tail(vm.console)}")
