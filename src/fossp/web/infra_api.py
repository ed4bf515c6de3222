"""REST API of the Infrastructure Tool under /api/v1: catalog, selection, profiles, hosts,
status (of a host, or of the fleet) and runs, each answer a typed model in the OpenAPI
description and a document with schema_version first (fossp.web.answers): a row model
(``HostOut``) is framed as the answer for one (``HostAnswer``) or as a list field (``Hosts``).

Reads need a signed-in user; changes (a saved profile, a trusted host, a run) also the
X-CSRF-Token header. A run answers 202 with its ID at once: the app's worker does the work
(see fossp.web.runs), and GET /runs/{id}/events streams its progress as Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from fossp.cli.documents import Alternative as AlternativeOut
from fossp.cli.documents import HostHealthData
from fossp.cli.documents import RequestData as RequestOut
from fossp.cli.documents import ToChoose as ToChooseOut
from fossp.cli.documents import Unserved as UnservedOut
from fossp.gate.db import Database
from fossp.gate.errors import Forbidden
from fossp.gate.sessions import SessionInfo
from fossp.web.answers import Answer, answer
from fossp.web.infra import Infra, scan_host_key, web_dir
from fossp.web.rights import refusal_of, require
from fossp.web.runs import Run, RunStore, Worker, launch

router = APIRouter(prefix="/api/v1", tags=["infrastructure"])

# What each route needs (fossp.web.rights): reads any right, changes their own action's.
Viewer = Annotated[SessionInfo, Depends(require("read"))]
ProfileSaver = Annotated[SessionInfo, Depends(require("save-profile"))]
HostAdder = Annotated[SessionInfo, Depends(require("add-host"))]
Family = Literal["fedora", "debian"]


def tool(request: Request) -> Infra:
    infra: Infra = request.app.state.infra
    return infra


def runs(request: Request) -> RunStore:
    store: RunStore = request.app.state.runs
    return store


Tool = Annotated[Infra, Depends(tool)]
Runs = Annotated[RunStore, Depends(runs)]


def install(app: FastAPI, db: Database) -> None:
    """The Infrastructure Tool's state, worker and routes on ``app``."""
    from fossp.web import infra_pages

    store = RunStore(db)
    store.interrupt_unfinished()
    app.state.infra, app.state.runs, app.state.worker = Infra(web_dir(), db.url), store, Worker()
    app.router.add_event_handler("shutdown", app.state.worker.stop)
    app.include_router(router)
    app.include_router(infra_pages.router)


# the catalog


class RoleOut(BaseModel):
    id: str
    name: str
    implementation: str
    service: str
    description: str
    features: list[str]
    status: str = Field(description="lifecycle: launched, preview or retired (the stage gate decides)")
    release: str
    support_end: str | None
    upstream: str
    deploys_on: list[Family] = Field(description="the families FOSSP deploys it on (it has a recipe for)")
    deploy_problem: str | None = Field(description="why FOSSP does not deploy it, if it does not")


class RoleAnswer(RoleOut, Answer):
    """One role of the catalog."""


class CatalogRoles(Answer):
    roles: list[RoleOut]


class FeatureOut(BaseModel):
    key: str
    description: str
    roles: list[str]


class CatalogFeatures(Answer):
    features: list[FeatureOut]


def role_out(role: Any) -> RoleOut:
    from fossp.selection.offer import deploys_on, why_not_deployable

    life = role.lifecycle
    return RoleOut(
        id=role.id,
        name=role.name,
        implementation=role.implementation,
        service=role.service,
        description=role.description.strip(),
        features=role.features,
        status=life.status.value,
        release=life.release,
        support_end=life.support_end.isoformat() if life.support_end else None,
        upstream=role.upstream.status,
        deploys_on=[f.value for f in deploys_on(role, None)],
        deploy_problem=why_not_deployable(role, None),
    )


@router.get("/catalog/roles")
def catalog_roles(infra: Tool, _: Viewer) -> CatalogRoles:
    """Every role: its ID, lifecycle and whether FOSSP deploys it on each family."""
    return CatalogRoles(roles=[role_out(role) for role in infra.catalog().roles.values()])


@router.get("/catalog/roles/{ref}")
def catalog_role(ref: str, infra: Tool, _: Viewer) -> RoleAnswer:
    return answer(RoleAnswer, role_out(infra.catalog().role(ref)).model_dump())


