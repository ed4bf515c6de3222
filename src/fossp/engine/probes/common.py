"""What every probe shares: its result, its failures, filled-in texts, the secret it may
name and the TLS trust it builds from a CA file read on the target host."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fossp.catalog.schema import Probe
from fossp.engine.recipe import fill
from fossp.hosts.connector import Connector, HostError


@dataclass(frozen=True)
class ProbeResult:
    """``ok`` None: this kind of probe cannot run here (offline root, no prober yet)."""

    role: str
    name: str
    kind: str
    ok: bool | None
    output: str


class ProbeFailed(Exception):
    """The probe's protocol answered wrongly or not at all; the message says what happened."""


class Unreachable(ProbeFailed, ConnectionError):
    """No connection to the service at all (refused, timed out): also an OSError, as callers
    that tell a dead port from a wrong answer expect."""


class ProbeSkipped(Exception):
    """The probe cannot run from where it was asked to (the message says why): not a failure."""


#: A controller-side prober: (address, port, probe, settings, the run's connector) -> summary.
Remote = Callable[[str, int, Probe, dict[str, Any], Connector | None], Awaitable[str]]


def text(value: str | None, settings: dict[str, Any]) -> str:
    """A probe field with its ``{setting}`` placeholders filled ("" when unset)."""
    return (fill(value, settings) or value) if value else ""


def password(probe: Probe, settings: dict[str, Any]) -> str:
    """The value of the probe's secret setting; it lives in memory only and is never shown."""
    value = settings.get(probe.password_setting or "")
    if not isinstance(value, str) or not value:
        raise ProbeFailed(f"the secret setting {probe.password_setting!r} has no value")
    return value


def host_for_url(address: str) -> str:
    return f"[{address}]" if ":" in address else address


async def ca_certificates(probe: Probe, settings: dict[str, Any], connector: Connector | None) -> str | None:
    """The PEM text of the probe's CA file, read on the target host over the run's
    connection (the certificate lives there, not on the controller); None: the system store."""
    path = text(probe.ca, settings)
    if not path:
        return None
    if connector is None:
        raise ProbeFailed(f"reading the CA file {path} needs the host's connection")
    try:
        result = await connector.check(["cat", "--", path])
    except HostError as error:
        raise ProbeFailed(f"cannot read the CA file {path} on the host: {error}") from error
    if "-----BEGIN CERTIFICATE-----" not in result.stdout:
        raise ProbeFailed(f"the CA file {path} on the host holds no PEM certificate")
    return result.stdout


def tls_context(ca_pem: str | None) -> ssl.SSLContext:
    """Verification on, hostname checked, trusting ``ca_pem`` (else the system store)."""
    try:
        return ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    except ssl.SSLError as error:
        raise ProbeFailed(f"the CA certificates do not load: {error}") from error
