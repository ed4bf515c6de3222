"""Health probes: prove a role works by speaking its protocol, with the field's libraries
where there is one (httpx, dnspython, ldap3, minikerberos).

Network probes (one module each) run from the controller to the host's address, as a
client sees the role; PostgreSQL, MySQL and command probes run on the host over the run's
connection, as the database's local administrator. A probe is retried briefly, since a
service that was just (re)started may need a moment.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Sequence
from typing import Any

from fossp.catalog.schema import Probe, ProbeKind, Role
from fossp.engine import wire
from fossp.engine.probes.common import ProbeFailed, ProbeResult, ProbeSkipped, Remote, Unreachable, text
from fossp.hosts.connector import Connector
from fossp.secrets import FINGERPRINT

__all__ = [
    "ON_HOST",
    "PROBED_KINDS",
    "REMOTE",
    "ProbeFailed",
    "ProbeResult",
    "Unreachable",
    "host_argv",
    "on_host_commands",
    "remote_prober",
    "run_probe",
    "verify_role",
]

RETRY_SECONDS = 15.0

#: Probes that run from the controller, as a client would reach the role, by the module
#: that speaks the protocol: ``await remote_prober(kind)(address, port, probe, settings,
#: connector)`` (the connector reads a CA file on the host; it may be left out otherwise).
#: Imported when a probe of the kind runs: the protocol libraries (minikerberos, ldap3,
#: httpx, dnspython) cost a third of a second to import, and most runs need one or two.
REMOTE: dict[ProbeKind, str] = {
    ProbeKind.TCP: "tcp",
    ProbeKind.HTTP: "http",
    ProbeKind.DNS: "dns",
    ProbeKind.TFTP: "tftp",
    ProbeKind.LDAP: "ldap",
    ProbeKind.KERBEROS: "kerberos",
    ProbeKind.DHCP: "dhcp",
    ProbeKind.RTMP: "rtmp",
    ProbeKind.STREAM: "stream",
    ProbeKind.SIP: "sip",
    ProbeKind.KEYSTONE: "keystone",
}


def remote_prober(kind: ProbeKind) -> Remote:
    """The ``probe`` function of the module that speaks ``kind``'s protocol."""
    prober: Remote = importlib.import_module(f"fossp.engine.probes.{REMOTE[kind]}").probe
    return prober


async def _on_host(connector: Connector, argv: list[str], expect: str) -> str:
    result = await connector.run(argv)
    output = (result.stdout + result.stderr).strip()
    if not result.ok or (expect and expect not in result.stdout):
        raise ProbeFailed(result.describe() if not result.ok else f"output lacks {expect!r}: {output[:300]}")
    return output[:300]


def host_argv(probe: Probe, port: int, settings: dict[str, Any]) -> list[str]:
    """The command an on-host probe runs: the query travels as one argument, never as shell text."""
    query = text(probe.query, settings)
    if probe.kind is ProbeKind.POSTGRESQL:
        return [
            "env",
            "--chdir=/",
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-X",
            "-tA",
            "-p",
            str(port),
            "-c",
            query,
        ]
    if probe.kind is ProbeKind.MYSQL:  # root through the unix socket: Debian and Fedora's default auth
        return [
            "mysql",
            "--user=root",
            "--protocol=socket",
            "--batch",
            "--skip-column-names",
            "-e",
            query,
        ]
    return [text(arg, settings) for arg in probe.argv or []]


def address(probe: Probe, settings: dict[str, Any], connector: Connector) -> str:
    """Where a network probe dials: the host, or the address its ``address_setting`` holds."""
    if probe.address_setting is None:
        return connector.address
    value = settings.get(probe.address_setting)
    if not value:
        raise ProbeSkipped(f"setting {probe.address_setting} (the address to probe) is not set")
    return str(value)


def _port(probe: Probe, settings: dict[str, Any]) -> int:
    return int(settings[probe.port_setting]) if probe.port_setting else (probe.port or 0)


#: Probes that run a command on the host (a query through the database's client, a command).
ON_HOST = {ProbeKind.POSTGRESQL, ProbeKind.MYSQL, ProbeKind.COMMAND}


def on_host_commands(role: Role, settings: dict[str, Any]) -> list[list[str]]:
    """The commands the role's on-host probes run: the facts round trip runs them ahead, so
    a run with nothing to change needs no round trip of its own per probe (see
    ``fossp.hosts.connector.Answering``). A probe whose command cannot be made yet (a
    setting missing, a secret kept only as a fingerprint) runs on its own, as before."""
    commands = []
    for probe in role.probes:
        secret = settings.get(probe.password_setting) if probe.password_setting else None
        if probe.kind not in ON_HOST or (isinstance(secret, str) and secret.startswith(FINGERPRINT)):
            continue
        try:
            commands.append(host_argv(probe, _port(probe, settings), settings))
        except (KeyError, ValueError, TypeError):
            continue
    return commands


async def _once(probe: Probe, settings: dict[str, Any], connector: Connector, peers: Sequence[Connector]) -> str:
    port = _port(probe, settings)
    if probe.kind is ProbeKind.DHCP and peers:  # a client on the server's link, as DHCP needs
        from fossp.engine.probes import dhcp

        return await dhcp.from_peers(peers, address(probe, settings, connector), port, probe, settings)
    if probe.kind in REMOTE:
        return await remote_prober(probe.kind)(address(probe, settings, connector), port, probe, settings, connector)
    return await _on_host(connector, host_argv(probe, port, settings), text(probe.expect, settings))


PROBED_KINDS = {*REMOTE, *ON_HOST}


async def run_probe(
    role: Role,
    probe: Probe,
    settings: dict[str, Any],
    connector: Connector,
    retry: float | None = None,
    peers: Sequence[Connector] = (),
) -> ProbeResult:
    """Run one probe, retrying until it passes or ``retry`` seconds (default RETRY_SECONDS)
    have gone by. ``peers``: other hosts of the run; a DHCP probe runs on the first of them on
    the server's link (a client there, as DHCP needs) rather than on the controller."""
    if connector.root or probe.kind not in PROBED_KINDS:
        why = "an offline root runs no services" if connector.root else f"no {probe.kind.value} prober yet"
        return ProbeResult(role.id, probe.name, probe.kind.value, None, f"skipped: {why}")
    secret = settings.get(probe.password_setting) if probe.password_setting else None
    if isinstance(secret, str) and secret.startswith(FINGERPRINT):  # status, upgrade: from the host's state
        why = f"needs the secret {probe.password_setting}, which the host's state keeps only as a fingerprint"
        return ProbeResult(role.id, probe.name, probe.kind.value, None, f"skipped: {why}")
    deadline = time.monotonic() + (RETRY_SECONDS if retry is None else retry)
    while True:
        try:
            output = await _once(probe, settings, connector, peers)
            return ProbeResult(role.id, probe.name, probe.kind.value, True, output)
        except ProbeSkipped as skipped:
            return ProbeResult(role.id, probe.name, probe.kind.value, None, f"skipped: {skipped}")
        except (ProbeFailed, wire.WireError, OSError, TimeoutError, UnicodeError) as error:
            message = str(error) or type(error).__name__
            if time.monotonic() >= deadline:
                return ProbeResult(role.id, probe.name, probe.kind.value, False, message)
        await asyncio.sleep(0.5)


async def verify_role(
    role: Role,
    settings: dict[str, Any],
    connector: Connector,
    retry: float | None = None,
    peers: Sequence[Connector] = (),
) -> list[ProbeResult]:
    return [await run_probe(role, probe, settings, connector, retry, peers) for probe in role.probes]