@router.get("/catalog/features")
def catalog_features(infra: Tool, _: Viewer) -> CatalogFeatures:
    """The features the wizard offers to pick from, and the roles providing each."""
    catalog = infra.catalog()
    features = [
        FeatureOut(key=f.key, description=f.description, roles=[r.id for r in catalog.providers(f.key)])
        for f in catalog.features.values()
    ]
    return CatalogFeatures(features=features)


# selection


class SettingOut(BaseModel):
    name: str
    type: str
    description: str
    default: Any = None
    example: Any = None
    required: bool
    secret: bool
    choices: list[str] | None = None
    given: Any = Field(default=None, description="the value given so far (a secret: never shown, only true)")


class ChoiceOut(BaseModel):
    id: str
    name: str
    implementation: str
    reasons: list[str]
    required_by: str | None
    deploys: bool
    deploys_on: list[Family]
    deploy_problem: str | None
    alternatives: list[AlternativeOut]
    settings: list[SettingOut] = Field(description="every setting of the role; the required ones must be filled")


class ConflictOut(BaseModel):
    roles: str = Field(description="the two role IDs, space-separated")
    kind: Literal["port", "declared"]
    reason: str
    resolution: str


class UnmetOut(BaseModel):
    feature: str
    reason: str


class RecommendationOut(Answer):
    family: Family | None
    requests: list[RequestOut]
    roles: list[ChoiceOut]
    conflicts: list[ConflictOut]
    unmet: list[UnmetOut]
    unserved: list[UnservedOut]
    settings_to_choose: list[ToChooseOut]
    ok: bool


class Wanted(BaseModel):
    wanted: list[str] = Field(description="what you need, in words or sentences, or feature keys picked")
    family: Family | None = None
    settings: dict[str, dict[str, str]] = Field(default={}, description="role ID -> setting -> value as typed")


class ProfileIn(Wanted):
    name: str = Field(min_length=1, max_length=63)


class ProfileRole(BaseModel):
    id: str
    settings: dict[str, Any]


class ProfileOut(BaseModel):
    name: str
    roles: list[ProfileRole]


class ProfileAnswer(ProfileOut, Answer):
    """One saved profile."""


class Profiles(Answer):
    profiles: list[ProfileOut]


def recommendation_out(result: Any) -> RecommendationOut:
    """`fossp recommend --json`'s answer, with each role's settings for the form."""
    from fossp.cli.selection_cmds import recommendation_data

    data = recommendation_data(result)
    for choice, row in zip(result.choices, data["roles"], strict=True):
        row["settings"] = [_setting(s, choice.settings) for s in choice.role.settings]
    return RecommendationOut.model_validate(data)


def _setting(setting: Any, given: dict[str, Any]) -> SettingOut:
    value = given.get(setting.name)
    return SettingOut(
        name=setting.name,
        type=setting.type.value,
        description=setting.description.strip(),
        default=None if setting.secret else setting.default,
        example=setting.example,
        required=setting.required,
        secret=setting.secret,
        choices=setting.choices,
        given=(value is not None) if setting.secret else value,
    )


def profile_out(name: str, profile: Any) -> ProfileOut:
    return ProfileOut(name=name, roles=[ProfileRole(id=c.id, settings=c.settings) for c in profile.roles])


@router.post("/recommend")
def recommend(body: Wanted, infra: Tool, _: Viewer) -> RecommendationOut:
    """Roles for what you need: what was understood, reasons, alternatives, conflicts, and
    the settings to fill (the required ones have no safe default)."""
    return recommendation_out(infra.recommend(body.wanted, body.family, settings=body.settings))


@router.get("/profiles")
def profiles(infra: Tool, _: Viewer) -> Profiles:
    return Profiles(profiles=[profile_out(name, infra.load_profile(name)) for name in infra.profile_names()])


@router.get("/profiles/{name}")
def profile(name: str, infra: Tool, _: Viewer) -> ProfileAnswer:
    return answer(ProfileAnswer, profile_out(name, infra.load_profile(name)).model_dump())


@router.post("/profiles", status_code=201)
def save_profile(body: ProfileIn, infra: Tool, _: ProfileSaver) -> ProfileAnswer:
    """Save the recommendation as a profile (refused while a required setting is empty)."""
    infra.save_profile(body.name, body.wanted, body.family, body.settings)
    return answer(ProfileAnswer, profile_out(body.name, infra.load_profile(body.name)).model_dump())


# hosts


class Address(BaseModel):
    address: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:-]+$")
    port: int = Field(default=22, ge=1, le=65535)


class HostKeyOut(Answer):
    address: str
    port: int
    key_type: str
    fingerprint: str = Field(description="SHA256 fingerprint: compare it with the host's before trusting it")


