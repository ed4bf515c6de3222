"""REST API under /api/v1: the same service calls as the pages, as JSON.

Clients sign in with POST /api/v1/session, keep the cookie, and send the returned CSRF
token in the X-CSRF-Token header with every change. Bad fields answer 422 naming the
field, missing rights 403, refused transitions 409; a refused request writes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fossp.cli.documents import Account, Applications, Audit, Maintainers, Users
from fossp.cli.documents import Application as ApplicationOut
from fossp.gate.process import Participant, Process, Right
from fossp.gate.service import GateService
from fossp.gate.sessions import SessionInfo
from fossp.web.answers import Answer, answer
from fossp.web.auth import COOKIE, CSRF_HEADER, check_csrf, set_cookie, sign_in, signed_in, store
from fossp.web.rights import require

router = APIRouter(prefix="/api/v1", tags=["gate"])
OutcomeName = Literal["go", "no-go", "recycle", "hold"]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


def service(request: Request) -> GateService:
    gate: GateService = request.app.state.service
    return gate


def writer(
    info: Annotated[SessionInfo, Depends(signed_in)],
    token: Annotated[str | None, Header(alias=CSRF_HEADER)] = None,
) -> str:
    """The acting user of a change, after the CSRF check."""
    check_csrf(info, token)
    return info.user


Service = Annotated[GateService, Depends(service)]
Writer = Annotated[str, Depends(writer)]
Reader = Annotated[SessionInfo, Depends(signed_in)]
Administrator = Annotated[SessionInfo, Depends(require("manage-users"))]


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Proposal(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    summary: Text
    roles: list[str] = []
    kind: Literal["application", "stack"] = "application"
    lead: str | None = None
    maintainers: list[str] = []
    new_roles: list[str] = Field(default=[], max_length=1, description="a role the catalog lacks, by its ID")


class DeliverableIn(BaseModel):
    reference: str = Field(min_length=1, max_length=2000)


class Assessment(BaseModel):
    met: bool
    note: str = Field(default="", max_length=4000)


class ReviewIn(BaseModel):
    recommendation: OutcomeName
    findings: Text


class DecisionIn(BaseModel):
    outcome: OutcomeName
    rationale: Text


class ActionIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    owner: str
    due: date


class MaintainerIn(BaseModel):
    user: str = Field(min_length=1, max_length=64)


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Participant
    operations: Right = Right.VIEWER
    password: str = Field(min_length=8, max_length=1024)


class NewPassword(BaseModel):
    password: str = Field(min_length=8, max_length=1024)


class Me(Answer):
    user: str
    role: Participant
    operations: Right
    csrf_token: str


class ProcessOut(Process, Answer):
    """The stage gate process the gate follows (fossp/data/gate/process.yaml or the site's)."""


class RoleStatuses(Answer):
    roles: dict[str, str] = Field(description="role ID -> the status go decisions gave it (launched, retired)")


def _me(info: SessionInfo) -> Me:
    return Me(
        user=info.user, role=Participant(info.role), operations=Right(info.operations), csrf_token=info.csrf_token
    )


@router.post(
    "/session",
    response_model=Me,
    responses={401: {"description": "wrong name or password"}, 429: {"description": "throttled"}},
)
def create_session(body: Credentials, request: Request) -> JSONResponse:
    """Sign in; answers the CSRF token to send as X-CSRF-Token with every change.

    Failed sign-ins are throttled per account and per address: 429 with Retry-After.
    """
    info = sign_in(request, body.name, body.password)
    if info is None:
        return JSONResponse({"detail": "wrong name or password"}, status_code=401)
    response = JSONResponse(_me(info).model_dump(mode="json"))
    set_cookie(request, response, info)
    return response


@router.delete("/session", status_code=204)
def sign_out(request: Request, _user: Writer) -> Response:
    store(request).end(request.cookies.get(COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/me")
def me(info: Reader) -> Me:
    return _me(info)


@router.get("/applications")
def applications(gate: Service, _info: Reader) -> Applications:
    return answer(Applications, {"applications": gate.applications()})


@router.post("/applications", status_code=201)
def propose(body: Proposal, gate: Service, user: Writer) -> ApplicationOut:
    return answer(
        ApplicationOut,
        gate.propose(user, body.name, body.summary, body.roles, body.kind, body.lead, body.maintainers, body.new_roles),
    )


@router.get("/applications/{ref}")
def show(ref: str, gate: Service, _info: Reader) -> ApplicationOut:
    return answer(ApplicationOut, gate.show(ref))


@router.put("/applications/{ref}/deliverables/{key}")
def deliver(ref: str, key: str, body: DeliverableIn, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.deliver(user, ref, key, body.reference))


@router.put("/applications/{ref}/criteria/{key}")
def assess(ref: str, key: str, body: Assessment, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.assess(user, ref, key, body.met, body.note))


@router.post("/applications/{ref}/reviews", status_code=201)
def review(ref: str, body: ReviewIn, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.review(user, ref, body.recommendation, body.findings))


@router.post("/applications/{ref}/decisions", status_code=201)
def decide(ref: str, body: DecisionIn, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.decide(user, ref, body.outcome, body.rationale))


@router.post("/applications/{ref}/resume")
def resume(ref: str, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.resume(user, ref))


@router.post("/applications/{ref}/actions", status_code=201)
def open_action(ref: str, body: ActionIn, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.open_action(user, ref, body.title, body.owner, body.due))


@router.post("/actions/{action_id}/done")
def complete_action(action_id: int, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.complete_action(user, action_id))


@router.post("/actions/{action_id}/approve")
def approve_action(action_id: int, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.approve_action(user, action_id))


@router.get("/applications/{ref}/maintainers")
def maintainers(ref: str, gate: Service, _info: Reader) -> Maintainers:
    return answer(Maintainers, {"maintainers": gate.show(ref)["maintainers"]})


@router.post("/applications/{ref}/maintainers", status_code=201)
def add_maintainer(ref: str, body: MaintainerIn, gate: Service, user: Writer) -> ApplicationOut:
    """The review lead or an admin adds a maintainer, who may then work on the application."""
    return answer(ApplicationOut, gate.add_maintainer(user, ref, body.user))


@router.delete("/applications/{ref}/maintainers/{name}")
def remove_maintainer(ref: str, name: str, gate: Service, user: Writer) -> ApplicationOut:
    return answer(ApplicationOut, gate.remove_maintainer(user, ref, name))


@router.get("/audit")
def audit(gate: Service, _info: Reader, application: str | None = None) -> Audit:
    return answer(Audit, {"entries": gate.audit(application)})


@router.get("/process")
def process(gate: Service, _info: Reader) -> ProcessOut:
    return answer(ProcessOut, gate.process.model_dump(mode="json"))


@router.get("/catalog-status")
def catalog_status(gate: Service, _info: Reader) -> RoleStatuses:
    return RoleStatuses(roles={role: status.value for role, status in gate.role_statuses().items()})


@router.get("/users")
def users(gate: Service, info: Administrator) -> Users:
    return answer(Users, {"users": gate.accounts(info.user)})


@router.post("/users", status_code=201)
def add_user(body: NewUser, gate: Service, info: Administrator) -> Account:
    return answer(Account, gate.add_user(info.user, body.name, body.role, body.password, body.operations))


@router.post("/users/{name}/disable")
def disable_user(name: str, gate: Service, info: Administrator) -> Account:
    """The account can no longer sign in; its sessions end."""
    return answer(Account, gate.set_disabled(info.user, name, True))


@router.post("/users/{name}/enable")
def enable_user(name: str, gate: Service, info: Administrator) -> Account:
    return answer(Account, gate.set_disabled(info.user, name, False))


@router.put("/users/{name}/password")
def reset_password(name: str, body: NewPassword, gate: Service, info: Administrator) -> Account:
    """A new password for the account; its sessions end."""
    return answer(Account, gate.reset_password(info.user, name, body.password))
