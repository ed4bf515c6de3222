"""Lab hosts: disposable local machines with systemd as PID 1, their own address and sshd.

A host is a BTRFS snapshot of the cached base, booted in new PID, mount, UTS and IPC
namespaces inside its own network namespace. Its record (JSON in the lab's hosts
folder) says how to reach it; whether it runs is always read from /proc, never
remembered.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, model_validator

from fossp.errors import BadInput
from fossp.lab import image, keys, limits, network, pool, repo
from fossp.lab.boot import CONTAINER
from fossp.lab.cgroups import host_cgroups, remove_cgroup
from fossp.lab.paths import LabPaths, validate_name, validate_names
from fossp.lab.system import LabError, require_root, require_tools, run, tail

Report = Callable[[str], None]
BOOT_TIMEOUT = float(os.environ.get("FOSSP_LAB_BOOT_TIMEOUT", "120"))
#: How long a host's systemd may take to stop its units before its PID 1 is killed.
STOP_TIMEOUT = float(os.environ.get("FOSSP_LAB_STOP_TIMEOUT", "10"))
#: systemd's documented signal for "start poweroff.target": no D-Bus or SSH needed.
POWEROFF_SIGNAL = signal.SIGRTMIN + 4
TARGET_PREFIX = "lab:"

#: Launchers (watchers) this process started, polled when their host stops so none stays a zombie.
_launchers: dict[str, subprocess.Popen[bytes]] = {}


class LabHost(BaseModel):
    """How to reach one lab host; ``running`` and ``ssh`` are live, the rest is its record."""

    name: str
    address: str
    ssh_user: str = "root"
    key_path: Path
    known_hosts_path: Path
    root_path: Path
    log_path: Path
    netns: str
    veth: str
    mac: str
    host_key: str
    #: Records written before the rename say "created".
    created_at: datetime = Field(validation_alias=AliasChoices("created_at", "created"))
    pid: int | None = None
    pid_start: int | None = None
    cgroups: list[Path] = []
    running: bool = False
    ssh: bool = False

    @model_validator(mode="before")
    @classmethod
    def _fixed_mac(cls, data: Any) -> Any:
        """Records written before hosts had a fixed MAC get the one their name gives."""
        if isinstance(data, dict) and not data.get("mac") and isinstance(data.get("name"), str):
            return {**data, "mac": network.mac_address(data["name"])}
        return data

    @property
    def target(self) -> str:
        return f"{TARGET_PREFIX}{self.name}"

    def ssh_command(self, *command: str) -> list[str]:
        """An ssh argv running ``command`` on the host (arguments are quoted for its shell)."""
        destination = f"{self.ssh_user}@{self.address}"
        argv = keys.ssh_argv(self.key_path, self.known_hosts_path, destination)
        return [*argv, "--", shlex.join(command)] if command else argv


def _noop(_: str) -> None:
    """Default progress reporter: library callers need no output."""


def _record_path(paths: LabPaths, name: str) -> Path:
    return paths.host_dir(name) / "host.json"


def _save(paths: LabPaths, host: LabHost) -> None:
    record = host.model_dump(mode="json", exclude={"running", "ssh"})
    target = _record_path(paths, host.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    temporary.rename(target)


def _load(paths: LabPaths, name: str) -> LabHost | None:
    record = _record_path(paths, name)
    try:
        return LabHost.model_validate_json(record.read_text())
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise LabError(f"{record}: not a lab host record ({error}); remove it by hand") from None


def _start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid``: with the pid it identifies a process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(host: LabHost) -> bool:
    return host.pid is not None and _start_time(host.pid) == host.pid_start


def _port_open(address: str, port: int = 22, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _live(host: LabHost) -> LabHost:
    running = _alive(host)
    return host.model_copy(update={"running": running, "ssh": running and _port_open(host.address)})


def _refresh_known_hosts(paths: LabPaths) -> None:
    entries = [(h.address, h.host_key) for h in _records(paths)]
    keys.write_known_hosts(paths, entries)


def _records(paths: LabPaths) -> list[LabHost]:
    if not paths.hosts.is_dir():
        return []
    found = (_load(paths, entry.name) for entry in sorted(paths.hosts.iterdir()))
    return [host for host in found if host is not None]


def _running_count(paths: LabPaths) -> int:
    return sum(1 for host in _records(paths) if _alive(host))


def _wait_gone(host: LabHost, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _alive(host) and time.monotonic() < deadline:
        time.sleep(0.02)


def _knows_it_is_a_container(pid: int) -> bool:
    """Whether PID 1 has ``container=fossp-lab``: only then does systemd shut down as a container.

    One started by an older FOSSP would take the bare-metal path, through the
    controller's devices: such a host is killed instead.
    """
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"container={CONTAINER}".encode() in environment


def _stop(host: LabHost, timeout: float = 0) -> None:
    """End the host's PID namespace: power off cleanly within ``timeout``, else SIGKILL its PID 1."""
    if _alive(host) and host.pid is not None and timeout > 0 and _knows_it_is_a_container(host.pid):
        os.kill(host.pid, POWEROFF_SIGNAL)
        _wait_gone(host, timeout)
    if _alive(host) and host.pid is not None:
        os.kill(host.pid, signal.SIGKILL)
        _wait_gone(host, 15)
    launcher = _launchers.pop(host.name, None)
    if launcher is not None:
        # Not wait(): after a reboot the watcher may be waiting for the lab lock we hold.
        # An unfinished Popen that is dropped is reaped by the next subprocess call.
        launcher.poll()
    for cgroup in host.cgroups:
        try:
            remove_cgroup(cgroup)
        except OSError as error:
            raise LabError(f"lab host {host.name}: remove cgroup {cgroup}: {error}") from error


