"""Running an OS container FOSSP built, to show its roles work: under podman or
systemd-nspawn, in a lab network namespace with an address of its own, so FOSSP reaches
it over SSH like any host (host key checked: read from the container itself), waits for
its first boot and runs the roles' probes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fossp.errors import BadInput, FosspError

Engine = Literal["podman", "nspawn"]
HOST_KEY = "/etc/ssh/ssh_host_ed25519_key.pub"
FIRSTBOOT_RECORD = "/var/lib/fossp/firstboot/record.json"
#: podman keeps FOSSP's images apart from any other use of podman on the machine.
PODMAN = ["podman", "--root", "/var/lib/fossp/lab/podman", "--runroot", "/run/fossp-podman", "--cgroup-manager"]
PODMAN += ["cgroupfs", "--events-backend", "file", "--log-level", "error"]


@dataclass
class Running:
    """A started container: how to read one of its files, and how to stop it."""

    name: str
    address: str
    read: Callable[[str], str | None]
    stop: Callable[[], None]


def check_engine(engine: str) -> Engine:
    if engine == "podman" and shutil.which("podman"):
        return "podman"
    if engine == "nspawn" and shutil.which("systemd-nspawn"):
        return "nspawn"
    if engine not in ("podman", "nspawn"):
        raise BadInput(f"--engine {engine!r}: podman or nspawn")
    raise BadInput(
        f"--engine {engine}: not installed (apt install {'podman' if engine == 'podman' else 'systemd-container'})"
    )


def _run(argv: list[str], what: str, timeout: float = 600) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise FosspError(f"{what}: exited {result.returncode}: {result.stderr.strip()[-600:]}")
    return result.stdout


@contextmanager
def _network(name: str) -> Iterator[str]:
    """A lab network namespace and address for ``name`` (removed again at the end)."""
    from fossp.lab import network
    from fossp.lab.hosts import list_hosts

    network.ensure_bridge()
    address = network.free_address({h.address for h in list_hosts()})
    network.create_host_network(name, address, network.mac_address(name))
    try:
        yield address
    finally:
        network.remove_host_network(name, address)


def _podman(archive: Path, name: str, netns: Path, address: str) -> Running:
    loaded = _run([*PODMAN, "load", "-q", "-i", str(archive)], f"podman load {archive}", timeout=900)
    image = loaded.strip().splitlines()[-1].split(": ", 1)[-1]
    _run([*PODMAN, "rm", "-f", "--ignore", name], "podman rm")
    argv = [*PODMAN, "run", "-d", "--name", name, "--runtime", "runc", "--systemd", "always"]
    argv += ["--ulimit", "nofile=1024:4096", "--ulimit", "nproc=4096:4096", "--network", f"ns:{netns}", image]
    _run(argv, "podman run")

    def stop() -> None:
        subprocess.run([*PODMAN, "rm", "-f", "-t", "30", name], capture_output=True, timeout=120, check=False)

    def read(path: str) -> str | None:
        result = subprocess.run([*PODMAN, "exec", name, "cat", path], capture_output=True, text=True, timeout=60)
        return result.stdout if result.returncode == 0 else None

    return Running(name, address, read, stop)


def _nspawn(archive: Path, name: str, netns: Path, address: str) -> Running:
    from fossp.build.container import unpack_archive
    from fossp.lab import pool
    from fossp.lab.paths import LabPaths

    root = LabPaths.current().pool / "builds" / f"nspawn-{name}"
    pool.delete_subvolume(root)
    pool.create_subvolume(root)
    unpack_archive(archive, root)
    argv = ["systemd-nspawn", "--register=no", "--keep-unit", "-b", "-q", "-D", str(root), f"--machine={name}"]
    argv += [f"--network-namespace-path={netns}"]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop() -> None:
        process.terminate()  # nspawn powers the container off cleanly
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        pool.delete_subvolume(root)

    def read(path: str) -> str | None:
        try:
            return pool.real_path(root, Path(path.lstrip("/"))).read_text()
        except (OSError, FosspError):
            return None

    return Running(name, address, read, stop)


def _wait(running: Running, timeout: float) -> tuple[str, dict[str, Any]]:
    """The container's SSH host key and its first boot's record, once both are there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        key, record = running.read(HOST_KEY), running.read(FIRSTBOOT_RECORD)
        if key and record:
            try:
                return key, json.loads(record)
            except json.JSONDecodeError:
                pass  # still being written
        time.sleep(2)
    raise FosspError(f"{running.name}: no first-boot record ({FIRSTBOOT_RECORD}) within {timeout:g} s")


def run_container(archive: Path, engine: Engine, name: str, timeout: float, keep: bool) -> dict[str, Any]:
    """Start the archive under ``engine``, wait for its first boot, then probe its roles
    over SSH from here. Stopped and removed at the end unless ``keep``."""
    from fossp.lab.network import netns_path

    with _network(name) as address:
        start = _podman if engine == "podman" else _nspawn
        running = start(archive, name, netns_path(name), address)
        try:
            key, record = _wait(running, timeout)
            status = asyncio.run(_probe(running, key))
        finally:
            if not keep:
                running.stop()
    return {"name": name, "engine": engine, "address": address, "first_boot": record, **status}


async def _probe(running: Running, host_key: str) -> dict[str, Any]:
    """FOSSP's own probes of the roles, over SSH with the container's host key pinned."""
    import tempfile

    from fossp.catalog.status import governed_catalog
    from fossp.engine.status import status_host
    from fossp.hosts.connector import SshConnector
    from fossp.hosts.inventory import HostSpec
    from fossp.lab.paths import LabPaths

    with tempfile.NamedTemporaryFile("w", suffix=".known_hosts") as known:
        known.write(f"{running.address} {' '.join(host_key.split()[:2])}\n")
        known.flush()
        spec = HostSpec(
            name=running.name, address=running.address, key=str(LabPaths.current().key), known_hosts=known.name
        )
        connector = await SshConnector.open(spec)
        try:
            statuses = (await status_host(connector, governed_catalog(), probe=True)).roles
        finally:
            await connector.close()
    roles = [
        {"role": s.role, "state": s.state, "problems": s.problems, "probes": [dataclasses.asdict(p) for p in s.probes]}
        for s in statuses
    ]
    return {"roles": roles, "ok": bool(roles) and all(s.state == "running" for s in statuses)}
