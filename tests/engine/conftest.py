"""Engine test helpers: recorded facts and a plan rendered as comparable lines."""

from __future__ import annotations

from pathlib import Path

from fossp.engine.operations import Plan
from fossp.hosts.facts import Facts, parse_facts

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def recorded(name: str) -> Facts:
    """Facts parsed from a recorded run of the facts script (``fixtures/NAME.facts``)."""
    return parse_facts(name, (FIXTURES / f"{name}.facts").read_text())


def plan_lines(plan: Plan) -> list[str]:
    """``+`` a change, ``=`` a no-op, ``~`` decided after earlier changes: as `fossp plan` shows."""
    return [f"{'~' if op.pending else '+' if op.change else '='} {op.kind.value} {op.target}" for op in plan.operations]
