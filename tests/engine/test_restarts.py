"""A unit whose configuration FOSSP wrote restarts, even when the plan that wrote it is
gone: a re-plan after a refresh op (a configured step) finds the file as wanted, and a run
that stops between the write and the restart leaves it to the next run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.engine.apply import Outcome, _Runner
from fossp.engine.backends import backend_for
from fossp.engine.operations import Operation, OpKind
from fossp.engine.planner import Wanted, plan_role
from fossp.engine.state import STATE_FILE, HostState, Run
from fossp.hosts.connector import Connector, Result
from fossp.hosts.facts import Facts, FileFact, UnitState
from fossp.selection.profile import resolve_settings

from .conftest import site_role
from .test_recipe_vocabulary import RECIPE, ROLE, ROLE_ID, TEMPLATE, _facts

UNIT = "demo@main.service"
CONF = "/etc/demo/demo.conf"
RUNNING = UnitState(enabled="enabled", active="active")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with site_role(tmp_path, monkeypatch, "demo", ROLE, RECIPE, {"demo.conf.j2": TEMPLATE}) as recipe_dir:
        yield recipe_dir


def _plan(facts: Facts, state: HostState) -> list[Operation]:
    role = load_catalog().role("demo")
    family = facts.family
    assert family is not None
    return plan_role(Wanted(role, resolve_settings(role, {}, "test")), facts, state, family, backend_for(facts))


def _written(facts: Facts, op: Operation) -> Facts:
    """The facts once ``op`` wrote its file (as the re-plan after the next refresh op sees them)."""
    assert op.content is not None
    fact = FileFact(path=op.target, kind="file", mode=op.mode or "644", owner="root", group="root", content=op.content)
    return facts.model_copy(update={"files": {**facts.files, op.target: fact}})


def _unit_op(ops: list[Operation]) -> Operation:
    return next(op for op in ops if op.target == UNIT and op.kind in (OpKind.START, OpKind.RESTART))


def test_a_restart_owed_by_an_earlier_write_survives_the_re_plan(site: Path) -> None:
    facts, state = _facts({UNIT: RUNNING}), HostState()
    first = _plan(facts, state)
    write = next(op for op in first if op.kind is OpKind.FILE and op.target == CONF)
    assert write.change and write.restarts == [UNIT]
    assert _unit_op(first).kind is OpKind.RESTART
    # apply records the owed restart with the write's intent, then the configured step
    # (a refresh op) makes it plan again on fresh facts: the file is as wanted now
    state.owe_restart(ROLE_ID, write.restarts, write.target)
    again = _plan(_written(facts, write), state)
    assert not next(op for op in again if op.target == CONF).change
    restart = _unit_op(again)
    assert restart.kind is OpKind.RESTART and restart.change
    assert restart.commands == [["systemctl", "restart", UNIT]]
    assert CONF in restart.reason
    # once restarted, nothing is owed and the plan is empty of restarts
    assert state.restarted(ROLE_ID, UNIT)
    settled = _unit_op(_plan(_written(facts, write), state))
    assert not settled.change and settled.kind is OpKind.START


def test_the_owed_restart_is_kept_in_the_host_state(site: Path) -> None:
    state = HostState()
    state.owe_restart(ROLE_ID, [UNIT], CONF)
    state.owe_restart(ROLE_ID, [UNIT], CONF)
    saved = HostState.model_validate_json(state.model_dump_json())
    assert saved.pending_restart(ROLE_ID, UNIT) == [CONF]
    assert saved.pending_restart("FOSSP-OTHER", UNIT) == []
    assert not saved.restarted("FOSSP-OTHER", UNIT)


def test_a_stopped_unit_starts_and_owes_nothing_more(site: Path) -> None:
    state = HostState()
    state.owe_restart(ROLE_ID, [UNIT], CONF)
    start = _unit_op(_plan(_facts({UNIT: UnitState(enabled="enabled", active="inactive")}), state))
    assert start.kind is OpKind.START and start.commands == [["systemctl", "restart", UNIT]]


class _Recorder(Connector):
    """A host where every command passes; what is written, in order, is kept."""

    def __init__(self) -> None:
        self.name, self.address, self.written = "h", "192.0.2.1", []

    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: Any) -> Result:
        return Result(tuple(argv), 0, "", "")

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        self.written.append((path, data))


def _owed(data: bytes) -> list[dict[str, Any]]:
    return HostState.model_validate_json(data).model_dump(mode="json")["restarts"]


def test_apply_saves_the_owed_restart_before_the_write_and_clears_it_after_the_restart(site: Path) -> None:
    facts, state = _facts({UNIT: RUNNING}), HostState()
    ops = _plan(facts, state)
    write = next(op for op in ops if op.kind is OpKind.FILE and op.target == CONF)
    host = _Recorder()
    runner = _Runner(host, state, backend_for(facts), Outcome(), lambda _: None, Run(id="r1", command="deploy"))
    asyncio.run(runner.apply(write, facts))
    order = [path for path, _ in host.written]
    saved_before = host.written[order.index(CONF) - 1]
    assert saved_before[0] == STATE_FILE  # the intent, written ahead: a crash now still restarts
    assert _owed(saved_before[1]) == [{"role": ROLE_ID, "unit": UNIT, "files": [CONF]}]
    asyncio.run(runner.apply(_unit_op(ops), facts))
    last_state = [data for path, data in host.written if path == STATE_FILE][-1]
    assert _owed(last_state) == [] and state.restarts == []
