"""`fossp upgrade check|run`: the compatibility report, and upgrades that roll themselves back."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import JsonOption, new_app
from fossp.cli.deploy_cmds import BecomeOption, InventoryOption, TargetOption, TimeoutOption, bounds, target_hosts

if TYPE_CHECKING:
    from fossp.engine.fleet import HostResult
    from fossp.hosts.inventory import HostSpec
    from fossp.upgrade.report import Report
    from fossp.upgrade.service import CheckRequest

app = new_app(
    "Upgrades: a compatibility report before (and after), and upgrades at every release level "
    "(major, service pack, interim fix) that restore the pre-upgrade snapshot on any failure."
)

#: One host's whole upgrade: three package steps of 1800 s and a reboot (--timeout host=S changes it).
UPGRADE_HOST_BOUND = 3 * 1800.0 + 900.0

ToOption = Annotated[
    str | None,
    typer.Option("--to", help="Target release: 13, trixie, debian-13 (major), 12 or 12.N (service pack)."),
]
LevelOption = Annotated[
    str | None,
    typer.Option("--level", help="major, service-pack or interim-fix (with --package); checked against --to."),
]
PackageOption = Annotated[
    list[str],
    typer.Option("--package", help="An interim fix: update only this package (binary or source name); repeatable."),
]
ConfigOption = Annotated[
    bool,
    typer.Option("--config-check/--no-config-check", help="Try the roles' configuration with the new release."),
]
RefreshOption = Annotated[bool, typer.Option("--refresh", help="Fetch the archive metadata again (cached a day).")]


def _request(
    to: str | None, level: str | None, packages: list[str], config: bool, refresh: bool, rollback: bool = True
) -> CheckRequest:
    from fossp.lifecycle.version import Level
    from fossp.upgrade.releases import _level, _packages
    from fossp.upgrade.service import CheckRequest

    wanted = _level(level)
    names = _packages(packages)
    if to is not None:
        known_release(to)
    if to is None and wanted is None:
        from fossp.errors import BadInput

        raise BadInput("say where to go: --to RELEASE or --level major|service-pack|interim-fix")
    if wanted is Level.INTERIM_FIX and not names:
        from fossp.errors import BadInput

        raise BadInput("--level interim-fix names its packages: --package NAME (repeatable)")
    return CheckRequest(to, level, names, rollback, config, refresh)


def known_release(to: str) -> None:
    """Refuse a release no family has before any host is reached (downgrades are judged per host)."""
    from fossp.errors import BadInput
    from fossp.upgrade.releases import family_releases

    families = [family_releases(name) for name in ("debian", "fedora")]
    if not any(data.find(to) for data in families):
        known = "; ".join(f"{d.family}: {', '.join(r.version for r in d.releases)}" for d in families)
        raise BadInput(f"--to {to!r}: no such release ({known})")


def _fleet(hosts: list[HostSpec], action: Any, as_json: bool, limits: dict[str, float]) -> list[HostResult]:
    from fossp.cli.snapshot_cmds import _fleet as fleet

    return fleet(hosts, action, as_json, limits)


def _refused(results: list[HostResult]) -> list[str]:
    from fossp.cli.snapshot_cmds import _refusals

    return _refusals(results)


@app.command("check")
def check(
    to: ToOption = None,
    target: TargetOption = [],  # noqa: B006
    level: LevelOption = None,
    package: PackageOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    config_check: ConfigOption = True,
    refresh: RefreshOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
    as_html: Annotated[bool, typer.Option("--html", help="Print the report as an HTML page.")] = False,
) -> None:
    """Check hosts for an upgrade: what to address before (and after), read-only.

    Exit 0 clean, 1 an inhibitor (or an unreachable host), 2 a check or the input failed.
    """
    from fossp.engine.state import new_run_id

    request = _request(to, level, package, config_check, refresh)
    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)
    run_id = new_run_id()

    async def action(connector: Any, host: HostSpec, say: Any) -> Any:
        from fossp.upgrade.service import build_report, collect

        say("collecting facts")
        collected = await collect(connector, request, say)
        return build_report(collected, host.name, run_id)

    results = _fleet(hosts, action, as_json or as_html, limits)
    reports = [r.value for r in results if r.ok and not _refused_value(r.value)]
    _show_reports(run_id, reports, results, as_json, as_html)
    _exit(results, reports)


def _refused_value(value: Any) -> bool:
    return type(value).__name__ == "_Refused"


def _errors(results: list[HostResult]) -> list[dict[str, Any]]:
    from fossp.cli.snapshot_cmds import _failures

    return _failures(results)


def envelope(run_id: str, reports: list[Report], results: list[HostResult]) -> dict[str, Any]:
    """The JSON document of `upgrade check`: each report keeps its own report format
    version (``reports[].schema_version``); print_json gives the document's."""
    return {
        "run_id": run_id,
        "reports": [report.as_json() for report in reports],
        "errors": _errors(results),
    }


