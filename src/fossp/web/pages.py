"""Server-rendered pages of the web console (Jinja2 templates, plain HTML forms).

Each form carries the session's CSRF token; a change redirects back (303) on success,
and on a refusal the page is shown again with the reason and the matching HTTP status.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from fossp.errors import FosspError
from fossp.gate.agenda import agenda_ics, agenda_markdown
from fossp.gate.errors import Invalid, NotFound
from fossp.gate.picture import process_svg
from fossp.gate.process import Participant, Right
from fossp.gate.service import GateService, iso_date
from fossp.gate.sessions import SessionInfo
from fossp.web import rights
from fossp.web.auth import (
    COOKIE,
    check_csrf,
    check_login_token,
    current,
    login_form,
    set_cookie,
    sign_in,
    signed_in,
    store,
)
from fossp.web.throttle import Throttled

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
rights.install(TEMPLATES.env)
router = APIRouter(include_in_schema=False)
Reader = Annotated[SessionInfo, Depends(signed_in)]
Administrator = Annotated[SessionInfo, Depends(rights.require("manage-users"))]
# What each form field is called on the page: templates print these, errors name them so.
LABELS = {
    "name": "Name",
    "kind": "Kind",
    "summary": "Summary",
    "roles": "Catalog roles",
    "lead": "Review lead",
    "maintainers": "Maintainers",
    "role": "Gate role",
    "operations": "Operations right",
    "password": "Password",
    "reference": "Link or document",
    "met": "Met",
    "note": "Note",
    "recommendation": "Your recommendation",
    "findings": "Findings",
    "outcome": "Outcome",
    "rationale": "Rationale",
    "title": "Corrective action",
    "owner": "Owner",
    "due": "Due date",
    "user": "New maintainer",
}
TEMPLATES.env.globals["label"] = LABELS.__getitem__


def message(error: FosspError) -> str:
    """The error as the page says it: a bad field is named by its label on the form."""
    if isinstance(error, Invalid) and error.field in LABELS:
        return f"{LABELS[error.field]}: {error.reason}"
    return error.message


def _gate(request: Request) -> GateService:
    service: GateService = request.app.state.service
    return service


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    info = current(request)
    return TEMPLATES.TemplateResponse(request, name, {"me": info, **context}, status_code=status)


def error_page(request: Request, error: FosspError, status: int) -> HTMLResponse:
    """Show the refusal on the page the user came from (the application page if any)."""
    ref = request.path_params.get("ref")
    if ref is not None and status != 404:
        return _app_page(request, str(ref), status, message(error))
    return render(request, "error.html", status, error=message(error))


def _act(request: Request, info: SessionInfo, csrf: str, run: Callable[[str], Any], to: str) -> Response:
    """Run a change as the signed-in user after the CSRF check, then go back to ``to``."""
    check_csrf(info, csrf)
    run(info.user)
    return RedirectResponse(to, status_code=303)


def _login_page(request: Request, status: int = 200, error: str | None = None, name: str = "") -> Response:
    return login_form(request, lambda token: render(request, "login.html", status, csrf=token, error=error, typed=name))


@router.get("/login")
def login_page(request: Request) -> Response:
    """The sign-in form; an anonymous visit gets a nonce cookie, no session row."""
    if current(request) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    check_login_token(request, csrf)
    try:
        new = sign_in(request, name, password)
    except Throttled as error:
        response = _login_page(request, 429, error.message, name)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except FosspError as error:  # a disabled account, with the right password
        return _login_page(request, getattr(error, "status", 400), error.message, name)
    if new is None:
        return _login_page(request, 401, "Wrong name or password.", name)
    redirect = RedirectResponse("/", status_code=303)
    set_cookie(request, redirect, new)
    return redirect


@router.post("/logout")
def logout(request: Request, info: Reader, csrf: Annotated[str, Form()]) -> Response:
    check_csrf(info, csrf)
    store(request).end(info.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def board(request: Request, _info: Reader) -> Response:
    columns = _gate(request).board()
    return render(request, "board.html", columns=columns)


@router.get("/apps/new")
def propose_form(request: Request, _info: Reader) -> Response:
    return _propose_page(request)


def _propose_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    from fossp.catalog import load_catalog

    roles = sorted(load_catalog().roles.values(), key=lambda r: r.id)
    users = _gate(request).users()
    leads = [u for u in users if u["role"] in (Participant.LIAISON, Participant.MEMBER)]
    return render(request, "propose.html", status, roles=roles, users=users, leads=leads, error=error)


@router.post("/apps")
def propose(
    request: Request,
    info: Reader,
    csrf: Annotated[str, Form()],
    name: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "application",
    roles: Annotated[list[str] | None, Form()] = None,
    lead: Annotated[str, Form()] = "",
    maintainers: Annotated[list[str] | None, Form()] = None,
) -> Response:
    check_csrf(info, csrf)
    try:
        view = _gate(request).propose(info.user, name, summary, roles or [], kind, lead or None, maintainers or [])
    except FosspError as error:
        return _propose_page(request, getattr(error, "status", 400), message(error))
    return RedirectResponse(f"/apps/{view['id']}", status_code=303)


@router.get("/admin/users")
def users_page(request: Request, info: Administrator) -> Response:
    return _users_page(request, info)


def _users_page(request: Request, info: SessionInfo, status: int = 200, error: str | None = None) -> Response:
    accounts = _gate(request).accounts(info.user)
    return render(
        request, "users.html", status, users=accounts, roles=list(Participant), rights=list(Right), error=error
    )


def _account_change(request: Request, info: SessionInfo, run: Callable[[], object]) -> Response:
    """Run an account change (the dependency checked the right and the CSRF token)."""
    try:
        run()
    except FosspError as error:
        return _users_page(request, info, getattr(error, "status", 400), message(error))
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users")
def add_user(
    request: Request,
    info: Administrator,
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    operations: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """An administrator adds an account that signs in with ``password`` (an Argon2id hash).

    The form preselects neither the gate role nor the operations right: both are chosen.
    """
    gate = _gate(request)
    return _account_change(request, info, partial(gate.add_user, info.user, name, role, password, operations))


@router.post("/admin/users/{name}/password")
def reset_password(request: Request, name: str, info: Administrator, password: Annotated[str, Form()] = "") -> Response:
    return _account_change(request, info, partial(_gate(request).reset_password, info.user, name, password))


@router.post("/admin/users/{name}/{step}")
def change_user(request: Request, name: str, step: str, info: Administrator) -> Response:
    """Disable or enable an account."""
    if step not in ("disable", "enable"):
        raise NotFound(f"no account change '{step}'")
    run = partial(_gate(request).set_disabled, info.user, name, step == "disable")
    return _account_change(request, info, run)


def _app_page(request: Request, ref: str, status: int = 200, error: str | None = None) -> HTMLResponse:
    gate = _gate(request)
    view = gate.show(ref)
    svg = process_svg(gate.process, current=view["phase"], open_gate=view["gate"]["phase"] if view["gate"] else None)
    return render(
        request,
        "app.html",
        status,
        app=view,
        audit=gate.audit(ref, limit=100),
        users=[u for u in gate.users() if not u["disabled"]],
        svg=svg,
        error=error,
        today=datetime.now(UTC).date().isoformat(),
    )


@router.get("/apps/{ref}")
def app_page(request: Request, ref: str, _info: Reader) -> Response:
    return _app_page(request, ref)


class Change(BaseModel, ABC):
    """A form that changes an application: its CSRF token, its fields, and the service call.

    Every change form is handled alike (CSRF check, the call as the signed-in user, back
    to the form's section of the application page), so one route body serves them all.
    """

    csrf: str
    section: ClassVar[str] = ""

    @abstractmethod
    def run(self, gate: GateService, user: str, ref: str) -> object:
        """Make the change as ``user``; the service checks rights and writes one transaction."""


class ReviewForm(Change):
    section = "reviews"
    recommendation: str
    findings: str = ""

    def run(self, gate: GateService, user: str, ref: str) -> object:
        return gate.review(user, ref, self.recommendation, self.findings)


class DecisionForm(Change):
    outcome: str
    rationale: str = ""

    def run(self, gate: GateService, user: str, ref: str) -> object:
        return gate.decide(user, ref, self.outcome, self.rationale)


class ResumeForm(Change):
    def run(self, gate: GateService, user: str, ref: str) -> object:
        return gate.resume(user, ref)


class ActionForm(Change):
    section = "actions"
    title: str = ""
    owner: str = ""
    due: str = ""

    def run(self, gate: GateService, user: str, ref: str) -> object:
        return gate.open_action(user, ref, self.title, self.owner, iso_date("due", self.due))


class MaintainerForm(Change):
    section = "maintainers"
    user: str = ""

    def run(self, gate: GateService, user: str, ref: str) -> object:
        return gate.add_maintainer(user, ref, self.user)


def _change(request: Request, ref: str, info: SessionInfo, form: Change) -> Response:
    to = f"/apps/{ref}#{form.section}" if form.section else f"/apps/{ref}"
    return _act(request, info, form.csrf, partial(form.run, _gate(request), ref=ref), to)


@router.post("/apps/{ref}/gate")
async def record_gate(request: Request, ref: str, info: Reader) -> Response:
    """The open gate's one form: ``reference.KEY`` per deliverable, ``met.KEY`` (yes, no or
    empty: not assessed) and ``note.KEY`` per criterion; empty references are left alone."""
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    check_csrf(info, form.get("csrf"))
    fields = {(kind, key): value for name, value in form.items() if "." in name for kind, key in [name.split(".", 1)]}
    deliverables = {key: value for (kind, key), value in fields.items() if kind == "reference" and value.strip()}
    criteria = {
        key: (value == "yes", fields.get(("note", key), ""))
        for (kind, key), value in fields.items()
        if kind == "met" and value in ("yes", "no")
    }
    run = partial(_gate(request).record_gate, info.user, ref, deliverables, criteria)
    await run_in_threadpool(run)
    return RedirectResponse(f"/apps/{ref}#gate", status_code=303)


@router.post("/apps/{ref}/reviews")
def review(request: Request, ref: str, info: Reader, form: Annotated[ReviewForm, Form()]) -> Response:
    return _change(request, ref, info, form)


@router.post("/apps/{ref}/decision")
def decide(request: Request, ref: str, info: Reader, form: Annotated[DecisionForm, Form()]) -> Response:
    return _change(request, ref, info, form)


@router.post("/apps/{ref}/resume")
def resume(request: Request, ref: str, info: Reader, form: Annotated[ResumeForm, Form()]) -> Response:
    return _change(request, ref, info, form)


@router.post("/apps/{ref}/actions")
def open_action(request: Request, ref: str, info: Reader, form: Annotated[ActionForm, Form()]) -> Response:
    return _change(request, ref, info, form)


@router.post("/apps/{ref}/maintainers")
def add_maintainer(request: Request, ref: str, info: Reader, form: Annotated[MaintainerForm, Form()]) -> Response:
    return _change(request, ref, info, form)


@router.post("/apps/{ref}/maintainers/{name}/remove")
def remove_maintainer(request: Request, ref: str, name: str, info: Reader, csrf: Annotated[str, Form()]) -> Response:
    run = partial(_gate(request).remove_maintainer, ref=ref, name=name)
    return _act(request, info, csrf, run, f"/apps/{ref}#maintainers")


@router.post("/apps/{ref}/actions/{action_id}/{step}")
def move_action(
    request: Request, ref: str, action_id: int, step: str, info: Reader, csrf: Annotated[str, Form()]
) -> Response:
    gate = _gate(request)
    steps = {"done": gate.complete_action, "approve": gate.approve_action}
    if step not in steps:
        raise Invalid("step", f"'{step}' is not one of done, approve")
    return _act(request, info, csrf, partial(steps[step], action_id=action_id), f"/apps/{ref}#actions")


@router.get("/process")
def process_page(request: Request, _info: Reader) -> Response:
    gate = _gate(request)
    counts: dict[str, int] = {}
    for app in gate.applications():
        if app["phase"]:
            counts[app["phase"]] = counts.get(app["phase"], 0) + 1
    return render(request, "process.html", svg=process_svg(gate.process, counts), process=gate.process)


@router.get("/process.svg")
def process_picture(request: Request) -> Response:
    """Public: the picture shows the process, not any application."""
    return Response(process_svg(_gate(request).process), media_type="image/svg+xml")


@router.get("/audit")
def audit_page(request: Request, _info: Reader) -> Response:
    return render(request, "audit.html", entries=_gate(request).audit())


def _meeting_start(at: str | None) -> datetime:
    if not at:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return now + timedelta(hours=1)
    try:
        start = datetime.fromisoformat(at)
    except ValueError:
        raise Invalid("at", f"'{at}' is not an ISO 8601 date and time") from None
    return start if start.tzinfo else start.replace(tzinfo=UTC)


@router.get("/agenda.md")
def agenda_md(request: Request, _info: Reader, at: str | None = None) -> Response:
    gate = _gate(request)
    views = [gate.show(a["id"]) for a in gate.applications()]
    return Response(agenda_markdown(views, _meeting_start(at)), media_type="text/markdown; charset=utf-8")


@router.get("/agenda.ics")
def agenda_calendar(request: Request, _info: Reader, at: str | None = None) -> Response:
    gate = _gate(request)
    views = [gate.show(a["id"]) for a in gate.applications()]
    return Response(
        agenda_ics(views, _meeting_start(at)),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="gate-review.ics"'},
    )
