"""The gate service: every change is one transaction that applies the rules and audits.

Callers (CLI, web pages, REST API) name the acting user; the service loads the facts,
asks ``fossp.gate.rules`` whether the change is allowed, writes it and its audit entry
together, and returns plain dicts ready for JSON or a template. A refused request raises
before anything is flushed, and the transaction is rolled back, so it writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fossp.catalog.schema import CatalogStatus
from fossp.errors import FosspError
from fossp.gate import rules
from fossp.gate.catalog import (
    RECIPE,
    ROLE_FILE,
    RoleChange,
    check_new_role,
    current_statuses,
    delivered_file,
    install,
    new_role_change,
    read_statuses,
    summary,
)
from fossp.gate.db import Database
from fossp.gate.errors import Forbidden, Invalid, NotFound, Refused
from fossp.gate.models import (
    Application,
    ApplicationRole,
    AuditEntry,
    CatalogChange,
    CorrectiveAction,
    CriterionRecord,
    Decision,
    DeliverableRecord,
    GateRound,
    Review,
    User,
    WebSession,
)
from fossp.gate.passwords import hash_password
from fossp.gate.process import Gate, Participant, Process, Right, load_process
from fossp.gate.rules import Action, Actor, AppState, Operation, Outcome, Position
from fossp.output import timestamp

CONSOLE = "console"  # the audit name of the server's administrator using the CLI
KINDS = ("application", "stack")
ACTION_OPEN, ACTION_DONE, ACTION_APPROVED = "open", "done", "approved"


def _text(field: str, value: str, limit: int = 4000) -> str:
    value = value.strip()
    if not value:
        raise Invalid(field, "must not be empty")
    if len(value) > limit:
        raise Invalid(field, f"is longer than {limit} characters")
    return value


def iso_date(field: str, text: str) -> date:
    """A YYYY-MM-DD date typed into a form or on the command line, or Invalid naming ``field``."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(field, f"'{text}' is not a date (YYYY-MM-DD)") from None


