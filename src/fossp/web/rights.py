"""What the signed-in account may do: one answer for the pages (to show an action) and
for the server (to allow it), so a page never offers what the server then refuses.

An account has a gate role (``fossp.gate.process.Participant``) and an operations right
(``Right``): ``administrator`` (everything, accounts included), ``operator`` (plan, deploy,
decommission, hosts and profiles) or ``viewer`` (read only). The action names:

Operations (``Operation``; by right):
    read            viewer, operator, administrator: every page and GET route
    save-profile    operator, administrator: save a selection as a profile
    add-host        operator, administrator: add a host to the inventory
    remove-host     operator, administrator: take a host out of the inventory
    plan            operator, administrator: plan a deployment
    deploy          operator, administrator: start a deploy run
    decommission    operator, administrator: remove roles from a host
    manage-users    administrator: add, disable, enable accounts, reset passwords

Gate actions (``fossp.gate.rules.Action``; by gate role, and for some by being the
application's review lead or one of its maintainers, so pass the application's view):
    propose, deliver, assess, review, open-action, complete-action, approve-action,
    decide, resume, manage-maintainers

Use:
    ``may(info, "deploy")``, ``may(info, "decide", app_view)``: True or False.
    ``Depends(require("deploy"))`` on a route: the SessionInfo, after sign-in (401),
    the right (403 Forbidden) and, for a change (not GET/HEAD), the CSRF token from the
    X-CSRF-Token header or the form field ``csrf`` (403).
    In a template (``install(templates.env)``): ``{% if may('deploy') %}``,
    ``{% if may('decide', app) %}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from fossp.gate.errors import Forbidden
from fossp.gate.process import Participant, Right
from fossp.gate.rules import Action, Actor, Operation, operation_refusal, refusal
from fossp.gate.sessions import SessionInfo
from fossp.web.auth import CSRF_FIELD, CSRF_HEADER, check_csrf, signed_in

__all__ = ["Operation", "Right", "install", "may", "refusal_of", "require"]
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_OPERATIONS = frozenset(o.value for o in Operation)
_GATE_ACTIONS = frozenset(a.value for a in Action)


def refusal_of(info: SessionInfo, action: str, app: Mapping[str, Any] | None = None) -> str | None:
    """Why ``info``'s account may not do ``action`` (None when it may); unknown names raise."""
    if action in _OPERATIONS:
        return operation_refusal(info.user, Right(info.operations), Operation(action))
    actor = Actor(info.user, Participant(info.role))
    if app is None:
        return refusal(actor, Action(action))
    return refusal(actor, Action(action), app["lead"], set(app["maintainers"]))


def may(info: SessionInfo | None, action: str, app: Mapping[str, Any] | None = None) -> bool:
    return info is not None and refusal_of(info, action, app) is None


def require(action: str) -> Callable[[Request], Awaitable[SessionInfo]]:
    """A FastAPI dependency: the signed-in session once it may do ``action`` (and, for a
    change, once its CSRF token is checked)."""
    if action not in _OPERATIONS | _GATE_ACTIONS:
        raise ValueError(f"unknown action '{action}'")

    async def dependency(request: Request) -> SessionInfo:
        info = signed_in(request)
        reason = refusal_of(info, action)
        if reason is not None:
            raise Forbidden(reason)
        if request.method not in _READS:
            token = request.headers.get(CSRF_HEADER)
            if token is None and "form" in request.headers.get("content-type", ""):
                field = (await request.form()).get(CSRF_FIELD)
                token = field if isinstance(field, str) else None
            check_csrf(info, token)
        return info

    return dependency


@pass_context
def _may_in_template(context: Context, action: str, app: Mapping[str, Any] | None = None) -> bool:
    info: SessionInfo | None = context.get("me")
    return may(info, action, app)


def install(env: Environment) -> None:
    """Let the templates of ``env`` ask ``may('action')`` of the signed-in account (``me``)."""
    env.globals["may"] = _may_in_template
