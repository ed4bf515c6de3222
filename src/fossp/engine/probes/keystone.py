"""OpenStack APIs as a client uses them: a token from Keystone, then a request with it.

The probe asks Keystone (on ``auth_port``, else ``port``) for a token scoped to the admin
project, as the admin user ``keystone-manage bootstrap`` makes (password method,
``POST /v3/auth/tokens``: 201 with the token in ``X-Subject-Token``), then GETs ``path`` on
``port`` with it in ``X-Auth-Token`` (and in ``X-Subject-Token``, which Keystone's own
token validation reads). So a service passes only if Keystone issues tokens and the
service accepts them, which it checks with Keystone itself. The password, from the
probe's secret setting, travels only in the request body; the token is never shown.
"""

from __future__ import annotations

from typing import Any

import httpx

from fossp.catalog.schema import Probe
from fossp.engine.probes.common import ProbeFailed, Unreachable, host_for_url, password, text
from fossp.engine.probes.http import _verdict
from fossp.hosts.connector import Connector

#: Who the probe is: keystone-manage bootstrap's admin user, project and domain.
ADMIN = {"user": "admin", "project": "admin", "domain": "Default"}


def token_request(secret: str) -> dict[str, Any]:
    """The body of a password authentication scoped to the admin project (Identity API v3)."""
    domain = {"name": ADMIN["domain"]}
    user = {"name": ADMIN["user"], "domain": domain, "password": secret}
    return {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": ADMIN["project"], "domain": domain}},
        }
    }


async def _send(client: httpx.AsyncClient, method: str, url: str, **fields: Any) -> httpx.Response:
    try:
        return await client.request(method, url, **fields)
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        raise Unreachable(f"{method} {url}: {error}") from error
    except httpx.HTTPError as error:
        raise ProbeFailed(f"{method} {url}: {type(error).__name__}: {error}") from error


async def issue_token(client: httpx.AsyncClient, url: str, secret: str) -> str:
    """A token from Keystone at ``url`` (…/v3/auth/tokens), or ProbeFailed saying why not."""
    response = await _send(client, "POST", url, json=token_request(secret))
    token = response.headers.get("X-Subject-Token")
    if response.status_code != 201 or not token:
        answered = f"{response.status_code} {response.reason_phrase}".rstrip()
        raise ProbeFailed(f"POST {url} (admin's password) answered {answered}, wanted 201 with a token")
    return token


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    host = f"http://{host_for_url(address)}"
    auth_url = f"{host}:{probe.auth_port or port}/v3/auth/tokens"
    url = f"{host}:{port}{text(probe.path, settings) or '/'}"
    async with httpx.AsyncClient(
        timeout=probe.timeout, trust_env=False, headers={"User-Agent": "fossp-probe"}
    ) as client:
        token = await issue_token(client, auth_url, password(probe, settings))
        response = await _send(client, "GET", url, headers={"X-Auth-Token": token, "X-Subject-Token": token})
    return f"token from {auth_url}; " + _verdict(url, response, probe.status or 200, text(probe.expect, settings))
