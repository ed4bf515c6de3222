"""The rules of the stage gate process as pure functions over plain data.

Nothing here touches the database, so every rule is unit-tested directly; the service
layer gathers the facts, calls these functions and writes the result in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from fossp.catalog.schema import CatalogStatus
from fossp.gate.errors import Forbidden, Invalid, Refused
from fossp.gate.process import Gate, Participant, Right


class Outcome(StrEnum):
    """A gate decision (seed: a phase-driven go/no-go decision point)."""

    GO = "go"  # proceed to the next phase
    NO_GO = "no-go"  # stop at this gate; only the review lead can resume with a new round
    RECYCLE = "recycle"  # rework: the same gate is reviewed again in a new round
    HOLD = "hold"  # pause: nothing changes until the review lead resumes


class AppState(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on-hold"
    STOPPED = "stopped"
    DONE = "done"  # entered the last phase: no further gate


class Action(StrEnum):
    PROPOSE = "propose"
    DELIVER = "deliver"
    ASSESS = "assess"
    REVIEW = "review"
    OPEN_ACTION = "open-action"
    COMPLETE_ACTION = "complete-action"
    APPROVE_ACTION = "approve-action"
    DECIDE = "decide"
    RESUME = "resume"
    MANAGE_MAINTAINERS = "manage-maintainers"


class Operation(StrEnum):
    """What an operations right allows (the action names of ``fossp.web.rights``)."""

    READ = "read"
    SAVE_PROFILE = "save-profile"
    ADD_HOST = "add-host"
    REMOVE_HOST = "remove-host"
    PLAN = "plan"
    DEPLOY = "deploy"
    DECOMMISSION = "decommission"
    MANAGE_USERS = "manage-users"


_WG = {Participant.LIAISON, Participant.MEMBER}
_REVIEWERS = _WG | {Participant.MAINTAINER, Participant.QA, Participant.RELENG}
PERMISSIONS: Mapping[Action, frozenset[Participant]] = {
    Action.PROPOSE: frozenset(_WG | {Participant.MAINTAINER}),
    Action.DELIVER: frozenset(_REVIEWERS),
    Action.ASSESS: frozenset(_WG | {Participant.QA, Participant.RELENG}),
    Action.REVIEW: frozenset(_REVIEWERS),
    Action.OPEN_ACTION: frozenset(_WG | {Participant.QA, Participant.RELENG}),
    Action.COMPLETE_ACTION: frozenset(_REVIEWERS),
    Action.APPROVE_ACTION: frozenset(_WG),
    Action.DECIDE: frozenset(_WG),
    Action.RESUME: frozenset(_WG),
    Action.MANAGE_MAINTAINERS: frozenset(_WG | {Participant.ADMIN}),
}
_OPERATE = frozenset(Operation) - {Operation.MANAGE_USERS}
OPERATIONS: Mapping[Right, frozenset[Operation]] = {
    Right.VIEWER: frozenset({Operation.READ}),
    Right.OPERATOR: _OPERATE,
    Right.ADMINISTRATOR: frozenset(Operation),
}
LEAD_ONLY = frozenset({Action.DECIDE, Action.RESUME, Action.MANAGE_MAINTAINERS})
LEAD_ROLES = frozenset(_WG)


@dataclass(frozen=True)
class Actor:
    name: str
    role: Participant


def refusal(
    actor: Actor, action: Action, lead: str | None = None, maintainers: Collection[str] | None = None
) -> str | None:
    """Why ``actor`` may not do ``action`` (None when it may).

    ``lead`` and ``maintainers`` describe the application acted on (None: no application).
    Lead-only actions are the review lead's; an admin, who manages accounts, may also
    manage an application's maintainers. A maintainer changes only the applications it
    maintains, so one project's maintainer cannot sign off another project's work.
    """
    if actor.role not in PERMISSIONS[action]:
        return f"{actor.name} ({actor.role}) may not {action}"
    if action in LEAD_ONLY and actor.name != lead and actor.role is not Participant.ADMIN:
        return f"{actor.name} is not the review lead ({lead}); only the lead may {action}"
    if actor.role is Participant.MAINTAINER and maintainers is not None and actor.name not in maintainers:
        return f"{actor.name} does not maintain this application; a maintainer changes only its own applications"
    return None


def may(actor: Actor, action: Action, lead: str | None = None, maintainers: Collection[str] | None = None) -> bool:
    return refusal(actor, action, lead, maintainers) is None


def require(actor: Actor, action: Action, lead: str | None = None, maintainers: Collection[str] | None = None) -> None:
    reason = refusal(actor, action, lead, maintainers)
    if reason is not None:
        raise Forbidden(reason)


def operation_refusal(name: str, right: Right, operation: Operation) -> str | None:
    """Why an account with ``right`` may not do ``operation`` (None when it may)."""
    if operation in OPERATIONS[right]:
        return None
    return f"{name} ({right}) may not {operation}; an administrator can grant the right"


def require_operation(name: str, right: Right, operation: Operation) -> None:
    reason = operation_refusal(name, right, operation)
    if reason is not None:
        raise Forbidden(reason)


def check_maintainer_removal(maintainers: Collection[str], name: str) -> None:
    """Only a current maintainer can be removed, and never the last one: someone must deliver."""
    if name not in maintainers:
        raise Refused(f"{name} is not a maintainer of this application")
    if len(maintainers) == 1:
        raise Refused(f"{name} is the last maintainer; add another before removing them")


@dataclass(frozen=True)
class Position:
    """Where an application stands: its phase (-1 before Initiation), state and review round."""

    phase: int
    state: AppState = AppState.ACTIVE
    round: int = 1


@dataclass(frozen=True)
class GateFacts:
    """What a go depends on, gathered for one review round of one gate."""

    missing_deliverables: Sequence[str] = ()
    unmet_criteria: Sequence[str] = ()
    open_actions: Sequence[str] = ()
    reviewed_by: frozenset[Participant] = frozenset()
    required_reviews: Sequence[Participant] = ()
    review_count: int = 0


def gate_facts(
    requirements: Gate,
    provided: Collection[str],
    met: Collection[str],
    open_actions: Sequence[str],
    reviewers: Sequence[Participant],
) -> GateFacts:
    """The facts of a round measured against ``requirements``: the snapshot taken when the
    round opened, never the process data of today, so an open gate keeps its requirements."""
    return GateFacts(
        missing_deliverables=[d.key for d in requirements.deliverables if d.required and d.key not in provided],
        unmet_criteria=[c.key for c in requirements.criteria if c.key not in met],
        open_actions=open_actions,
        reviewed_by=frozenset(reviewers),
        required_reviews=requirements.reviews,
        review_count=len(reviewers),
    )


def go_blockers(facts: GateFacts) -> list[str]:
    """Every reason a go is refused, in the order a review lead works through them."""
    missing_reviews = [r.value for r in facts.required_reviews if r not in facts.reviewed_by]
    return [
        *(f"deliverable '{key}' is missing" for key in facts.missing_deliverables),
        *(f"exit criterion '{key}' is not met" for key in facts.unmet_criteria),
        *(f"corrective action {ref} is not approved" for ref in facts.open_actions),
        *(f"no review by {role} yet" for role in missing_reviews),
    ]


def require_changeable(position: Position) -> None:
    """Deliverables, reviews and actions change only while the gate review is active."""
    reasons = {
        AppState.ON_HOLD: "the application is on hold; the review lead must resume it first",
        AppState.STOPPED: "the application was stopped by a no-go; the review lead must resume it",
        AppState.DONE: "the application has passed its last gate",
    }
    if position.state in reasons:
        raise Refused(reasons[position.state])


def check_decision(position: Position, outcome: Outcome, rationale: str, facts: GateFacts) -> None:
    """Refuse a decision the process does not allow, naming every reason."""
    if not rationale.strip():
        raise Invalid("rationale", "a decision needs its rationale")
    require_changeable(position)
    if facts.review_count == 0:
        raise Refused("no review yet: the decision comes after the participants' reviews")
    blockers = go_blockers(facts) if outcome is Outcome.GO else []
    if blockers:
        raise Refused("go refused: " + "; ".join(blockers))


def after_decision(position: Position, outcome: Outcome, phase_count: int) -> Position:
    """The position a decision leads to; only a go moves the phase, by exactly one."""
    if outcome is Outcome.GO:
        phase = position.phase + 1
        last = phase >= phase_count - 1
        return Position(phase=phase, state=AppState.DONE if last else AppState.ACTIVE, round=1)
    if outcome is Outcome.RECYCLE:
        return replace(position, round=position.round + 1)
    if outcome is Outcome.HOLD:
        return replace(position, state=AppState.ON_HOLD)
    return replace(position, state=AppState.STOPPED)


def after_resume(position: Position) -> Position:
    """Resume a held review as it was, or a stopped one with a fresh round of the same gate."""
    if position.state is AppState.ON_HOLD:
        return replace(position, state=AppState.ACTIVE)
    if position.state is AppState.STOPPED:
        return Position(phase=position.phase, state=AppState.ACTIVE, round=position.round + 1)
    raise Refused(f"the application is {position.state}, not on hold or stopped")


_RANK = {CatalogStatus.LAUNCHED: 2, CatalogStatus.PREVIEW: 1, CatalogStatus.RETIRED: 0}


def catalog_status(phase_status: CatalogStatus | None, state: AppState) -> CatalogStatus:
    """The catalog status an application gives its roles.

    ``phase_status`` is its phase's status from the process data (None before Initiation).
    A candidate stopped before launch is not offered at all, so it shows as retired.
    """
    status = phase_status or CatalogStatus.PREVIEW
    if state is AppState.STOPPED and status is CatalogStatus.PREVIEW:
        return CatalogStatus.RETIRED
    return status


def strongest(statuses: Iterable[CatalogStatus]) -> CatalogStatus:
    """One role linked to several applications takes the most available status."""
    return max(statuses, key=_RANK.__getitem__)