def _choice(field: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise Invalid(field, f"'{value}' is not one of {', '.join(choices)}")
    return value


class GateService:
    """Operations of the stage gate process over one database."""

    def __init__(self, db: Database, process: Process | None = None) -> None:
        self.db = db
        self.process = process or load_process()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self.db.sessions.begin() as session:
            yield session

    # -- lookups -----------------------------------------------------------------------

    def _user(self, s: Session, name: str, field: str = "user") -> User:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"{field}: no user named '{name}'")
        return user

    def _actor(self, s: Session, name: str, action: Action, app: Application | None = None) -> User:
        """The acting user, once the rules allow ``action`` on ``app`` (its lead and maintainers)."""
        user = self._user(s, name, "acting user")
        if user.disabled:
            raise Forbidden(f"the account {user.name} is disabled")
        actor = Actor(user.name, Participant(user.role))
        if app is None:
            rules.require(actor, action)
        else:
            rules.require(actor, action, app.lead.name, {m.name for m in app.maintainers})
        return user

    def _app(self, s: Session, ref: str | int, lock: bool = False) -> Application:
        text = str(ref).strip()
        match = Application.id == int(text) if text.isdigit() else Application.name == text
        query = select(Application).where(match)
        app = s.scalar(query.with_for_update() if lock else query)
        if app is None:
            raise NotFound(f"no application '{ref}'")
        return app

    def _position(self, app: Application) -> Position:
        phase = -1 if app.phase is None else self.process.index(app.phase)
        return Position(phase=phase, state=AppState(app.state), round=app.round)

    def _next_gate(self, app: Application) -> Gate | None:
        """The gate after the application's phase in the process data (None after the last)."""
        position = self._position(app)
        if position.phase + 1 >= len(self.process.phases):
            return None
        return self.process.gate(self.process.phases[position.phase + 1].key)

    def _open_round(self, s: Session, app: Application) -> None:
        """Snapshot what the round now opening requires, so later edits of the data leave it be."""
        gate = self._next_gate(app)
        if gate is not None:
            s.add(
                GateRound(application_id=app.id, phase=gate.phase, round=app.round, requirements=gate.model_dump_json())
            )

    def _gate(self, s: Session, app: Application) -> Gate | None:
        """The open gate as its round's snapshot (None once the application is in its last phase)."""
        gate = self._next_gate(app)
        if gate is None:
            return None
        query = select(GateRound.requirements).filter_by(application_id=app.id, phase=gate.phase, round=app.round)
        snapshot = s.scalar(query)
        if snapshot is None:
            raise RuntimeError(f"application #{app.id} has no snapshot of its open round; upgrade the database")
        return Gate.model_validate_json(snapshot)

    def _open_gate(self, s: Session, app: Application) -> Gate:
        rules.require_changeable(self._position(app))
        gate = self._gate(s, app)
        if gate is None:
            raise Refused("the application has passed its last gate")
        return gate

    def _audit(self, s: Session, actor: str, action: str, app: Application | None, **detail: Any) -> None:
        s.add(
            AuditEntry(
                actor=actor,
                action=action,
                application_id=app.id if app is not None else None,
                detail=json.dumps(detail, default=str, sort_keys=True),
            )
        )

    # -- accounts ----------------------------------------------------------------------

    def _administrator(self, s: Session, actor: str | None) -> None:
        """Only an administrator manages accounts; ``actor`` None is the server's console (the CLI)."""
        if actor is not None:
            user = self._user(s, actor, "acting user")
            rules.require_operation(user.name, Right(user.operations), Operation.MANAGE_USERS)

    def add_user(
        self, actor: str | None, name: str, role: str, password: str | None, operations: str = Right.VIEWER
    ) -> dict[str, Any]:
        """Create an account with a gate role and an operations right (a viewer unless named)."""
        with self._tx() as s:
            self._administrator(s, actor)
            name = _text("name", name, 64)
            if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
                raise Invalid("name", "use letters, digits, '.', '-' and '_' only")
            role = _choice("role", role, [p.value for p in Participant])
            operations = _choice("operations", operations, [r.value for r in Right])
            if s.scalar(select(User).where(User.name == name)) is not None:
                raise Refused(f"a user named '{name}' already exists")
            user = User(
                name=name,
                role=role,
                operations=operations,
                password_hash=None if password is None else hash_password(password),
            )
            s.add(user)
            s.flush()
            self._audit(s, actor or CONSOLE, "user-added", None, name=name, role=role, operations=operations)
            return self._account(user)

    def set_disabled(self, actor: str | None, name: str, disabled: bool) -> dict[str, Any]:
        """Disable an account (its sessions end, it cannot sign in) or enable it again."""
        with self._tx() as s:
            self._administrator(s, actor)
            user = self._user(s, name)
            if disabled and user.name == actor:
                raise Refused("you cannot disable your own account")
            user.disabled = disabled
            if disabled:
                s.execute(delete(WebSession).where(WebSession.user_id == user.id))
            self._audit(s, actor or CONSOLE, "user-disabled" if disabled else "user-enabled", None, name=user.name)
            return self._account(user)

    def reset_password(self, actor: str | None, name: str, password: str) -> dict[str, Any]:
        """Give an account a new password; its sessions end, so an old sign-in stops working."""
        with self._tx() as s:
            self._administrator(s, actor)
            user = self._user(s, name)
            user.password_hash = hash_password(password)
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
            self._audit(s, actor or CONSOLE, "password-reset", None, name=user.name)
            return self._account(user)

    def accounts(self, actor: str) -> list[dict[str, Any]]:
        """The accounts, for their administrator: only an administrator manages (and so lists) them here."""
        with self._tx() as s:
            self._administrator(s, actor)
        return self.users()

    @staticmethod
    def _account(user: User) -> dict[str, Any]:
        return {
            "name": user.name,
            "role": user.role,
            "operations": user.operations,
            "can_sign_in": user.password_hash is not None,
            "disabled": user.disabled,
        }

    def users(self) -> list[dict[str, Any]]:
        with self._tx() as s:
            return [self._account(u) for u in s.scalars(select(User).order_by(User.name))]

    # -- proposing and working through a gate -------------------------------------------

    def propose(
        self,
        actor: str,
        name: str,
        summary: str,
        roles: Sequence[str],
        kind: str = "application",
        lead: str | None = None,
        maintainers: Sequence[str] = (),
        new_roles: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Propose an application (or stack) for catalog roles, or for one role the catalog
        does not have yet (its role file is then a deliverable); it faces the Initiation gate."""
        from fossp.catalog import load_catalog

        with self._tx() as s:
            user = self._actor(s, actor, Action.PROPOSE)
            name = _text("name", name, 100)
            kind = _choice("kind", kind, KINDS)
            if not roles and not new_roles:
                raise Invalid("roles", "name at least one catalog role ID, or a new role")
            if len(set(new_roles)) > 1:
                raise Invalid("new_roles", "an application proposes one new role; propose the others on their own")
            catalog = load_catalog()
            try:
                role_ids = sorted({catalog.role(ref).id for ref in roles})
            except FosspError as error:
                raise Invalid(
                    "roles", f"{error.message} (a role the catalog lacks is proposed as a new role)"
                ) from None
            new_ids = [check_new_role(ref, catalog) for ref in set(new_roles)]
            if s.scalar(select(Application).where(Application.name == name)) is not None:
                raise Refused(f"an application named '{name}' is already proposed")
            app = Application(
                name=name,
                kind=kind,
                summary=_text("summary", summary),
                phase=None,
                state=AppState.ACTIVE.value,
                round=1,
                lead=self._lead(s, lead),
                proposed_by=user,
                roles=[ApplicationRole(role_id=r) for r in role_ids]
                + [ApplicationRole(role_id=r, new=True) for r in new_ids],
                maintainers=self._maintainers(s, user, maintainers),
            )
            s.add(app)
            s.flush()
            self._open_round(s, app)
            self._audit(s, actor, "proposed", app, name=name, roles=role_ids, new_roles=new_ids, lead=app.lead.name)
            return self._view(s, app)

    def _maintainers(self, s: Session, proposer: User, names: Sequence[str]) -> list[User]:
        """The named maintainers plus the proposer, who then works on what it proposed."""
        named = [self._user(s, m, "maintainers") for m in dict.fromkeys(names) if m != proposer.name]
        return [proposer, *named]

    def _lead(self, s: Session, name: str | None) -> User:
        """The named lead, or by default the FESCo liaison (seed: Best Practices)."""
        if name:
            user = self._user(s, name, "lead")
            if Participant(user.role) not in rules.LEAD_ROLES:
                raise Invalid("lead", f"{name} is {user.role}; a review lead is a liaison or member")
            return user
        liaison = s.scalar(select(User).where(User.role == Participant.LIAISON.value).order_by(User.id))
        if liaison is None:
            raise Invalid("lead", "there is no FESCo liaison account; name a review lead")
        return liaison

    def deliver(self, actor: str, ref: str | int, key: str, reference: str) -> dict[str, Any]:
        """Record that a deliverable of the open gate exists, with where to find it."""
        return self.record_gate(actor, ref, deliverables={key: reference})

    def _new_role_file(self, s: Session, app: Application, key: str, reference: str) -> str | None:
        """A new role's role file or recipe, read from ``reference`` and validated (None for
        other deliverables, and for applications of catalog roles only)."""
        from fossp.catalog import load_catalog

        new = [r.role_id for r in app.roles if r.new]
        if key not in (ROLE_FILE, RECIPE) or not new:
            return None
        return delivered_file(key, reference, new[0], load_catalog(), self._delivered(s, app, ROLE_FILE))

    def _delivered(self, s: Session, app: Application, key: str) -> str | None:
        """The files last delivered as ``key`` (the latest gate's), or None."""
        records = s.scalars(select(DeliverableRecord).filter_by(application_id=app.id, key=key))
        kept = sorted((self.process.index(r.phase), r.content) for r in records if r.content is not None)
        return kept[-1][1] if kept else None

    def assess(self, actor: str, ref: str | int, key: str, met: bool, note: str = "") -> dict[str, Any]:
        """Record whether an exit criterion of the open gate is met in this round."""
        return self.record_gate(actor, ref, criteria={key: (met, note)})

    def record_gate(
        self,
        actor: str,
        ref: str | int,
        deliverables: Mapping[str, str] | None = None,
        criteria: Mapping[str, tuple[bool, str]] | None = None,
    ) -> dict[str, Any]:
        """Record deliverables (key -> where it is) and criteria (key -> met, note) of the
        open gate in one transaction: all of them, or none when one is refused. An item
        given as it already stands is left alone, so the audit shows only real changes."""
        with self._tx() as s:
            app = self._app(s, ref, lock=True)
            for key, reference in (deliverables or {}).items():
                self._deliver(s, app, actor, key, reference)
            for key, (met, note) in (criteria or {}).items():
                self._assess(s, app, actor, key, met, note)
            return self._view(s, app)

    def _deliver(self, s: Session, app: Application, actor: str, key: str, reference: str) -> None:
        user = self._actor(s, actor, Action.DELIVER, app)
        gate = self._open_gate(s, app)
        _choice("key", key, [d.key for d in gate.deliverables])
        reference = _text("reference", reference, 2000)
        content = self._new_role_file(s, app, key, reference)
        record = s.scalar(select(DeliverableRecord).filter_by(application_id=app.id, phase=gate.phase, key=key))
        if record is not None and (record.reference, record.content) == (reference, content):
            return
        if record is None:
            record = DeliverableRecord(application_id=app.id, phase=gate.phase, key=key)
            s.add(record)
        record.reference, record.content, record.provided_by = reference, content, user
        self._audit(s, actor, "deliverable", app, gate=gate.phase, key=key, reference=reference)

    def _assess(self, s: Session, app: Application, actor: str, key: str, met: bool, note: str) -> None:
        user = self._actor(s, actor, Action.ASSESS, app)
        gate = self._open_gate(s, app)
        _choice("key", key, [c.key for c in gate.criteria])
        where = {"application_id": app.id, "phase": gate.phase, "round": app.round, "key": key}
        record = s.scalar(select(CriterionRecord).filter_by(**where))
        if record is not None and (record.met, record.note) == (met, note.strip()):
            return
        if record is None:
            record = CriterionRecord(**where)
            s.add(record)
        record.met, record.note, record.assessed_by = met, note.strip(), user
        self._audit(s, actor, "criterion", app, gate=gate.phase, key=key, met=met, note=note)

    def review(self, actor: str, ref: str | int, recommendation: str, findings: str) -> dict[str, Any]:
        """Add the acting participant's findings to this round (one review per person)."""
        with self._tx() as s:
            app = self._app(s, ref, lock=True)
            user = self._actor(s, actor, Action.REVIEW, app)
            gate = self._open_gate(s, app)
            recommendation = _choice("recommendation", recommendation, [o.value for o in Outcome])
            where = {
                "application_id": app.id,
                "phase": gate.phase,
                "round": app.round,
                "user_id": user.id,
            }
            if s.scalar(select(Review).filter_by(**where)) is not None:
                raise Refused(f"{actor} already reviewed round {app.round} of {gate.name}")
            s.add(Review(**where, recommendation=recommendation, findings=_text("findings", findings)))
            self._audit(s, actor, "reviewed", app, gate=gate.phase, recommendation=recommendation)
            return self._view(s, app)

    def open_action(self, actor: str, ref: str | int, title: str, owner: str, due: date) -> dict[str, Any]:
        """Ask for corrective work; it blocks a go until the working group approves it."""
        with self._tx() as s:
            app = self._app(s, ref, lock=True)
            self._actor(s, actor, Action.OPEN_ACTION, app)
            gate = self._open_gate(s, app)
            action = CorrectiveAction(
                application_id=app.id,
                phase=gate.phase,
                title=_text("title", title, 500),
                owner=self._user(s, owner, "owner"),
                due=due,
                status=ACTION_OPEN,
            )
            s.add(action)
            s.flush()
            self._audit(s, actor, "action-opened", app, action_id=action.id, owner=owner, due=due)
            return self._view(s, app)

    def complete_action(self, actor: str, action_id: int) -> dict[str, Any]:
        return self._move_action(actor, action_id, Action.COMPLETE_ACTION, ACTION_OPEN, ACTION_DONE)

    def approve_action(self, actor: str, action_id: int) -> dict[str, Any]:
        return self._move_action(actor, action_id, Action.APPROVE_ACTION, ACTION_DONE, ACTION_APPROVED)

    def _move_action(self, actor: str, action_id: int, right: Action, before: str, after: str) -> dict[str, Any]:
        """Corrective actions go open -> done (by anyone working on it) -> approved (by the WG)."""
        with self._tx() as s:
            action = s.get(CorrectiveAction, action_id)
            if action is None:
                raise NotFound(f"no corrective action #{action_id}")
            app = self._app(s, action.application_id, lock=True)
            self._actor(s, actor, right, app)
            rules.require_changeable(self._position(app))
            if action.status != before:
                raise Refused(f"corrective action #{action_id} is {action.status}, not {before}")
            action.status = after
            self._audit(s, actor, f"action-{after}", app, action_id=action_id)
            return self._view(s, app)

    # -- maintainers -------------------------------------------------------------------

    def add_maintainer(self, actor: str, ref: str | int, name: str) -> dict[str, Any]:
        """The review lead (or an admin) lets another account work on the application."""
        with self._tx() as s:
            app = self._app(s, ref, lock=True)
            self._actor(s, actor, Action.MANAGE_MAINTAINERS, app)
            user = s.scalar(select(User).where(User.name == name.strip()))
            if user is None:
                raise Invalid("user", f"no user named '{name}'")
            if user in app.maintainers:
                raise Refused(f"{user.name} already maintains {app.name}")
            app.maintainers.append(user)
            self._audit(s, actor, "maintainer-added", app, user=user.name)
            return self._view(s, app)

    def remove_maintainer(self, actor: str, ref: str | int, name: str) -> dict[str, Any]:
        """The review lead (or an admin) takes the application away from a maintainer."""
        with self._tx() as s:
            app = self._app(s, ref, lock=True)
            self._actor(s, actor, Action.MANAGE_MAINTAINERS, app)
            rules.check_maintainer_removal([m.name for m in app.maintainers], name)
            app.maintainers = [m for m in app.maintainers if m.name != name]
            self._audit(s, actor, "maintainer-removed", app, user=name)
            return self._view(s, app)

    # -- decisions ---------------------------------------------------------------------

    def decide(self, actor: str, ref: str | int, outcome: str, rationale: str) -> dict[str, Any]:
        """The review lead's decision at the open gate; a go moves the application on."""
        with self._tx() as s:
            app = self._app(s, ref, lock=True)
            user = self._actor(s, actor, Action.DECIDE, app)
            chosen = Outcome(_choice("outcome", outcome, [o.value for o in Outcome]))
            position = self._position(app)
            gate = self._gate(s, app)
            facts = self._facts(s, app, gate) if gate is not None else rules.GateFacts()
            rules.check_decision(position, chosen, rationale, facts)
            assert gate is not None  # check_decision refuses a DONE application
            decision = Decision(
                application_id=app.id,
                phase=gate.phase,
                round=app.round,
                outcome=chosen.value,
                rationale=rationale.strip(),
                user=user,
            )
            s.add(decision)
            changes = self._go_changes(s, app, gate)[0] if chosen is Outcome.GO else []
            self._move(s, app, rules.after_decision(position, chosen, len(self.process.phases)))
            self._audit(
                s,
                actor,
                "decided",
                app,
                gate=gate.phase,
                outcome=chosen,
                rationale=rationale,
                catalog=[c.text for c in changes],
            )
            self._change_catalog(s, app, decision, changes)
            return self._view(s, app)

    def _change_catalog(self, s: Session, app: Application, decision: Decision, changes: list[RoleChange]) -> None:
        """Record what a go changes in the catalog, installing the new roles it launches last,
        so a refused write leaves the transaction to roll back."""
        from fossp.catalog import load_catalog

        s.flush()
        for change in changes:
            installed = json.dumps([str(path) for path, _text in change.installs])
            s.add(
                CatalogChange(
                    role_id=change.role_id,
                    status=change.after.value,
                    application_id=app.id,
                    decision_id=decision.id,
                    installed=installed,
                )
            )
        s.flush()
        if any(change.installs for change in changes):
            install(changes)
            load_catalog.cache_clear()

    def _go_changes(self, s: Session, app: Application, gate: Gate) -> tuple[list[RoleChange], list[str]]:
        """What a go at ``gate`` changes in the catalog, and why it could not (blockers)."""
        from fossp.catalog import load_catalog

        after = self.process.phase(gate.phase).go_sets_status
        if after is None:
            return [], []
        catalog = load_catalog()
        statuses = current_statuses(catalog, read_statuses(s.connection()))
        changes: list[RoleChange] = []
        blockers: list[str] = []
        for link in app.roles:
            if link.role_id in catalog.roles:
                if statuses[link.role_id] is not after:
                    name = catalog.roles[link.role_id].name
                    changes.append(RoleChange(link.role_id, name, statuses[link.role_id], after))
            elif after is CatalogStatus.LAUNCHED:
                try:
                    role_file, recipe = self._delivered(s, app, ROLE_FILE), self._delivered(s, app, RECIPE)
                    changes.append(new_role_change(link.role_id, role_file, recipe, catalog))
                except FosspError as error:
                    blockers.append(error.message)
        return changes, blockers

    def resume(self, actor: str, ref: str | int) -> dict[str, Any]:
        """The review lead resumes a held application, or reopens a stopped one."""
        with self._tx() as s:
            app = self._app(s, ref, lock=True)
            self._actor(s, actor, Action.RESUME, app)
            self._move(s, app, rules.after_resume(self._position(app)))
            self._audit(s, actor, "resumed", app, state=app.state, round=app.round)
            return self._view(s, app)

    def _move(self, s: Session, app: Application, position: Position) -> None:
        """Put the application at ``position``; a new phase or round opens with its snapshot."""
        before = (app.phase, app.round)
        app.phase = None if position.phase < 0 else self.process.phases[position.phase].key
        app.state = position.state.value
        app.round = position.round
        if (app.phase, app.round) != before:
            self._open_round(s, app)

    def _facts(self, s: Session, app: Application, gate: Gate) -> rules.GateFacts:
        provided = set(s.scalars(select(DeliverableRecord.key).filter_by(application_id=app.id, phase=gate.phase)))
        met = set(
            s.scalars(
                select(CriterionRecord.key).filter_by(
                    application_id=app.id, phase=gate.phase, round=app.round, met=True
                )
            )
        )
        return rules.gate_facts(
            gate,
            provided=provided,
            met=met,
            open_actions=[f"#{a.id}" for a in self._actions(s, app) if a.status != ACTION_APPROVED],
            reviewers=[Participant(r.user.role) for r in self._reviews(s, app, gate)],
            catalog_blockers=self._go_changes(s, app, gate)[1],
        )

    def _reviews(self, s: Session, app: Application, gate: Gate) -> list[Review]:
        query = select(Review).filter_by(application_id=app.id, phase=gate.phase, round=app.round)
        return list(s.scalars(query.order_by(Review.id)))

    def _actions(self, s: Session, app: Application) -> list[CorrectiveAction]:
        query = select(CorrectiveAction).filter_by(application_id=app.id)
        return list(s.scalars(query.order_by(CorrectiveAction.id)))

    # -- views -------------------------------------------------------------------------

    def _status(self, app: Application) -> CatalogStatus:
        """The status the application's own go decisions have given its roles (preview:
        a candidate, whatever the catalog says of its roles)."""
        return self.process.status_in(app.phase) if app.phase else CatalogStatus.PREVIEW

    def _summary(self, s: Session, app: Application) -> dict[str, Any]:
        phase = self.process.phase(app.phase) if app.phase else None
        gate = self._gate(s, app)
        return {
            "id": app.id,
            "name": app.name,
            "kind": app.kind,
            "summary": app.summary,
            "roles": [r.role_id for r in app.roles],
            "phase": app.phase,
            "phase_name": phase.name if phase else "Proposed",
            "state": app.state,
            "round": app.round,
            "next_gate": gate.name if gate else None,
            "lead": app.lead.name,
            "maintainers": sorted(m.name for m in app.maintainers),
            "catalog_status": self._status(app).value,
        }

    def _view(self, s: Session, app: Application) -> dict[str, Any]:
        s.flush()
        view = self._summary(s, app)
        view["proposed_by"] = app.proposed_by.name
        view["catalog"] = self._catalog_view(s, app)
        view["catalog_changes"] = [
            {
                "role_id": c.role_id,
                "status": c.status,
                "installed": json.loads(c.installed),
                "at": timestamp(c.at, "seconds"),
            }
            for c in s.scalars(select(CatalogChange).filter_by(application_id=app.id).order_by(CatalogChange.id))
        ]
        view["gate"] = self._gate_view(s, app)
        view["actions"] = [
            {
                "id": a.id,
                "gate": a.phase,
                "title": a.title,
                "owner": a.owner.name,
                "due": a.due.isoformat(),
                "status": a.status,
                "overdue": a.status == ACTION_OPEN and a.due < date.today(),
            }
            for a in self._actions(s, app)
        ]
        decisions = select(Decision).filter_by(application_id=app.id).order_by(Decision.id)
        view["decisions"] = [
            {
                "gate": d.phase,
                "round": d.round,
                "outcome": d.outcome,
                "rationale": d.rationale,
                "by": d.user.name,
                "at": timestamp(d.created_at, "seconds"),
            }
            for d in s.scalars(decisions)
        ]
        return view

    def _catalog_view(self, s: Session, app: Application) -> list[dict[str, Any]]:
        """The application's roles as the catalog has them now (a new role: not yet in it)."""
        from fossp.catalog import load_catalog

        catalog = load_catalog()
        statuses = current_statuses(catalog, read_statuses(s.connection()))
        return [
            {
                "role_id": r.role_id,
                "name": catalog.roles[r.role_id].name if r.role_id in catalog.roles else None,
                "new": r.new,
                "status": statuses[r.role_id].value if r.role_id in statuses else "not in the catalog",
            }
            for r in app.roles
        ]

    def _gate_view(self, s: Session, app: Application) -> dict[str, Any] | None:
        gate = self._gate(s, app)
        if gate is None:
            return None
        delivered = {
            d.key: d for d in s.scalars(select(DeliverableRecord).filter_by(application_id=app.id, phase=gate.phase))
        }
        assessed = {
            c.key: c
            for c in s.scalars(
                select(CriterionRecord).filter_by(application_id=app.id, phase=gate.phase, round=app.round)
            )
        }
        facts = self._facts(s, app, gate)
        changes = self._go_changes(s, app, gate)[0]
        return {
            "phase": gate.phase,
            "name": gate.name,
            "round": app.round,
            "deliverables": [
                {
                    "key": d.key,
                    "title": d.title,
                    "required": d.required,
                    "reference": delivered[d.key].reference if d.key in delivered else None,
                    "provided_by": delivered[d.key].provided_by.name if d.key in delivered else None,
                }
                for d in gate.deliverables
            ],
            "criteria": [
                {
                    "key": c.key,
                    "text": c.text,
                    "met": assessed[c.key].met if c.key in assessed else False,
                    "note": assessed[c.key].note if c.key in assessed else "",
                    "assessed_by": assessed[c.key].assessed_by.name if c.key in assessed else None,
                }
                for c in gate.criteria
            ],
            "required_reviews": [r.value for r in gate.reviews],
            "reviews": [
                {
                    "by": r.user.name,
                    "role": r.user.role,
                    "recommendation": r.recommendation,
                    "findings": r.findings,
                    "at": timestamp(r.created_at, "seconds"),
                }
                for r in self._reviews(s, app, gate)
            ],
            "go_blockers": rules.go_blockers(facts),
            "catalog_on_go": {"summary": summary(changes), "changes": [c.as_dict() for c in changes]},
        }

    def show(self, ref: str | int) -> dict[str, Any]:
        with self._tx() as s:
            return self._view(s, self._app(s, ref))

    def applications(self) -> list[dict[str, Any]]:
        with self._tx() as s:
            return [self._summary(s, a) for a in s.scalars(select(Application).order_by(Application.name))]

    def board(self) -> list[dict[str, Any]]:
        """Applications by phase, in process order, starting with those only proposed."""
        apps = self.applications()
        columns = [{"key": None, "name": "Proposed"}] + [{"key": p.key, "name": p.name} for p in self.process.phases]
        return [{**c, "applications": [a for a in apps if a["phase"] == c["key"]]} for c in columns]

    def audit(self, ref: str | int | None = None, limit: int = 500) -> list[dict[str, Any]]:
        with self._tx() as s:
            query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if ref is not None:
                query = query.where(AuditEntry.application_id == self._app(s, ref).id)
            return [
                {
                    "id": e.id,
                    "at": timestamp(e.at, "seconds"),
                    "actor": e.actor,
                    "action": e.action,
                    "application_id": e.application_id,
                    "detail": json.loads(e.detail),
                }
                for e in s.scalars(query)
            ]

    def role_statuses(self) -> dict[str, CatalogStatus]:
        """Catalog role ID -> status, for the roles a go decision has changed."""
        with self._tx() as s:
            return dict(sorted(read_statuses(s.connection()).items()))
