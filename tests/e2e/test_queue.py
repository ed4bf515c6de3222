"""Runs through the task queue (issue 12): two `fossp queue worker` processes on this machine
take the shards of a run on four lab hosts from a real PostgreSQL; every host reports once,
from one worker, the same as a local run; a worker killed mid-run leaves its shard's hosts
failed (not retried), named so, within a bound."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fossp.engine.queue import LOST_AFTER_S
from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import FOSSP, UNUSED_GATE_DB
from tests.gate import pg

from .conftest import fossp_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.postgres,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
    pytest.mark.skipif(not pg.available(), reason="PostgreSQL server binaries missing"),
]
queue_hosts = lab_fixture("qw-a", "qw-b", "qw-c", "qw-d", packages=tuple(role_packages(["nginx"])))


@pytest.fixture(scope="module")
def queue() -> Iterator[str]:
    """A fresh queue database, its tables made by `fossp queue init`."""
    with pg.server() as admin:
        url = pg.fresh_database(admin, "queue")
        assert fossp_json("queue", "init", "--queue", url)["schema_applied"] is True
        yield url


class Workers:
    """`fossp queue worker` processes by name, one shard at a time each, stopped at the end."""

    def __init__(self, queue: str) -> None:
        self.queue, self.started = queue, dict[str, subprocess.Popen[bytes]]()

    def start(self, *names: str) -> None:
        """Start ``names``; return once they are registered (heartbeating) in the queue."""
        env = {**os.environ, "FOSSP_DB": f"sqlite:///{UNUSED_GATE_DB}"}
        for name in names:
            command = [*FOSSP, "queue", "worker", "--queue", self.queue, "--name", name]
            self.started[name] = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        alive = sum(process.poll() is None for process in self.started.values())
        count = "SELECT count(*) FROM procrastinate_workers"
        _until(lambda: _one(self.queue, count) == alive, 60, f"{alive} worker(s) registered")

    def stop(self) -> None:
        for process in self.started.values():
            process.send_signal(signal.SIGTERM)
        for process in self.started.values():
            process.wait(timeout=60)


@pytest.fixture
def workers(queue: str) -> Iterator[Workers]:
    made = Workers(queue)
    try:
        yield made
    finally:
        made.stop()


def _one(url: str, query: str) -> Any:
    import psycopg

    with psycopg.connect(url) as connection:
        row = connection.execute(query).fetchone()
        return row[0] if row else None


def _reports(url: str, since: float = 0) -> list[tuple[str, str, bool, float]]:
    """(host, worker, ok, when) of every result stored since ``since`` (a time.time())."""
    import psycopg

    query = "SELECT host, worker, ok, extract(epoch FROM reported_at) FROM fossp_queue.results"
    with psycopg.connect(url) as connection:
        rows = connection.execute(query + " WHERE reported_at >= to_timestamp(%s)", (since,))
        return [(host, worker, ok, float(when)) for host, worker, ok, when in rows]


def _until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.2)


def _targets(hosts: list[LabHost]) -> list[str]:
    return [arg for host in hosts for arg in ("-t", f"lab:{host.name}")]


def test_a_plan_through_the_queue_is_the_local_plan_with_each_host_from_one_worker(
    queue_hosts: list[LabHost], queue: str, workers: Workers
) -> None:
    workers.start("w1", "w2")
    targets = _targets(queue_hosts)
    queued = fossp_json("plan", "nginx", *targets, "--queue", queue, "--shard-size", "2")
    assert queued == fossp_json("plan", "nginx", *targets)
    reports = _reports(queue)
    assert sorted(report[0] for report in reports) == sorted(f"lab:{h.name}" for h in queue_hosts)  # each once
    assert {report[1] for report in reports} <= {"w1", "w2"}  # which takes which shard is the queue's choice
    assert all(report[2] for report in reports)


def test_a_worker_killed_mid_deploy_leaves_its_shards_hosts_failed_and_the_others_deployed(
    queue_hosts: list[LabHost], queue: str, workers: Workers
) -> None:
    import json

    started = time.time()
    command = [*FOSSP, "deploy", "nginx", *_targets(queue_hosts), "--queue", queue, "--shard-size", "2", "--json"]
    env = {**os.environ, "FOSSP_DB": f"sqlite:///{UNUSED_GATE_DB}", "NO_COLOR": "1"}
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    busy = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
    workers.start("w1")  # alone: it takes the first shard ...
    _until(lambda: _one(queue, busy) == 1, 120, "w1 took a shard")
    workers.start("w2")  # ... and w2, once there, the other
    _until(lambda: _one(queue, busy) == 2, 120, "w2 took the other shard")
    workers.started["w1"].kill()
    killed = time.time()
    out, err = run.communicate(timeout=900)
    ended = time.time()
    hosts = {h["host"]: h for h in json.loads(out)["hosts"]}
    assert run.returncode == 1, err
    lost = [name for name, h in hosts.items() if not h["ok"]]
    assert len(lost) == 2, hosts
    for name in lost:
        assert "stopped sending heartbeats" in hosts[name]["error"]["message"]
    reported = _reports(queue, started)
    assert sorted(report[0] for report in reported) == sorted(set(hosts) - set(lost))
    assert {report[1] for report in reported} == {"w2"}
    for host in queue_hosts:
        if f"lab:{host.name}" not in lost:
            assert ssh(host, "systemctl", "is-active", "nginx").stdout.strip() == "active"
    # bounded: the run ends soon after the later of w1 found silent and w2's shard reported
    assert ended - max(killed + LOST_AFTER_S, *(report[3] for report in reported)) < 20
