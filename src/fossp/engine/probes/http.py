"""HTTP(S) with httpx: the status wanted, ``expect`` in the body, the certificate verified
against the host's CA file (or the system store) for ``server_name`` or the address."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from fossp.catalog.schema import Probe
from fossp.engine.probes.common import ProbeFailed, Unreachable, ca_certificates, host_for_url, text, tls_context
from fossp.hosts.connector import Connector


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    path = text(probe.path, settings) or "/"
    url = f"{'https' if probe.tls else 'http'}://{host_for_url(address)}:{port}{path}"
    server_name = text(probe.server_name, settings)
    headers = {"User-Agent": "fossp-probe", **({"Host": f"{server_name}:{port}"} if server_name else {})}
    # The connection goes to the address; TLS names (SNI) and checks the server name.
    extensions = {"sni_hostname": server_name} if server_name else {}
    verify = tls_context(await ca_certificates(probe, settings, connector)) if probe.tls else False
    async with httpx.AsyncClient(
        verify=verify, follow_redirects=probe.follow_redirects, timeout=probe.timeout, trust_env=False
    ) as client:
        try:
            response = await client.get(url, headers=headers, extensions=extensions)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            if _tls_failure(error):
                raise ProbeFailed(f"GET {url}: TLS handshake failed: {error}") from error
            raise Unreachable(f"GET {url}: {error}") from error
        except httpx.HTTPError as error:
            raise ProbeFailed(f"GET {url}: {type(error).__name__}: {error}") from error
    return _verdict(url, response, probe.status or 200, text(probe.expect, settings))


def _tls_failure(error: BaseException) -> bool:
    """httpx reports a refused certificate as a connect error; its cause tells it apart."""
    cause = error.__cause__ or error.__context__
    return isinstance(cause, ssl.SSLError) or (cause is not None and _tls_failure(cause))


def _verdict(url: str, response: httpx.Response, wanted: int, expect: str) -> str:
    answered = f"{response.status_code} {response.reason_phrase}".rstrip()
    moved = f" (after {len(response.history)} redirect(s), at {response.url})" if response.history else ""
    if response.status_code != wanted:
        raise ProbeFailed(f"GET {url} answered {answered}{moved}, wanted {wanted}")
    if expect and expect not in response.text:
        raise ProbeFailed(f"GET {url}{moved}: body lacks {expect!r}")
    return f"GET {url}: {answered}{moved}, {len(response.content)} bytes"
