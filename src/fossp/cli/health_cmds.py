"""`fossp health`: each host's and each role's health, read over SNMP from the agent the
platform configures (FOSSP-HEALTH-MIB), as any SNMP monitoring system would read it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fossp.cli.common import JsonOption
from fossp.cli.deploy_cmds import InventoryOption, TargetOption


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
    import asyncio
    import time

    from fossp.catalog import load_catalog
    from fossp.cli.deploy_cmds import target_hosts
    from fossp.cli.platform_cmds import PLATFORM_ROLE
    from fossp.cli.selection_cmds import parse_assignments
    from fossp.errors import EXIT_FINDING, BadInput
    from fossp.platform.monitor import reach, read_all

    if not target:
        raise BadInput("health: give --target (a host, a group, all or lab:NAME)")
    catalog = load_catalog()
    role = catalog.role(PLATFORM_ROLE)
    given = parse_assignments([f"{PLATFORM_ROLE}.{value}" for value in set_], catalog).get(role.id, {})
    hosts = target_hosts(target, inventory)
    hosts_reach = [(host, reach(role, given, host)) for host in hosts]  # bad settings: before any read
    healthy = True
    try:
        while True:
            reports = asyncio.run(read_all(hosts_reach, timeout))
            healthy = all(report["ok"] for report in reports)
            _show(reports, as_json, watch)
            if not watch:
                break
            time.sleep(every)
    except KeyboardInterrupt:
        pass
    if not healthy:
        raise typer.Exit(EXIT_FINDING)


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