def _new_host(paths: LabPaths, name: str, source: Path | None = None) -> LabHost:
    """Snapshot the base (or a built root, ``source``) into a fresh root and give it an
    address and keys."""
    root = paths.host_root(name)
    image.remove_root(root)
    if source is None:
        pool.snapshot(paths.base, root)
    elif source.is_file():
        from fossp.build.container import unpack_archive

        pool.create_subvolume(root)
        unpack_archive(source, root)
    else:
        pool.snapshot_tree(source, root)
    host_key = image.configure_root(root, name, keys.client_public_key(paths))
    address = network.free_address({h.address for h in _records(paths) if h.name != name})
    return LabHost(
        name=name,
        address=address,
        key_path=paths.key,
        known_hosts_path=paths.known_hosts,
        root_path=root,
        log_path=paths.host_dir(name) / "console.log",
        netns=network.netns_name(name),
        veth=network.veth_name(address),
        mac=network.mac_address(name),
        host_key=host_key,
        created_at=datetime.now(UTC),
    )


def _launch(paths: LabPaths, host: LabHost) -> LabHost:
    """Start the host's PID 1 detached, and record which process it is."""
    cgroups = host_cgroups(host.name)
    for cgroup in cgroups:
        remove_cgroup(cgroup)
    host.log_path.parent.mkdir(parents=True, exist_ok=True)
    host.log_path.write_text("")
    paths.suites.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "fossp.lab.boot",
        "--root",
        str(host.root_path),
        "--hostname",
        host.name,
        "--netns",
        str(network.netns_path(host.name)),
        "--repo",
        str(paths.repo),
        "--suites",
        str(paths.suites),
        "--console",
        str(host.log_path),
        *[arg for cgroup in cgroups for arg in ("--cgroup", str(cgroup))],
    ]
    with open(host.log_path, "ab") as log:
        launcher = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    _launchers[host.name] = launcher
    pid = _pid_1_of(launcher, host)
    return host.model_copy(update={"pid": pid, "pid_start": _start_time(pid), "cgroups": cgroups})


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _pid_1_of(launcher: subprocess.Popen[bytes], host: LabHost) -> int:
    """The watcher runs unshare, whose --fork child is the host's PID 1; wait until it exists."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if launcher.poll() is not None:
            raise LabError(f"lab host {host.name}: failed to start:\n{tail(host.log_path)}")
        found = [pid for child in _children(launcher.pid) for pid in _children(child)]
        if found:
            return found[0]
        time.sleep(0.02)
    raise LabError(f"lab host {host.name}: PID 1 did not appear within 10 s")


def _journal_tail(host: LabHost) -> str:
    """The end of a host's journal (entered with nsenter), to say why a boot went wrong."""
    if not _alive(host) or host.pid is None:
        return tail(host.log_path)
    argv = [
        "nsenter",
        "-t",
        str(host.pid),
        "-a",
        "-r",
        "-w",
        "journalctl",
        "-b",
        "-q",
        "--no-pager",
        "-n",
        "15",
        "-p",
        "warning",
    ]
    journal = run(argv, f"read the journal of {host.name}", check=False, timeout=30)
    return (journal.stdout + journal.stderr).strip() or "(empty)"


