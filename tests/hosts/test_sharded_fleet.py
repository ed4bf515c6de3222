"""A run of many independent hosts spread over worker processes, against a real sshd:
each worker has its own event loop and connections, the results come back in the hosts'
order with their progress, and a worker that dies leaves its hosts failed, named so."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fossp.engine.fleet import SHARD_MIN_HOSTS, run_sharded, worker_count
from fossp.hosts.connector import Connector
from fossp.hosts.inventory import HostSpec

from .conftest import Sshd


async def where(connector: Connector, host: HostSpec, report: Callable[[str], None]) -> tuple[str, int, str]:
    report("asking")
    result = await connector.check(["sh", "-c", 'echo "$SSH_CONNECTION"'])
    return host.name, os.getpid(), result.stdout.strip()


def test_hosts_are_sharded_over_processes_and_come_back_in_order(sshd: Sshd) -> None:
    hosts = [sshd.host(f"h{number}") for number in range(6)]
    news: list[tuple[str, str]] = []
    results = run_sharded(hosts, where, lambda host, message: news.append((host, message)), workers=3)
    assert [r.host for r in results] == [h.name for h in hosts]
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.value[0] for r in results] == [h.name for h in hosts]
    pids = {r.value[1] for r in results}
    assert len(pids) == 3 and os.getpid() not in pids  # three workers, none of them this process
    assert len({r.value[2] for r in results}) == 6  # a connection of its own per host
    assert {host for host, message in news if message == "asking"} == {h.name for h in hosts}


async def dies_on_h1(connector: Connector, host: HostSpec, report: Callable[[str], None]) -> str:
    if host.name == "h1":
        os._exit(3)
    return host.name


def test_a_worker_that_dies_leaves_its_hosts_failed_and_the_others_done(sshd: Sshd) -> None:
    hosts = [sshd.host(f"h{number}") for number in range(4)]
    results = run_sharded(hosts, dies_on_h1, workers=2)  # h0, h2 in one worker; h1, h3 in the other
    assert [r.value for r in results if r.ok] == ["h0", "h2"]
    failed = [r for r in results if not r.ok]
    assert [r.host for r in failed] == ["h1", "h3"]
    assert all("worker process running it ended (exit 3)" in (r.error or "") for r in failed)


@pytest.mark.parametrize(
    ("hosts", "cpus", "setting", "workers"),
    [
        (10, 2, "", 1),
        (SHARD_MIN_HOSTS * 2, 2, "", 2),
        (400, 4, "", 4),
        (200, 4, "", 2),
        (200, 4, "1", 1),
        (3, 8, "8", 3),
    ],
)
def test_worker_count(monkeypatch: pytest.MonkeyPatch, hosts: int, cpus: int, setting: str, workers: int) -> None:
    monkeypatch.setenv("FOSSP_WORKERS", setting)
    assert worker_count(hosts, cpus) == workers


KILLED_RUN = """
import asyncio, os, sys, json
from pathlib import Path
from fossp.engine.fleet import run_sharded
from fossp.hosts.inventory import HostSpec

folder = Path(sys.argv[1])
hosts = [HostSpec.model_validate(json.loads(line)) for line in sys.argv[2:]]

async def stays(connector, host, report):
    (folder / f"{os.getpid()}.pid").write_text("")
    await asyncio.sleep(120)

run_sharded(hosts, stays, workers=2)
"""


def test_workers_die_with_a_killed_run(sshd: Sshd, tmp_path: Path) -> None:
    """kill -9 of the run leaves no worker going on with the hosts behind its back."""
    specs = [sshd.host(f"h{number}").model_dump_json() for number in range(2)]
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path), *specs])
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("*.pid"))) < 2:
            assert run.poll() is None and time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
    finally:
        run.kill()
        run.wait()
    workers = [int(path.stem) for path in tmp_path.glob("*.pid")]
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
