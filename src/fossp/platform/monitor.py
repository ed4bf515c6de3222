"""Reading hosts' health over SNMP, for `fossp health` and the web console: each host's
SNMPv3 user (the platform's settings as the host has them, its passphrases as FOSSP
generated them here), the walk of FOSSP-HEALTH-MIB, and the report as both show it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fossp.catalog.schema import Role
    from fossp.hosts.inventory import HostSpec
    from fossp.platform.health import HostHealth
    from fossp.platform.snmp import Credentials

SECRETS = ("snmp_auth_password", "snmp_priv_password")
Reach = tuple[int, "Credentials"] | str


def reach(role: Role, given: dict[str, Any], host: HostSpec) -> Reach:
    """The agent's port and the SNMPv3 user of ``host``, or why it cannot be read; a bad
    setting is BadInput (before any host is asked)."""
    from fossp.platform.snmp import Credentials
    from fossp.secrets import kept_secret
    from fossp.selection.profile import resolve_settings

    overrides = {
        s.name: host.vars[f"{role.name}_{s.name}"] for s in role.settings if f"{role.name}_{s.name}" in host.vars
    }
    settings = resolve_settings(role, {**given, **overrides}, host.name)
    for name in SECRETS:
        settings[name] = settings.get(name) or kept_secret(role.name, host.name.replace("/", "_"), name)
    if not settings["snmp_auth_password"] or (settings["snmp_privacy"] and not settings["snmp_priv_password"]):
        return (
            "no SNMPv3 passphrase for this host on this controller: apply the platform from here "
            f"(`fossp platform apply --target {host.name}`) or give --set snmp_auth_password=... "
            "and snmp_priv_password=..."
        )
    port = _udp_port(settings["snmp_listen"])
    if port is None:
        return (
            f"the agent listens on no UDP address that others reach (snmp_listen {', '.join(settings['snmp_listen'])})"
        )
    privacy = settings["snmp_priv_password"] if settings["snmp_privacy"] else None
    return port, Credentials(settings["snmp_user"], settings["snmp_auth_password"], privacy)


def _udp_port(listen: list[str]) -> int | None:
    """The port of the first UDP address in snmp_listen that is not loopback-only."""
    for address in listen:
        transport, _, rest = address.partition(":")
        host, _, port = rest.rpartition(":")
        if transport in ("udp", "udp6") and host not in ("127.0.0.1", "localhost", "[::1]"):
            return int(port)
    return None


async def read_all(hosts: list[tuple[HostSpec, Reach]], timeout: float) -> list[dict[str, Any]]:
    """Every host's report, read at once: one slow agent holds up no other."""
    return list(await asyncio.gather(*(read(host, how, timeout) for host, how in hosts)))


async def read(host: HostSpec, how: Reach, timeout: float) -> dict[str, Any]:
    """One host's report (``fossp health --json``'s shape), or its error."""
    from fossp.platform.health import UnreadableTree, parse_tree
    from fossp.platform.snmp import AgentError, read_tree

    if isinstance(how, str):
        return _failed(host, how, "no-credentials")
    port, who = how
    try:
        tree = await read_tree(host.address, port, who, timeout)
        return _report(host, parse_tree(tree))
    except AgentError as error:
        return _failed(host, str(error), "snmp-unanswered")
    except UnreadableTree as error:
        return _failed(host, f"SNMP agent at {host.address}:{port}/udp: {error}", "no-health-tree")


def _failed(host: HostSpec, message: str, code: str) -> dict[str, Any]:
    error = {"message": message, "where": host.name, "code": code}
    return {"host": host.name, "address": host.address, "ok": False, "status": "unreadable", "error": error}


def _report(host: HostSpec, found: HostHealth) -> dict[str, Any]:
    from datetime import UTC, datetime

    from fossp.platform.health import Status

    problems = [p for p in found.problems.split("; ") if p]
    if found.status is Status.STALE:
        problems.insert(
            0, f"last checked {found.age} s ago (every {found.interval} s): the health timer is not running"
        )
    return {
        "host": host.name,
        "address": host.address,
        "ok": found.ok,
        "status": found.status.name.lower(),
        "checked_at": datetime.fromtimestamp(found.checked_at, UTC).isoformat(),
        "age_seconds": found.age,
        "interval_seconds": found.interval,
        "problems": problems,
        "system": {
            "ok": found.host_ok,
            "load": list(found.load),
            "memory_total_kb": found.memory_total_kb,
            "memory_available_kb": found.memory_available_kb,
            "failed_units": found.failed_units,
            "file_systems": [vars(fs) for fs in found.file_systems],
        },
        "roles": [
            {
                "role": r.role_id,
                "name": r.name,
                "ok": r.ok,
                "passed": r.passed,
                "total": r.total,
                "message": r.message,
                "probes": [vars(p) for p in r.probes],
            }
            for r in found.roles
        ],
    }