def _wait_for_ssh(host: LabHost, timeout: float = BOOT_TIMEOUT) -> None:
    """Return once sshd accepts the lab key with a verified host key; else say why."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if not _alive(host):
            raise LabError(
                f"lab host {host.name}: PID 1 exited during boot; log {host.log_path}:\n{tail(host.log_path)}"
            )
        if _port_open(host.address):
            probe = run(host.ssh_command("true"), f"ssh to {host.name}", check=False, timeout=30)
            if probe.returncode == 0:
                return
            last_error = probe.stderr.strip()
        time.sleep(0.5)
    raise LabError(
        f"lab host {host.name}: sshd on {host.address} did not answer within {timeout:.0f} s "
        f"({last_error or 'port 22 closed'}; {limits.describe(_running_count(LabPaths.current()))}; "
        f"inspect it, then `fossp lab down {host.name}`); its journal:\n{_journal_tail(host)}"
    )


def prepare(
    paths: LabPaths,
    packages: list[str] | None = None,
    roles: list[str] | None = None,
    report: Report = _noop,
    hosts: int = 1,
) -> dict[str, list[str]]:
    """Everything hosts share: pool, key, base image and local repository (all cached),
    and the kernel limits for ``hosts`` more running hosts.

    The repository holds the default roles' packages plus ``packages`` and those of
    ``roles``; returns what it was asked to hold.
    """
    repo.validate_packages(list(packages or []))
    if roles:
        repo.role_packages(list(roles))
    require_root()
    require_tools("ip", "nsenter", "unshare", "ssh", "ssh-keygen", "btrfs")
    limits.raise_limits(_running_count(paths) + hosts, report)
    with paths.lock():
        pool.ensure_pool(paths)
        keys.ensure_client_key(paths)
        if not image.base_is_current(paths):
            report("building the base image with debootstrap (once, about a minute)")
            image.build_base(paths)
        wanted_roles = [*repo.DEFAULT_ROLES, *(roles or [])]
        return repo.ensure_repo(paths, list(packages or []), wanted_roles, report)


def _switch_root(host: LabHost, report: Report) -> None:
    """Apply a restore's pending root (or finish an interrupted switch); the host is stopped."""
    number = image.switch_root(host.root_path)
    if number is not None:
        report(f"{host.name}: root switched to snapshot {number}")


def _start(paths: LabPaths, host: LabHost) -> LabHost:
    """Start a stopped host with its record's address, MAC and keys; the caller holds the lock."""
    _save(paths, host)
    _refresh_known_hosts(paths)
    network.create_host_network(host.name, host.address, host.mac)
    host = _launch(paths, host)
    _save(paths, host)
    return host


def _bring_up(paths: LabPaths, name: str, report: Report, source: Path | None = None) -> LabHost:
    """Start host ``name``, reusing its root if it has one (a stopped host keeps its state)."""
    with paths.lock():
        host = _load(paths, name)
        if host is not None and _alive(host):
            report(f"{name} already runs; left as it is")
            return host
        if host is not None:
            _stop(host)
            _switch_root(host, report)
        if host is None or not pool.is_subvolume(host.root_path):
            host = _new_host(paths, name, source)
        return _start(paths, host)


def start_after_reboot(name: str) -> None:
    """Start host ``name`` again after `systemctl reboot` inside it (the watcher calls this).

    Unless `up`, `restart` or `down` got there first: then the record names a live
    PID 1, or none.
    """
    paths = LabPaths.current()
    with paths.lock():
        host = _load(paths, name)
        if host is None or _alive(host):
            return
        _stop(host)
        _switch_root(host, _noop)
        _start(paths, host)