class HostIn(Address):
    name: str = Field(min_length=1, max_length=63)
    user: str = Field(default="root", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    key: str | None = Field(default=None, description="the private key file on the server")
    fingerprint: str = Field(description="the fingerprint the person confirmed (from POST /hosts/scan)")


class HostOut(BaseModel):
    name: str
    address: str
    port: int
    user: str
    key: str | None


class HostAnswer(HostOut, Answer):
    """One host of the inventory."""


class Hosts(Answer):
    hosts: list[HostOut]


class PlatformComponentOut(BaseModel):
    component: str
    name: str
    outcome: Literal["pass", "warn", "fail", "skip"]
    detail: str | None
    remedy: str | None


class PlatformOut(Answer):
    host: str
    ok: bool
    error: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    components: list[PlatformComponentOut] = Field(default_factory=list)


class ProbeOut(BaseModel):
    role: str
    name: str
    kind: str
    ok: bool | None
    output: str


class RoleStatusOut(BaseModel):
    role: str
    name: str
    state: str
    recorded: str
    drift: list[str]
    problems: list[str]
    probes: list[ProbeOut]


class StatusOut(Answer):
    host: str
    fossp: dict[str, Any]
    roles: list[RoleStatusOut]


class HostStatusOut(BaseModel):
    host: str
    error: str | None = Field(description="why the host could not be read (then no roles)")
    roles: list[RoleStatusOut] = Field(
        description="its FOSSP roles, state and drift (probes: GET /hosts/{name}/status)"
    )


class FleetStatus(Answer):
    hosts: list[HostStatusOut]


def host_out(host: Any) -> HostOut:
    return HostOut(name=host.name, address=host.address, port=host.port, user=host.user, key=host.key)


@router.get("/hosts")
def hosts(infra: Tool, _: Viewer) -> Hosts:
    return Hosts(hosts=[host_out(h) for h in infra.hosts().values()])


@router.post("/hosts/scan")
async def scan(body: Address, _: HostAdder) -> HostKeyOut:
    """The key the host offers, to confirm before POST /hosts trusts it (nothing is kept)."""
    key = await scan_host_key(body.address, body.port)
    return HostKeyOut(address=key.address, port=key.port, key_type=key.key_type, fingerprint=key.fingerprint)


@router.post("/hosts", status_code=201)
async def add_host(body: HostIn, infra: Tool, _: HostAdder) -> HostAnswer:
    """Trust the host's key if it is still the confirmed one, and keep the host."""
    added = await infra.add_host(body.name, body.address, body.port, body.user, body.key, body.fingerprint)
    return answer(HostAnswer, host_out(added).model_dump())


@router.get("/hosts/{name}")
def host(name: str, infra: Tool, _: Viewer) -> HostAnswer:
    return answer(HostAnswer, host_out(infra.host(name)).model_dump())


class FactsOut(Answer):
    """A summary of the host's facts (`fossp facts --json` has them all)."""

    model_config = ConfigDict(extra="ignore")  # what the summary leaves out
    host: str
    hostname: str
    os: dict[str, Any]
    package_manager: str | None
    root_fs: str
    selinux: dict[str, Any]
    firewall: dict[str, Any]
    packages: int = Field(description="how many packages are installed")
    active_units: int
    seconds: float


def facts_out(data: dict[str, Any]) -> FactsOut:
    units = data.pop("units")
    return FactsOut.model_validate(
        {
            **data,
            "packages": len(data["packages"]),
            "active_units": sum(u["active"] == "active" for u in units.values()),
        }
    )


@router.get("/hosts/{name}/facts")
async def facts(name: str, infra: Tool, _: Viewer) -> FactsOut:
    """The host's facts, live (what `fossp facts` reads)."""
    return facts_out(await infra.facts(name))


@router.get("/hosts/{name}/platform")
async def platform(name: str, infra: Tool, _: Viewer) -> PlatformOut:
    """The platform check of the host (`fossp platform check`)."""
    return PlatformOut.model_validate(await infra.platform(name))


class HealthOut(HostHealthData, Answer):
    """One host's health over SNMP (`fossp health --json`'s host)."""


@router.get("/hosts/{name}/health")
async def health(name: str, infra: Tool, _: Viewer) -> HealthOut:
    """The host's and its roles' health, read over SNMPv3 from its agent (`fossp health`)."""
    return answer(HealthOut, await infra.health(name))


@router.get("/hosts/{name}/status")
async def status(name: str, infra: Tool, _: Viewer) -> StatusOut:
    """Each deployed role's live state, its drift and its probes (`fossp status`)."""
    return StatusOut.model_validate(await infra.status(name))


@router.get("/status")
async def fleet_status(infra: Tool, _: Viewer) -> FleetStatus:
    """The fleet: every host's FOSSP roles, their state and drift, read from all hosts at once."""
    return FleetStatus.model_validate({"hosts": await infra.fleet_status()})


# runs


class RunIn(BaseModel):
    kind: Literal["plan", "deploy", "decommission"]
    hosts: list[str] = Field(min_length=1)
    profile: str | None = Field(default=None, description="a saved profile (plan, deploy)")
    roles: list[str] = Field(default=[], description="role IDs or names (decommission: none means all)")


class EventOut(BaseModel):
    id: int
    host: str
    message: str
    at: datetime


class RunOut(BaseModel):
    id: int
    kind: str
    user: str
    hosts: list[str]
    subject: str
    state: Literal["queued", "running", "ok", "failed", "interrupted"]
    error: str | None
    created_at: datetime
    ended_at: datetime | None


class RunAnswer(RunOut, Answer):
    """A run just started."""


class RunHistory(Answer):
    runs: list[RunOut] = Field(description="newest first")


class RunDetail(RunOut, Answer):
    result: dict[str, Any] | None
    events: list[EventOut]


def run_out(run: Run) -> RunOut:
    return RunOut.model_validate(run, from_attributes=True)


def start_run(request: Request, infra: Infra, store: RunStore, info: SessionInfo, body: RunIn) -> int:
    """Check the right and the run, and hand it to the worker (the path the API and the
    pages share; the caller's dependency checked the sign-in and the CSRF token)."""
    refused = refusal_of(info, body.kind)
    if refused is not None:
        raise Forbidden(refused)
    if body.kind == "decommission":
        job = infra.decommission_job(body.hosts, body.roles)
        subject = ", ".join(body.roles) or "all FOSSP roles"
    else:
        make = infra.deploy_job if body.kind == "deploy" else infra.plan_job
        job = make(body.hosts, body.profile, body.roles)
        subject = ", ".join(([f"profile {body.profile}"] if body.profile else []) + body.roles)
    worker: Worker = request.app.state.worker
    return launch(store, worker, body.kind, info.user, body.hosts, subject, job)


@router.post("/runs", status_code=202)
def new_run(body: RunIn, request: Request, infra: Tool, store: Runs, info: Viewer) -> RunAnswer:
    """Start a plan, deploy or decommission (each its own right); it runs in the server,
    whatever the client does."""
    return answer(RunAnswer, run_out(store.get(start_run(request, infra, store, info, body))).model_dump())


@router.get("/runs")
def run_history(store: Runs, _: Viewer) -> RunHistory:
    """The run history, newest first."""
    return RunHistory(runs=[run_out(run) for run in store.recent()])


@router.get("/runs/{run_id}")
def run_detail(run_id: int, store: Runs, _: Viewer) -> RunDetail:
    """A run, its result and its whole log."""
    run = store.get(run_id)
    events = [EventOut.model_validate(e, from_attributes=True) for e in store.events(run_id)]
    return RunDetail(**run_out(run).model_dump(), result=run.result, events=events)


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "progress events, then `end`"}},
)
async def run_events(run_id: int, request: Request, store: Runs, _: Viewer) -> StreamingResponse:
    """The run's log as Server-Sent Events (`progress`, one per line, then `end`); a client
    that reconnects with Last-Event-ID gets only what it missed."""
    store.get(run_id)
    after = int(request.headers.get("last-event-id", "0") or 0)
    return StreamingResponse(_stream(store, run_id, after, request), media_type="text/event-stream")


async def _stream(store: RunStore, run_id: int, after: int, request: Request) -> AsyncIterator[str]:
    while not await request.is_disconnected():
        ended = (await asyncio.to_thread(store.get, run_id)).ended  # before reading: no line is lost
        for event in await asyncio.to_thread(store.events, run_id, after):
            after = event.id
            data = json.dumps({"host": event.host, "message": event.message, "at": event.at.isoformat()})
            yield f"id: {event.id}\nevent: progress\ndata: {data}\n\n"
        if ended:
            run = await asyncio.to_thread(store.get, run_id)
            yield f"event: end\ndata: {json.dumps({'state': run.state, 'error': run.error})}\n\n"
            return
        await asyncio.sleep(0.3)
