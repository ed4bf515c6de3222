"""A throwaway sshd on 127.0.0.1 with its own host key, client key and known_hosts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fossp.hosts.inventory import HostSpec

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    port: int
    folder: Path
    key: Path
    known_hosts: Path

    def host(self, name: str = "loop", **changes: object) -> HostSpec:
        values: dict[str, object] = {
            "name": name,
            "address": "127.0.0.1",
            "port": self.port,
            "key": str(self.key),
            "known_hosts": str(self.known_hosts),
        }
        return HostSpec.model_validate({**values, **changes})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not start on port {port}")


def start_sshd(folder: Path) -> tuple[Sshd, subprocess.Popen[bytes]]:
    folder.mkdir(parents=True, exist_ok=True)
    host_key = keygen(folder / "host_key")
    (folder / "authorized_keys").write_text(keygen(folder / "client_key") + "\n")
    port = free_port()
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nKexAlgorithms curve25519-sha256\nMaxStartups 200\nMaxSessions 50\n"
    )
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")], stderr=subprocess.DEVNULL)
    _wait(port, process)
    return Sshd(port, folder, folder / "client_key", folder / "known_hosts"), process


def sshd_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "a throwaway sshd needs root"
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        return "openssh-server missing: run scripts/setup.d/engine.sh"
    return None


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    reason = sshd_unavailable()
    if reason:
        pytest.skip(reason)
    server, process = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    process.terminate()
    process.wait(timeout=10)
