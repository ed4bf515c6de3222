"""Pages of the Infrastructure Tool: catalog, selection wizard, profiles, hosts, runs.

They call what the REST API calls (fossp.web.infra, fossp.web.infra_api); forms carry the
CSRF token, and a run's page follows its progress through the API's event stream.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from fossp.catalog.loader import describe_validation_error
from fossp.errors import BadInput, FosspError
from fossp.gate.errors import Invalid
from fossp.gate.sessions import SessionInfo
from fossp.web.infra_api import (
    RunIn,
    Runs,
    Tool,
    facts_out,
    recommendation_out,
    role_out,
    start_run,
)
from fossp.web.pages import render
from fossp.web.rights import require

router = APIRouter(include_in_schema=False)
# What each page needs (fossp.web.rights); a form's CSRF field is checked there too.
Viewer = Annotated[SessionInfo, Depends(require("read"))]
ProfileSaver = Annotated[SessionInfo, Depends(require("save-profile"))]
HostAdder = Annotated[SessionInfo, Depends(require("add-host"))]


@router.get("/catalog")
def catalog_page(request: Request, infra: Tool, _: Viewer) -> Response:
    roles = [role_out(role) for role in infra.catalog().roles.values()]
    return render(request, "infra_catalog.html", roles=roles)


def _fields(form: Any) -> dict[str, dict[str, str]]:
    """Setting fields named ``set:ROLE_ID:SETTING`` -> role ID -> setting -> text."""
    fields: dict[str, dict[str, str]] = {}
    for key, value in form.multi_items():
        kind, _, rest = key.partition(":")
        role_id, _, setting = rest.partition(":")
        if kind == "set" and role_id and setting:
            fields.setdefault(role_id, {})[setting] = str(value)
    return fields


def _wanted(form: Any) -> tuple[str, list[str], list[str]]:
    """The sentence typed, the features picked, and both as `recommend`'s arguments."""
    text = str(form.get("need", "")).strip()
    picked = [str(v) for v in form.getlist("feature")]
    return text, picked, [t for t in [text, *picked] if t]


@router.get("/wizard")
def wizard(request: Request, infra: Tool, _: Viewer) -> Response:
    """Say what you need (or pick features); the answer and the settings to fill."""
    text, picked, wanted = _wanted(request.query_params)
    family = request.query_params.get("family") or None
    return _wizard_page(request, infra, text, picked, wanted, family, {})


def _wizard_page(
    request: Request,
    infra: Tool,
    text: str,
    picked: list[str],
    wanted: list[str],
    family: str | None,
    fields: dict[str, dict[str, str]],
    error: str | None = None,
    status: int = 200,
) -> Response:
    features = infra.catalog().features.values()
    answer = None
    for given in [fields, {}] if fields else [fields]:  # a bad field: the form again, to correct it
        if not wanted:
            break
        try:
            answer = recommendation_out(infra.recommend(wanted, family, settings=given))
            break
        except FosspError as problem:
            error, status = error or _said(problem), 422 if status == 200 else status
    context = {"need": text, "picked": picked, "family": family or "", "features": features, "fields": fields}
    return render(request, "infra_wizard.html", status, answer=answer, error=error, **context)


def _said(problem: FosspError) -> str:
    """A problem as the wizard says it: a bad field named as the form labels it."""
    return f"{problem.field}: {problem.reason}" if isinstance(problem, Invalid) else problem.message


@router.post("/wizard")
async def save_profile(request: Request, infra: Tool, _: ProfileSaver) -> Response:
    form = await request.form()
    text, picked, wanted = _wanted(form)
    family, fields = str(form.get("family", "")) or None, _fields(form)
    name = str(form.get("name", ""))
    try:
        infra.save_profile(name, wanted, family, fields)
    except FosspError as problem:
        return _wizard_page(request, infra, text, picked, wanted, family, fields, _said(problem), 422)
    return RedirectResponse(f"/profiles#{name}", status_code=303)