def up(
    names: list[str],
    packages: list[str] | None = None,
    roles: list[str] | None = None,
    report: Report = _noop,
    source: Path | None = None,
) -> list[LabHost]:
    """Bring up lab hosts (concurrently); a host that already runs is left as it is.

    ``packages`` and the Debian packages of catalog ``roles`` are added to the local
    repository first (the default roles' packages are always there). A new host's root
    is a snapshot of ``source`` (a root folder in the lab pool, e.g. from `fossp build`)
    when given, else of the Debian base.
    """
    names = validate_names(names)
    if not names:
        raise BadInput("fossp lab up: name at least one host")
    paths = LabPaths.current()
    if source is not None and not source.is_file() and not pool.is_subvolume(source):
        raise BadInput(f"--from {source}: neither an image archive nor a BTRFS subvolume in the lab pool")
    prepare(paths, packages, roles, report, hosts=len(names))
    started = [_bring_up(paths, name, report, source) for name in names]
    report(f"waiting for sshd on {', '.join(names)}")
    with ThreadPoolExecutor(max_workers=len(started)) as executor:
        list(executor.map(_wait_for_ssh, started))
    return [_live(host) for host in started]


def _leftovers(paths: LabPaths, name: str) -> bool:
    """A root left by a killed `up` that wrote no record yet (or by an interrupted switch)."""
    root = paths.host_root(name)
    return any(path.exists() for path in (root, *image.switch_paths(root)))


def restart(names: list[str], report: Report = _noop) -> list[LabHost]:
    """Restart lab hosts like servers: a clean power-off, then the same root and identity.

    A restore's pending root (``/.snapshots/fossp-next-root``) is switched in while
    the host is stopped. Returns the hosts once sshd answers.
    """
    names = validate_names(names)
    if not names:
        raise BadInput("fossp lab restart: name at least one host")
    paths = LabPaths.current()
    missing = [name for name in names if _load(paths, name) is None]
    if missing:
        raise BadInput(f"unknown lab host(s): {', '.join(missing)} (see `fossp lab list`)")
    require_root()
    with paths.lock():
        pool.ensure_pool(paths)
        hosts = [host for host in (_load(paths, name) for name in names) if host is not None]
        # A bad pending root is refused while the hosts still run, before any stops.
        for host in hosts:
            image.pending_root(host.root_path)
        started = []
        for host in hosts:
            report(f"stopping {host.name}")
            _stop(host, STOP_TIMEOUT)
            _switch_root(host, report)
            started.append(_start(paths, host))
    report(f"waiting for sshd on {', '.join(names)}")
    with ThreadPoolExecutor(max_workers=len(started)) as executor:
        list(executor.map(_wait_for_ssh, started))
    return [_live(host) for host in started]


def down(names: list[str]) -> list[str]:
    """Stop lab hosts and delete their roots, network and records; return the names."""
    names = validate_names(names)
    paths = LabPaths.current()
    unknown = [n for n in names if _load(paths, n) is None and not _leftovers(paths, n)]
    if unknown:
        raise BadInput(f"unknown lab host(s): {', '.join(unknown)} (see `fossp lab list`)")
    require_root()
    with paths.lock():
        if paths.pool_image.exists():
            pool.ensure_pool(paths)
        for name in names:
            host = _load(paths, name)
            if host is not None:
                _stop(host)
            network.remove_host_network(name, host.address if host else None)
            image.remove_root(paths.host_root(name))
            shutil.rmtree(paths.host_dir(name), ignore_errors=True)
        _refresh_known_hosts(paths)
    return names


def list_hosts() -> list[LabHost]:
    """All lab hosts with their live state (is PID 1 alive, does sshd answer)."""
    paths = LabPaths.current()
    records = _records(paths)
    with ThreadPoolExecutor(max_workers=max(1, len(records))) as executor:
        return list(executor.map(_live, records))


def get(name: str) -> LabHost:
    """One lab host with its live state; BadInput if there is none of that name."""
    return _live(resolve_target(TARGET_PREFIX + name))


def resolve_target(target: str) -> LabHost:
    """Turn a ``--target lab:NAME`` value into the lab host it names: its record only, with
    no probe of whether it runs (the run's SSH connection finds that out for all the
    targets at once, so naming 200 lab hosts costs no 200 probes one after another)."""
    if not target.startswith(TARGET_PREFIX):
        raise BadInput(f"target {target!r}: a lab target looks like lab:NAME")
    name = target[len(TARGET_PREFIX) :]
    host = _load(LabPaths.current(), validate_name(name))
    if host is None:
        raise BadInput(f"unknown lab host {name!r} (see `fossp lab list`)")
    return host
