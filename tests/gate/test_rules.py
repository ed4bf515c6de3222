"""The stage gate rules as pure functions: permissions, go blockers, transitions, status."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fossp.catalog.schema import CatalogStatus
from fossp.gate import rules
from fossp.gate.errors import Forbidden, Invalid, Refused
from fossp.gate.process import Participant, load_process
from fossp.gate.rules import Action, Actor, AppState, GateFacts, Outcome, Position

PHASES = len(load_process().phases)
READY = GateFacts(reviewed_by=frozenset({Participant.MEMBER}), required_reviews=[Participant.MEMBER], review_count=1)


def test_the_process_data_has_the_seeds_eleven_phases() -> None:
    names = [p.name for p in load_process().phases]
    assert names[0] == "Initiation" and names[-1] == "Service Removal" and len(names) == 11
    assert "Launch/Availability" in names and "Operations and Maintenance" in names


def test_gates_reuse_templates() -> None:
    process = load_process()
    testing = process.gate("testing")
    assert {"phase-summary", "role-definition"} <= {d.key for d in testing.deliverables}
    assert testing.name == "Gate 7: enter Testing"


def test_only_the_review_lead_decides() -> None:
    lead = Actor("lia", Participant.LIAISON)
    assert rules.may(lead, Action.DECIDE, lead="lia")
    with pytest.raises(Forbidden, match="not the review lead"):
        rules.require(Actor("mem", Participant.MEMBER), Action.DECIDE, lead="lia")
    with pytest.raises(Forbidden, match="maintainer"):
        rules.require(Actor("mai", Participant.MAINTAINER), Action.DECIDE, lead="mai")


@pytest.mark.parametrize("action", list(Action))
def test_a_viewer_changes_nothing(action: Action) -> None:
    assert not rules.may(Actor("vic", Participant.VIEWER), action, lead="vic")


def test_a_go_needs_everything() -> None:
    facts = GateFacts(
        missing_deliverables=["proposal"],
        unmet_criteria=["fits-platform"],
        open_actions=["#3"],
        reviewed_by=frozenset({Participant.MEMBER}),
        required_reviews=[Participant.MEMBER, Participant.QA],
        review_count=1,
    )
    blockers = rules.go_blockers(facts)
    assert blockers == [
        "deliverable 'proposal' is missing",
        "exit criterion 'fits-platform' is not met",
        "corrective action #3 is not approved",
        "no review by qa yet",
    ]
    with pytest.raises(Refused, match="go refused: deliverable 'proposal'"):
        rules.check_decision(Position(0), Outcome.GO, "ok", facts)
    rules.check_decision(Position(0), Outcome.RECYCLE, "rework the proposal", facts)


def test_a_decision_comes_after_the_reviews_and_has_a_rationale() -> None:
    with pytest.raises(Refused, match="no review yet"):
        rules.check_decision(Position(0), Outcome.NO_GO, "no", GateFacts())
    with pytest.raises(Invalid, match="rationale"):
        rules.check_decision(Position(0), Outcome.GO, "  ", READY)


@pytest.mark.parametrize("state", [AppState.ON_HOLD, AppState.STOPPED, AppState.DONE])
def test_no_decision_unless_active(state: AppState) -> None:
    with pytest.raises(Refused):
        rules.check_decision(Position(3, state), Outcome.GO, "ok", READY)


def test_a_catalog_blocker_blocks_a_go() -> None:
    facts = replace(READY, catalog_blockers=["the role file of FOSSP-WDSXX (role-definition) is not delivered"])
    with pytest.raises(Refused, match="role file of FOSSP-WDSXX"):
        rules.check_decision(Position(7), Outcome.GO, "ok", facts)
    rules.check_decision(Position(7), Outcome.NO_GO, "ok", facts)


def test_status_in_a_phase_follows_only_the_phases_that_set_one() -> None:
    process = load_process()
    statuses = [process.status_in(p.key) for p in process.phases]
    assert statuses == [CatalogStatus.PREVIEW] * 8 + [CatalogStatus.LAUNCHED] * 2 + [CatalogStatus.RETIRED]


def test_resume() -> None:
    assert rules.after_resume(Position(2, AppState.ON_HOLD, 1)) == Position(2, AppState.ACTIVE, 1)
    assert rules.after_resume(Position(2, AppState.STOPPED, 1)) == Position(2, AppState.ACTIVE, 2)
    with pytest.raises(Refused):
        rules.after_resume(Position(2))


@given(st.lists(st.sampled_from(list(Outcome)) | st.just(None), max_size=40))
def test_only_a_go_advances_and_by_one_phase(steps: list[Outcome | None]) -> None:
    """Any sequence of decisions and resumes: the phase moves only on a go, one at a time."""
    position = Position(-1)
    for step in steps:
        if position.state is AppState.DONE:
            break
        if step is None or position.state is not AppState.ACTIVE:
            if position.state in (AppState.ON_HOLD, AppState.STOPPED):
                position = rules.after_resume(position)
            continue
        after = rules.after_decision(position, step, PHASES)
        if step is Outcome.GO:
            assert after.phase == position.phase + 1 and after.round == 1
        else:
            assert after.phase == position.phase and after.round >= position.round
        assert after.phase <= PHASES - 1
        assert (after.state is AppState.DONE) == (after.phase == PHASES - 1)
        position = after


def test_a_maintainer_changes_only_its_own_applications() -> None:
    maintainer = Actor("mai", Participant.MAINTAINER)
    assert rules.may(maintainer, Action.DELIVER, lead="lia", maintainers={"mai", "ann"})
    assert rules.may(maintainer, Action.PROPOSE)
    for action in (Action.DELIVER, Action.REVIEW, Action.COMPLETE_ACTION):
        with pytest.raises(Forbidden, match="mai does not maintain this application"):
            rules.require(maintainer, action, lead="lia", maintainers={"ann"})
    # the working group reviews every application, maintained or not
    assert rules.may(Actor("qa", Participant.QA), Action.REVIEW, lead="lia", maintainers={"ann"})


def test_the_lead_or_an_admin_manages_maintainers() -> None:
    assert rules.may(Actor("lia", Participant.LIAISON), Action.MANAGE_MAINTAINERS, lead="lia")
    assert rules.may(Actor("adm", Participant.ADMIN), Action.MANAGE_MAINTAINERS, lead="lia")
    assert not rules.may(Actor("adm", Participant.ADMIN), Action.DECIDE, lead="lia")
    with pytest.raises(Forbidden, match="not the review lead"):
        rules.require(Actor("mem", Participant.MEMBER), Action.MANAGE_MAINTAINERS, lead="lia")
    with pytest.raises(Forbidden, match=r"mai \(maintainer\) may not manage-maintainers"):
        rules.require(Actor("mai", Participant.MAINTAINER), Action.MANAGE_MAINTAINERS, lead="lia", maintainers={"mai"})


def test_maintainer_removal() -> None:
    rules.check_maintainer_removal(["mai", "ann"], "ann")
    with pytest.raises(Refused, match="not a maintainer"):
        rules.check_maintainer_removal(["mai"], "bob")
    with pytest.raises(Refused, match="last maintainer"):
        rules.check_maintainer_removal(["mai"], "mai")


def test_facts_follow_the_snapshot_not_todays_definition() -> None:
    snapshot = load_process().gate("initiation")
    changed = snapshot.model_copy(update={"deliverables": [], "criteria": [], "reviews": [Participant.QA]})
    facts = rules.gate_facts(snapshot, provided=set(), met=set(), open_actions=[], reviewers=[Participant.QA])
    assert facts.missing_deliverables == ["proposal"] and facts.required_reviews == [Participant.MEMBER]
    assert rules.go_blockers(facts) != rules.go_blockers(
        rules.gate_facts(changed, provided=set(), met=set(), open_actions=[], reviewers=[Participant.QA])
    )