@router.get("/profiles")
def profiles_page(request: Request, infra: Tool, _: Viewer) -> Response:
    profiles = {name: infra.load_profile(name) for name in infra.profile_names()}
    return render(request, "infra_profiles.html", profiles=profiles)


@router.get("/hosts")
def hosts_page(request: Request, infra: Tool, _: Viewer) -> Response:
    return render(request, "infra_hosts.html", hosts=infra.hosts().values())


@router.post("/hosts/scan")
async def scan_page(
    request: Request,
    _: HostAdder,
    name: Annotated[str, Form()],
    address: Annotated[str, Form()],
    user: Annotated[str, Form()] = "root",
    port: Annotated[int, Form()] = 22,
    key: Annotated[str, Form()] = "",
) -> Response:
    """The host's key, shown for confirmation: nothing is trusted or kept yet."""
    from fossp.web.infra import scan_host_key

    offered = await scan_host_key(address, port)
    entry = {"name": name, "address": address, "port": port, "user": user, "key": key}
    return render(request, "infra_host_confirm.html", offered=offered, entry=entry)


@router.post("/hosts")
async def add_host_page(
    infra: Tool,
    _: HostAdder,
    name: Annotated[str, Form()],
    address: Annotated[str, Form()],
    fingerprint: Annotated[str, Form()],
    user: Annotated[str, Form()] = "root",
    port: Annotated[int, Form()] = 22,
    key: Annotated[str, Form()] = "",
) -> Response:
    await infra.add_host(name, address, port, user, key or None, fingerprint)
    return RedirectResponse(f"/hosts/{name}", status_code=303)


@router.get("/hosts/{name}")
async def host_page(name: str, request: Request, infra: Tool, store: Runs, _: Viewer) -> Response:
    """The host's facts, platform check, health over SNMP and roles (state, drift, probes), all live."""
    host = infra.host(name)
    found: list[Any] = await asyncio.gather(
        infra.facts(name), infra.platform(name), infra.status(name), infra.health(name), return_exceptions=True
    )
    facts, platform, status, health = (None if isinstance(value, BaseException) else value for value in found)
    problems = [str(getattr(e, "message", e)) for e in found if isinstance(e, BaseException)]
    if platform and platform.get("error"):  # the check reports an unreachable host instead of raising
        problems, platform = [*problems, platform["error"]], None
    runs = [run for run in store.recent(50) if name in run.hosts]
    return render(
        request,
        "infra_host.html",
        host=host,
        problems=list(dict.fromkeys(problems)),  # one unreachable host: one line, not three
        runs=runs,
        profiles=infra.profile_names(),
        facts=facts_out(facts) if facts else None,
        platform=platform,
        health=health,
        live=status,
    )


@router.get("/status")
async def fleet_page(request: Request, infra: Tool, _: Viewer) -> Response:
    """Every host's roles, state and drift on one page, read live from all hosts at once."""
    return render(request, "infra_fleet.html", hosts=await infra.fleet_status())


@router.post("/runs")
async def new_run_page(request: Request, infra: Tool, store: Runs, info: Viewer) -> Response:
    """Start a run (its own right, checked by start_run) and follow it on its page."""
    form = await request.form()
    roles = [r.strip() for r in str(form.get("roles", "")).split(",") if r.strip()]
    fields = {"kind": form.get("kind"), "hosts": form.getlist("host"), "profile": form.get("profile") or None}
    try:
        body = RunIn.model_validate({**fields, "roles": roles})
    except ValidationError as error:
        raise BadInput(f"run: {describe_validation_error(error)}") from None
    run_id = start_run(request, infra, store, info, body)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.get("/runs")
def runs_page(request: Request, store: Runs, _: Viewer) -> Response:
    return render(request, "infra_runs.html", runs=store.recent())


@router.get("/runs/{run_id}")
def run_page(run_id: int, request: Request, store: Runs, _: Viewer) -> Response:
    return render(request, "infra_run.html", run=store.get(run_id), events=store.events(run_id))
