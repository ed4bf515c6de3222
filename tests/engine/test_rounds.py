"""How many plan-apply rounds a deploy may take: enough for many roles with many refresh
ops (every setup step, every package install re-reads the facts), never endless."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.engine import apply
from fossp.engine.operations import Operation, OpKind, Plan
from fossp.engine.planner import Wanted
from fossp.hosts.connector import HostError


def _step(role: str, index: int) -> Operation:
    return Operation(role=role, kind=OpKind.STEP, target=f"step-{index}", reason="test", refresh=True)


class _Host:
    """Plans as a host's re-plans give them: each applied refresh op is gone from the next."""

    def __init__(self, operations: list[Operation], forever: bool = False) -> None:
        self.left, self.forever, self.applied = list(operations), forever, 0

    def plan(self) -> Plan:
        return Plan(host="h", operations=list(self.left))

    async def apply(self, op: Operation, facts: Any) -> None:
        self.applied += 1
        if not self.forever:
            self.left.remove(op)


def _converge(monkeypatch: pytest.MonkeyPatch, host: _Host, roles: int) -> None:
    catalog = load_catalog()
    wanted = [Wanted(role, {}) for role in list(catalog.roles.values())[:roles]]

    async def facts_for(*_: Any) -> None:
        return None

    monkeypatch.setattr(apply, "facts_for", facts_for)
    monkeypatch.setattr(apply, "plan_host", lambda *_: host.plan())
    runner = SimpleNamespace(apply=host.apply, connector=SimpleNamespace(name="h"), state=None, done=0, expected=0)
    asyncio.run(apply._Runner.converge(runner, wanted, None, host.plan()))  # type: ignore[arg-type]


def test_five_roles_with_many_refresh_ops_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    roles = [f"FOSSP-R{n}" for n in range(5)]
    host = _Host([_step(role, i) for role in roles for i in range(4)])  # 20 rounds: more than 8
    _converge(monkeypatch, host, len(roles))
    assert host.applied == 20 and not host.left


def test_a_plan_that_never_settles_stops_with_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    host = _Host([_step("FOSSP-R0", 0)], forever=True)
    with pytest.raises(HostError, match=r"did not settle after \d+ rounds \(still to do: run-step step-0\)"):
        _converge(monkeypatch, host, 1)
    assert host.applied == apply.round_limit(host.plan(), [Wanted(next(iter(load_catalog().roles.values())), {})])


def test_the_limit_grows_with_roles_and_refresh_ops() -> None:
    role = next(iter(load_catalog().roles.values()))
    plan = Plan(host="h", operations=[_step("r", i) for i in range(10)])
    assert apply.round_limit(plan, [Wanted(role, {})] * 5) > apply.round_limit(plan, [Wanted(role, {})])
    assert apply.round_limit(plan, [Wanted(role, {})]) > 10
