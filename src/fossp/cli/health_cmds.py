"""`fossp health`: each host's and each role's health, read over SNMP from the agent the
platform configures (FOSSP-HEALTH-MIB), as any SNMP monitoring system would read it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import JsonOption
from fossp.cli.deploy_cmds import InventoryOption, TargetOption

if TYPE_CHECKING:
    from fossp.catalog.schema import Role
    from fossp.hosts.inventory import HostSpec
    from fossp.platform.health import HostHealth
    from fossp.platform.snmp import Credentials

SECRETS = ("snmp_auth_password", "snmp_priv_password")


def health(
    target: TargetOption = [],  # noqa: B006 - typer reads the default
    inventory: InventoryOption = None,
    set_: Annotated[
        list[str],
        typer.Option("--set", help="A platform setting as the hosts have it, NAME=VALUE (e.g. snmp_user=monitor)."),
    ] = [],  # noqa: B006
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.5, max=60, help="Seconds to wait for each SNMP answer.")
    ] = 3.0,
    watch: Annotated[bool, typer.Option("--watch", help="Read again every --every seconds until interrupted.")] = False,
    every: Annotated[float, typer.Option("--every", min=1, max=3600, help="Seconds between reads with --watch.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Each host's and each role's health over SNMP, as the host's health timer last found
    it (exit 1 when anything is unhealthy).

    The platform (`fossp platform apply`) runs every deployed role's checks and the host's
    (load, memory, file systems, failed units) on a timer; its SNMP agent publishes them
    under FOSSP-HEALTH-MIB (docs/health.md), read here with SNMPv3 and the passphrases
    FOSSP generated for each host (or those given with --set). No SSH is used. A host whose
    agent does not answer, or whose last check is three intervals old (stale), is unhealthy.
    With --watch and --json, one JSON document per line per read.
    """
    import time

    from fossp.catalog import load_catalog
    from fossp.cli.deploy_cmds import target_hosts
    from fossp.cli.platform_cmds import PLATFORM_ROLE
    from fossp.cli.selection_cmds import parse_assignments
    from fossp.errors import EXIT_FINDING, BadInput

    if not target:
        raise BadInput("health: give --target (a host, a group, all or lab:NAME)")
    catalog = load_catalog()
    role = catalog.role(PLATFORM_ROLE)
    given = parse_assignments([f"{PLATFORM_ROLE}.{value}" for value in set_], catalog).get(role.id, {})
    hosts = target_hosts(target, inventory)
    reach = [(host, _reach(role, given, host)) for host in hosts]  # bad settings: before any read
    healthy = True
    try:
        while True:
            reports = _read_all(reach, timeout)
            healthy = all(report["ok"] for report in reports)
            _show(reports, as_json, watch)
            if not watch:
                break
            time.sleep(every)
    except KeyboardInterrupt:
        pass
    if not healthy:
        raise typer.Exit(EXIT_FINDING)


def _reach(role: Role, given: dict[str, Any], host: HostSpec) -> tuple[int, Credentials] | str:
    """The agent's port and the SNMPv3 user, or why the host cannot be read."""
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


def _read_all(reach: list[tuple[HostSpec, tuple[int, Credentials] | str]], timeout: float) -> list[dict[str, Any]]:
    import asyncio

    async def read_all() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(_read(host, how, timeout) for host, how in reach)))

    return asyncio.run(read_all())


async def _read(host: HostSpec, how: tuple[int, Credentials] | str, timeout: float) -> dict[str, Any]:
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


def _show(reports: list[dict[str, Any]], as_json: bool, watch: bool) -> None:
    from fossp.output import console, emit, print_json

    if as_json and watch:
        print_json({"hosts": reports}, one_line=True)
        return

    def render() -> None:
        if watch:
            console().clear()
        for report in reports:
            _render(report)

    emit({"hosts": reports}, as_json, render)


def _render(report: dict[str, Any]) -> None:
    from fossp.output import console, table

    if "error" in report:
        console().print(f"{report['host']}: [red]UNREADABLE[/red]: {report['error']['message']}")
        return
    system = report["system"]
    mark = {True: "OK", False: "FAIL"}
    total, available = system["memory_total_kb"], system["memory_available_kb"]
    memory_ok = not any(problem.startswith("memory:") for problem in report["problems"])
    rows: list[list[str]] = [
        ["host", "load", "OK", " ".join(f"{value:.2f}" for value in system["load"])],
        ["host", "memory", mark[memory_ok], f"{available // 1024} of {total // 1024} MiB available"],
        ["host", "units", mark[not system["failed_units"]], " ".join(system["failed_units"]) or "none failed"],
    ]
    rows += [
        ["host", fs["mount"], mark[fs["ok"]], f"{fs['used_percent']}% used, {fs['available_kb'] // 1024} MiB free"]
        for fs in system["file_systems"]
    ]
    rows += [[r["name"], p["name"], mark[p["ok"]], p["message"]] for r in report["roles"] for p in r["probes"]]
    title = (
        f"Health of {report['host']}: {report['status'].upper()} "
        f"(checked {report['age_seconds']} s ago, every {report['interval_seconds']} s)"
    )
    table(title, ["Host", "Role", "Check", "Result", "Detail"], [[report["host"], *row] for row in rows])
    for problem in report["problems"]:
        console().print(f"  [red]problem[/red]: {problem}")
