"""The run worker: a run goes on, and is recorded whole, whatever its client does."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fossp.errors import BadInput
from fossp.gate.db import open_database
from fossp.web.runs import Progress, Run, RunStore, Worker, launch


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(open_database(f"sqlite:///{tmp_path / 'gate.db'}"))


@pytest.fixture
def worker() -> Any:
    running = Worker()
    yield running
    running.stop()


def _ended(store: RunStore, run_id: int) -> Run:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = store.get(run_id)
        if run.ended:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def test_a_run_goes_on_and_is_recorded_when_its_client_disconnects(signed_in: Any, web_app: FastAPI) -> None:
    released = threading.Event()

    async def job(progress: Progress) -> tuple[bool, dict[str, Any]]:
        progress("db1", "installing packages")
        while not released.is_set():  # the client goes away meanwhile
            await asyncio.sleep(0.05)
        progress("db1", "probe sql-query")
        return True, {"hosts": [{"host": "db1", "ok": True}]}

    runs: RunStore = web_app.state.runs
    run_id = launch(runs, web_app.state.worker, "deploy", "ada", ["db1"], "profile site", job)
    api: TestClient = signed_in()
    with api.stream("GET", f"/api/v1/runs/{run_id}/events") as stream:
        first = next(stream.iter_lines(), "")
        while not first.startswith("id:"):
            first = next(stream.iter_lines())
    # the stream is closed: the run must not notice
    assert runs.get(run_id).state == "running"
    released.set()
    run = _ended(runs, run_id)
    assert run.state == "ok" and run.result == {"hosts": [{"host": "db1", "ok": True}]} and run.ended_at
    assert [(e.host, e.message) for e in runs.events(run_id)] == [
        ("db1", "installing packages"),
        ("db1", "probe sql-query"),
    ]
    history = api.get("/api/v1/runs").json()["runs"]
    assert [(r["id"], r["state"], r["subject"]) for r in history] == [(run_id, "ok", "profile site")]


def test_a_run_that_fails_or_breaks_says_how(store: RunStore, worker: Worker) -> None:
    async def refused(progress: Progress) -> tuple[bool, dict[str, Any]]:
        progress("db1", "facts")
        raise BadInput("db1: FOSSP-DASPO setting 'port' is not a port")

    async def broken(progress: Progress) -> tuple[bool, dict[str, Any]]:
        raise KeyError("surprise")

    async def finding(progress: Progress) -> tuple[bool, dict[str, Any]]:
        return False, {"hosts": [{"host": "db1", "ok": False, "error": "db1: unreachable"}]}

    first = _ended(store, launch(store, worker, "plan", "ada", ["db1"], "postgresql", refused))
    assert (first.state, first.error) == ("failed", "db1: FOSSP-DASPO setting 'port' is not a port")
    second = _ended(store, launch(store, worker, "plan", "ada", ["db1"], "postgresql", broken))
    assert (second.state, second.error) == ("failed", "unexpected KeyError: 'surprise'")
    third = _ended(store, launch(store, worker, "deploy", "ada", ["db1"], "postgresql", finding))
    assert third.state == "failed" and third.error is None and third.result is not None
    assert [r.id for r in store.recent()] == [third.id, second.id, first.id]


def test_runs_a_stopped_server_left_are_marked_interrupted(store: RunStore) -> None:
    waiting = store.create("deploy", "ada", ["db1"], "profile site")
    running = store.create("plan", "ada", ["db1"], "nginx")
    store.set_state(running, "running")
    done = store.create("plan", "ada", ["db1"], "nginx")
    store.finish(done, True, {}, None)
    store.interrupt_unfinished()
    assert [store.get(i).state for i in (waiting, running, done)] == ["interrupted", "interrupted", "ok"]
    assert store.get(running).error == "the server stopped during the run"
