"""An open gate keeps the requirements it opened with, whatever the process data says later."""

from __future__ import annotations

from typing import Any

import pytest

from fossp.gate.errors import Invalid
from fossp.gate.process import Process
from fossp.gate.service import GateService


def _phase(key: str, deliverables: list[str], criteria: list[str], reviews: list[str]) -> dict[str, Any]:
    gate = {
        "deliverables": [{"key": k, "title": f"The {k}"} for k in deliverables],
        "criteria": [{"key": k, "text": f"{k} holds"} for k in criteria],
        "reviews": reviews,
    }
    return {"key": key, "name": key.title(), "summary": key, "gate": gate}


def _process(deliverables: list[str], criteria: list[str], reviews: list[str]) -> Process:
    return Process.model_validate(
        {"phases": [_phase("first", deliverables, criteria, reviews), _phase("second", ["plan"], [], ["member"])]}
    )


def test_an_open_round_is_judged_by_its_snapshot(service: GateService) -> None:
    before = GateService(service.db, _process(["proposal"], ["fits"], ["member"]))
    app = before.propose("mai", "Pg", "db", ["FOSSP-DASPO"])["id"]
    after = GateService(service.db, _process(["proposal", "budget"], ["fits", "funded"], ["member", "qa"]))
    gate = after.show(app)["gate"]
    assert [d["key"] for d in gate["deliverables"]] == ["proposal"]
    assert [c["key"] for c in gate["criteria"]] == ["fits"] and gate["required_reviews"] == ["member"]
    with pytest.raises(Invalid) as error:
        after.deliver("mai", app, "budget", "https://x")
    assert error.value.field == "key"
    after.deliver("mai", app, "proposal", "https://x")
    after.assess("mem", app, "fits", True)
    after.review("mem", app, "go", "fine")
    view = after.decide("lia", app, "go", "the snapshot is satisfied")
    assert view["phase"] == "first" and [d["key"] for d in view["gate"]["deliverables"]] == ["plan"]


def test_a_new_round_takes_the_definition_of_its_day(service: GateService) -> None:
    before = GateService(service.db, _process(["proposal"], [], ["member"]))
    app = before.propose("mai", "Pg", "db", ["FOSSP-DASPO"])["id"]
    after = GateService(service.db, _process(["proposal", "budget"], [], ["member"]))
    after.review("mem", app, "recycle", "needs a budget")
    view = after.decide("lia", app, "recycle", "add the budget")
    assert view["round"] == 2 and [d["key"] for d in view["gate"]["deliverables"]] == ["proposal", "budget"]
    assert before.show(app)["gate"]["go_blockers"][:2] == [
        "deliverable 'proposal' is missing",
        "deliverable 'budget' is missing",
    ]