def _show_reports(run_id: str, reports: list[Report], results: list[HostResult], as_json: bool, as_html: bool) -> None:
    from fossp.output import print_json

    if as_json:
        print_json(envelope(run_id, reports, results))
        return
    if as_html:
        from fossp.upgrade.html import render_html

        typer.echo(render_html(run_id, reports, _errors(results)))
        return
    for report in reports:
        print_report(report)
    for error in _errors(results):
        _err(f"{error['host']}: {error['error']['message']}")


def _err(text: str) -> None:
    import sys

    sys.stderr.write(f"fossp: {text}\n")


def print_report(report: Report) -> None:
    from fossp.output import console, table

    out = console()
    target = report.target
    out.print(
        f"{report.host}: {target['label']} from {target['installed']} ({report.phase}, run {report.run_id})",
        markup=False,
    )
    prediction = report.prediction
    if prediction:
        mib = int(str(prediction["download_bytes"])) // 2**20
        moves = f"{prediction['upgraded']} upgraded, {prediction['installed']} new, {prediction['removed']} removed"
        out.print(f"  apt: {moves}, {mib} MiB to download", markup=False)
    changes = report.changes
    if changes:
        release = changes["release"]
        out.print(
            f"  changed: {release['from']} -> {release['to']}, {changes['upgraded']} upgraded, "  # type: ignore[index]
            f"{len(changes['added'])} added, {len(changes['removed'])} removed",  # type: ignore[arg-type]
            markup=False,
        )
    rows = [[c.status.value, c.when, c.name, c.title] for c in report.checks]
    table(None, ["status", "when", "check", "title"], rows)
    for entry in report.sorted_entries():
        flag = " INHIBITOR" if entry.inhibitor else ""
        out.print(f"[{entry.severity.value}{flag}] {entry.title} ({entry.when})", markup=False)
        out.print(f"    {entry.summary}", markup=False)
        for remedy in entry.detail.remediations:
            text = " ".join(remedy.context) if isinstance(remedy.context, list) else remedy.context
            out.print(f"    {'$ ' if remedy.type == 'command' else 'hint: '}{text}", markup=False)
    counts = report.counts()
    out.print(f"  {len(report.checks)} checks: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n), markup=False)


def _exit(results: list[HostResult], reports: list[Report]) -> None:
    from fossp.errors import EXIT_ERROR, EXIT_FINDING

    if _refused(results) or any(r.errors for r in reports):
        raise typer.Exit(EXIT_ERROR)
    if any(not r.ok for r in results) or any(r.inhibited for r in reports):
        raise typer.Exit(EXIT_FINDING)


@app.command("run")
def run(
    to: ToOption = None,
    target: TargetOption = [],  # noqa: B006
    level: LevelOption = None,
    package: PackageOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    rollback: Annotated[
        bool,
        typer.Option("--rollback/--no-rollback", help="Restore the pre-upgrade snapshot on any failure (default)."),
    ] = True,
    config_check: ConfigOption = True,
    refresh: RefreshOption = False,
    conffiles: Annotated[
        str,
        typer.Option(
            "--conffiles",
            help="Configuration files you changed that a package also changed: keep (yours stay, the new ones "
            "land beside as .dpkg-dist; the default) or new (the new ones, yours beside as .dpkg-old).",
        ),
    ] = "keep",
    host_sources: Annotated[
        bool,
        typer.Option(
            "--host-sources",
            help="On lab hosts too, upgrade from the host's own apt sources (renamed to the new release), "
            "not from the lab's repository.",
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Go ahead without asking (needed without a terminal).")
    ] = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Upgrade hosts: check (refuse on an inhibitor), snapshot, apply, migrate, reboot, verify.

    On any failure the pre-upgrade snapshot (root and role data) is restored and the
    probes run again, unless --no-rollback. Exit 0 upgraded, 1 refused/rolled back/failed.
    """
    from fossp.cli.snapshot_cmds import _confirm
    from fossp.engine.state import new_run_id

    if conffiles not in ("keep", "new"):
        from fossp.errors import BadInput

        raise BadInput(f"--conffiles {conffiles!r}: choose keep or new")
    request = replace(
        _request(to, level, package, config_check, refresh, rollback), host_sources=host_sources, conffiles=conffiles
    )
    hosts = target_hosts(target, inventory, become)
    limits = {"host": UPGRADE_HOST_BOUND, **bounds(hosts, timeout)}
    _confirm(yes, f"upgrade {len(hosts)} host(s) ({to or level})?")
    run_id = new_run_id()

    async def action(connector: Any, host: HostSpec, say: Any) -> Any:
        from fossp.upgrade.run import upgrade_host

        return await upgrade_host(connector, host, request, say, run_id)

    results = _fleet(hosts, action, as_json, limits)
    outcomes = [r.value for r in results if r.ok and not _refused_value(r.value)]
    _show_outcomes(results, as_json, run_id)
    if any(not o.ok for o in outcomes):
        raise typer.Exit(1)  # rolled back counts as a failed upgrade


def _print_outcome(outcome: Any) -> None:
    from fossp.output import console

    out = console()
    if outcome.status == "refused" and outcome.pre_report is not None:
        print_report(outcome.pre_report)
    out.print(f"{outcome.host}: {outcome.status} ({outcome.target}, {outcome.seconds:.0f} s)", markup=False)
    if outcome.failure:
        out.print(f"  failure: {outcome.failure}", markup=False)
    if outcome.pre_snapshot is not None:
        post = f", post snapshot {outcome.post_snapshot}" if outcome.post_snapshot is not None else ""
        kept = f", the failed state is snapshot {outcome.backup_snapshot}" if outcome.backup_snapshot else ""
        out.print(f"  pre snapshot {outcome.pre_snapshot}{post}{kept}", markup=False)
    for note in outcome.notes:
        out.print(f"  note: {note}", markup=False)
    for line in outcome.migrations:
        out.print(f"  migrated: {line}", markup=False)
    for probe in outcome.probes:
        state = "ok" if probe.ok else "FAILED" if probe.ok is False else "skipped"
        out.print(f"  probe {probe.role}/{probe.name}: {state}", markup=False)
    if outcome.post_report is not None:
        print_report(outcome.post_report)


@app.command("restore")
def restore(
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Go ahead without asking (needed without a terminal).")
    ] = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Undo an upgrade that did not finish (killed, or its rollback failed): root and role data back, restart.

    What changed since the pre-upgrade snapshot is kept aside in a "before restore" snapshot.
    """
    from fossp.cli.snapshot_cmds import _confirm, _stop_if_refused

    hosts = target_hosts(target, inventory, become)
    limits = {"host": UPGRADE_HOST_BOUND, **bounds(hosts, timeout)}

    async def preview(connector: Any, host: HostSpec, say: Any) -> Any:
        from fossp.upgrade.run import unfinished_upgrade

        return await unfinished_upgrade(connector)

    previews = _fleet(hosts, preview, as_json, limits)
    _stop_if_refused(previews, as_json, {"run_id": "", "hosts": [], "errors": []})
    if not as_json:
        for result in previews:
            record = result.value
            data = ", ".join(record.data_snapshots) or "no subvolume"
            typer.echo(
                f"{result.host}: upgrade {record.run_id} to {record.target} stopped at '{record.step}': restore "
                f"snapshot {record.pre_snapshot} and the data copies of {data}"
            )
    _confirm(yes, f"restore {len(hosts)} host(s) to their pre-upgrade snapshot?")

    async def action(connector: Any, host: HostSpec, say: Any) -> Any:
        from fossp.upgrade.run import restore_upgrade

        return await restore_upgrade(connector, host, say)

    results = _fleet(hosts, action, as_json, limits)
    _show_outcomes(results, as_json, "")


def _show_outcomes(results: list[HostResult], as_json: bool, run_id: str) -> None:
    outcomes = [r.value for r in results if r.ok and not _refused_value(r.value)]
    if as_json:
        from fossp.output import print_json

        print_json(
            {
                "run_id": run_id,
                "hosts": [o.summary() for o in outcomes],
                "errors": _errors(results),
            }
        )
    else:
        for outcome in outcomes:
            _print_outcome(outcome)
        for error in _errors(results):
            _err(f"{error['host']}: {error['error']['message']}")
    from fossp.errors import EXIT_ERROR, EXIT_FINDING

    if _refused(results):
        raise typer.Exit(EXIT_ERROR)
    if any(not r.ok for r in results) or any(not o.ok and o.status != "rolled-back" for o in outcomes):
        raise typer.Exit(EXIT_FINDING)
