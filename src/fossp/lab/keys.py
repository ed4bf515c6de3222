"""SSH trust for the lab: one client key FOSSP manages, one host key per lab host.

Clients verify host keys strictly against the lab's known_hosts file, which is
rewritten from the host records so it never keeps the key of a removed host.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from fossp.lab.paths import LabPaths
from fossp.lab.system import require_tools, run


def ensure_client_key(paths: LabPaths) -> Path:
    """Make the lab's ed25519 key pair once (private key 0600); return the private key path."""
    if not paths.key.exists():
        require_tools("ssh-keygen")
        paths.root.mkdir(parents=True, exist_ok=True)
        run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fossp-lab", "-f", paths.key],
            "make the lab SSH key",
        )
    os.chmod(paths.key, 0o600)
    return paths.key


def client_public_key(paths: LabPaths) -> str:
    return paths.key.with_name(paths.key.name + ".pub").read_text().strip()


def make_host_key(root: Path, comment: str) -> str:
    """Give a host its own sshd key (snapshots would otherwise share the base's); return it."""
    ssh_dir = root / "etc" / "ssh"
    for old in ssh_dir.glob("ssh_host_*"):
        old.unlink()
    key = ssh_dir / "ssh_host_ed25519_key"
    run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key], f"make the SSH host key of {comment}"
    )
    return " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])


def write_known_hosts(paths: LabPaths, entries: Iterable[tuple[str, str]]) -> None:
    """Replace the known_hosts file atomically with ``(address, "type base64")`` entries."""
    text = "".join(f"{address} {host_key}\n" for address, host_key in sorted(entries))
    temporary = paths.known_hosts.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.rename(paths.known_hosts)


def ssh_argv(key: Path, known_hosts: Path, destination: str, *, batch: bool = True) -> list[str]:
    """The ssh command line that reaches a lab host with strict host key checking."""
    argv = [
        "ssh",
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "LogLevel=ERROR",
    ]
    if batch:
        argv += ["-o", "BatchMode=yes"]
    return [*argv, destination]
