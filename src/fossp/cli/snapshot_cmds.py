"""`fossp snapshot list | create | delete | diff | cleanup` and `fossp restore SNAPSHOT`.

Snapshots of a BTRFS root, snapper's layout (`snapper list` shows the same ones). Every
command takes --target (repeatable) and runs on every target host at once. Destructive
ones (delete, cleanup, restore) show what they will do first, ask on a terminal and need
--yes otherwise. Exit codes: 0 ok, 1 a host failed, 2 bad input (an unknown snapshot, a
root that is not BTRFS, no --yes without a terminal): one line, nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import FormatOption, JsonOption, new_app
from fossp.cli.deploy_cmds import BecomeOption, InventoryOption, TargetOption, TimeoutOption, bounds, target_hosts

if TYPE_CHECKING:
    from fossp.engine.fleet import HostResult
    from fossp.engine.restore import RestorePreview
    from fossp.engine.snapshot import DeleteOutcome, SnapshotDiff, SnapshotFacts
    from fossp.hosts.inventory import HostSpec

app = new_app(
    "Snapshots of a host's BTRFS root (snapper's layout: `snapper list` shows them too); "
    "`fossp restore` returns a host to one."
)

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Go ahead without asking (needed without a terminal).")]


@dataclass
class _Refused:
    """A host refused the input (BadInput inside a fleet action): exit 2 after the run."""

    message: str
    where: str | None


def _guarded(action: Any) -> Any:
    """Turn a BadInput inside the action into a _Refused value (the others carry on)."""
    from fossp.errors import BadInput

    async def wrapped(connector: Any, host: HostSpec, report: Any) -> Any:
        try:
            return await action(connector, host, report)
        except BadInput as error:
            return _Refused(error.message, error.where)

    return wrapped


def _fleet(hosts: list[HostSpec], action: Any, as_json: bool, limits: dict[str, float]) -> list[HostResult]:
    from fossp.cli.deploy_cmds import _run

    return _run(hosts, _guarded(action), as_json, limits)


def _refusals(results: list[HostResult]) -> list[str]:
    return [r.value.message for r in results if r.ok and isinstance(r.value, _Refused)]


def _good(results: list[HostResult]) -> list[HostResult]:
    return [r for r in results if r.ok and not isinstance(r.value, _Refused)]


def _failures(results: list[HostResult]) -> list[dict[str, Any]]:
    """The error entries of the hosts that failed or refused the input, for a document."""
    return [_error_json(r) for r in results if not r.ok or isinstance(r.value, _Refused)]


def _err(text: str) -> None:
    import sys

    sys.stderr.write(f"fossp: {text}\n")


def _finish(results: list[HostResult], failed: bool = False) -> None:
    """Exit 2 if a host refused the input, 1 if one failed, else 0; one line each on stderr
    (under --json the document lists them instead)."""
    from fossp.errors import EXIT_ERROR, EXIT_FINDING
    from fossp.output import printed

    refused = _refusals(results)
    if not printed():
        for line in refused + [r.error or f"{r.host}: failed" for r in results if not r.ok]:
            _err(line)
    if refused:
        raise typer.Exit(EXIT_ERROR)
    if failed or any(not r.ok for r in results):
        raise typer.Exit(EXIT_FINDING)


def _stop_if_refused(results: list[HostResult], as_json: bool, frame: dict[str, Any] | None = None) -> None:
    """After a preview: any refusal or failure stops here, before anything changes. Under
    --json the command's document lists the failed hosts under ``hosts``, or under the
    ``errors`` of a ``frame`` that has that list (``frame``: the document's other fields)."""
    if _refusals(results) or any(not r.ok for r in results):
        if as_json:
            from fossp.output import print_json

            failed = _failures(results)
            frame = frame or {}
            print_json({**frame, "errors" if "errors" in frame else "hosts": failed})
        _finish(results)  # raises: exit 2 for a refusal, 1 for a failed host


def _error_json(result: HostResult) -> dict[str, Any]:
    """A failed or refused host's entry: its error as every document gives one."""
    from fossp.errors import error_data

    if result.ok:
        where = result.value.where or result.host
        return {"host": result.host, "error": error_data(result.value.message, where, "bad_input")}
    return {"host": result.host, "error": result.error_data()}


def _confirm(yes: bool, question: str) -> None:
    """Ask on a terminal; without one, --yes is required (exit 2, nothing changed)."""
    import sys

    from fossp.errors import EXIT_FINDING, BadInput

    if yes:
        return
    if not sys.stdin.isatty():
        raise BadInput(f"{question.rstrip('?')}: stdin is not a terminal, give --yes to go ahead; nothing changed")
    if not typer.confirm(question, default=False, err=True):
        _err("nothing changed")
        raise typer.Exit(EXIT_FINDING)


def _numbers(values: list[str]) -> list[int]:
    """Snapshot numbers and ranges ("3", "5-8"), as snapper takes them."""
    from fossp.errors import BadInput

    found: list[int] = []
    for value in values:
        low, sep, high = value.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise BadInput(f"snapshot {value!r}: a number or a range like 5-8")
        start, end = int(low), int(high if sep else low)
        if end < start or end - start > 10000:
            raise BadInput(f"snapshot range {value!r}: from a lower to a higher number")
        found += range(start, end + 1)
    return found


def _number(value: str) -> int:
    """One snapshot number: a bad one is one clear line (exit 2), not a usage screen."""
    from fossp.errors import BadInput

    if not value.isdigit():
        raise BadInput(f"snapshot {value!r}: a snapshot number (see `fossp snapshot list`)")
    return int(value)


# --------------------------------------------------------------------------- list


@app.command("list")
def list_cmd(
    target: TargetOption = [],  # noqa: B006 - typer reads the default
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """Each host's snapshots (type, pair, date, description, FOSSP run, important, default/running)."""
    hosts = target_hosts(target, inventory, become)
    time_bounds = bounds(hosts, timeout)

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.snapshot import gather_snapshot_facts

        report("snapshots")
        return await gather_snapshot_facts(connector)

    results = _fleet(hosts, action, as_json, time_bounds)
    _show_lists(results, as_json)
    _finish(results)


def _describe_host(facts: SnapshotFacts) -> str:
    from fossp.engine.snapshot import _size, not_btrfs_note

    if not facts.btrfs:
        return f"{facts.host}: {not_btrfs_note(facts)}"
    where = f", container {facts.container}" if facts.container else ""
    pending = f"; restore to {facts.next_root} waits for `fossp lab restart`" if facts.next_root is not None else ""
    return (
        f"{facts.host}: BTRFS root, snapshots by {facts.tool}, {_size(facts.free_bytes)} free "
        f"({facts.free_fraction:.0%}){where}; {len(facts.snapshots)} snapshot(s){pending}"
    )


def _show_lists(results: list[HostResult], as_json: bool) -> None:
    from fossp.output import console, print_json, table

    if as_json:
        print_json({"hosts": [r.value.summary() if _good([r]) else _error_json(r) for r in results]})
        return
    out = console()
    for result in _good(results):
        facts = result.value
        out.print(_describe_host(facts), highlight=False)
        if facts.btrfs and facts.snapshots:
            rows = [_row(s) for s in facts.snapshots]
            table(None, ["#", "type", "pre #", "date (UTC)", "cleanup", "description", "fossp run", "flags"], rows)


def _row(snap: Any) -> list[Any]:
    flags = [
        flag
        for flag, on in (
            ("important", snap.important),
            ("default", snap.default),
            ("running", snap.running),
            ("no subvolume", not snap.present),
        )
        if on
    ]
    if snap.problem:
        flags.append(snap.problem)
    date = snap.date.strftime("%Y-%m-%d %H:%M:%S") if snap.date else ""
    return [
        snap.number,
        snap.kind,
        snap.pre_number or "",
        date,
        snap.cleanup,
        snap.description,
        snap.run_id or "",
        ", ".join(flags),
    ]


# --------------------------------------------------------------------------- create


@app.command("create")
def create_cmd(
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    description: Annotated[
        str, typer.Option("--description", "-d", help="What the snapshot is for.")
    ] = "fossp snapshot",
    kind: Annotated[str, typer.Option("--type", help="single, pre or post (post needs --pre-number).")] = "single",
    pre_number: Annotated[int | None, typer.Option("--pre-number", help="The pre snapshot of a post one.")] = None,
    cleanup: Annotated[str, typer.Option("--cleanup", help="Cleanup algorithm: number, timeline or ''.")] = "number",
    important: Annotated[bool, typer.Option("--important", help="Counted against the important limit.")] = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Take a read-only snapshot of / (with snapper where it is configured, else btrfs)."""
    from fossp.engine.state import new_run_id

    hosts = target_hosts(target, inventory, become)
    time_bounds = bounds(hosts, timeout)
    run_id = new_run_id()

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.snapshot import take_snapshot

        report("snapshot")
        return await take_snapshot(connector, kind, description, run_id, cleanup, important, pre_number)

    results = _fleet(hosts, action, as_json, time_bounds)
    from fossp.output import console, print_json

    if as_json:
        made = [{"host": r.host, "snapshot": r.value.summary()} for r in _good(results)]
        print_json({"run_id": run_id, "hosts": made + _failures(results)})
    else:
        for result in _good(results):
            snap = result.value
            console().print(f"{result.host}: snapshot {snap.number} ({snap.kind}) taken: {snap.description}")
    _finish(results)


# --------------------------------------------------------------------------- delete


@app.command("delete")
def delete_cmd(
    numbers: Annotated[list[str], typer.Argument(help="Snapshot numbers or ranges (5-8).")],
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    yes: YesOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Delete snapshots (never the running or default one); asks first."""
    wanted = _numbers(numbers)
    hosts = target_hosts(target, inventory, become)
    time_bounds = bounds(hosts, timeout)

    async def preview(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.snapshot import check_deletable, gather_snapshot_facts

        facts = await gather_snapshot_facts(connector)
        return [facts.snapshot(n) for n in check_deletable(facts, wanted)]

    previews = _fleet(hosts, preview, as_json, time_bounds)
    _stop_if_refused(previews, as_json)
    if not as_json:
        from fossp.output import console

        for result in previews:
            for snap in result.value:
                console().print(f"{result.host}: delete snapshot {snap.number} ({snap.kind}) {snap.description}")
    _confirm(yes, f"delete {len(wanted)} snapshot(s) on {len(hosts)} host(s)?")

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.snapshot import delete_snapshots

        report("deleting")
        return await delete_snapshots(connector, wanted)

    results = _fleet(hosts, action, as_json, time_bounds)
    failed = _show_deletes(results, as_json)
    _finish(results, failed)


def _show_deletes(results: list[HostResult], as_json: bool) -> bool:
    from fossp.output import console, print_json

    outcomes: list[DeleteOutcome] = [r.value for r in _good(results)]
    failed = any(o.failed for o in outcomes)
    if as_json:
        print_json({"hosts": [o.summary() for o in outcomes] + _failures(results)})
        return failed
    out = console()
    for outcome in outcomes:
        deleted = ", ".join(map(str, outcome.deleted)) or "none"
        out.print(f"{outcome.host}: deleted {deleted}", highlight=False)
        for number, error in outcome.failed.items():
            out.print(f"{outcome.host}: snapshot {number} NOT deleted: {error}", highlight=False)
        for line in outcome.kept:
            out.print(f"{outcome.host}: {line}", highlight=False)
    return failed


# --------------------------------------------------------------------------- diff


@app.command("diff")
def diff_cmd(
    older: Annotated[str, typer.Argument(metavar="A", help="The older snapshot.")],
    newer: Annotated[
        str, typer.Argument(metavar="B", help="The newer snapshot; 0 (default) is the running system.")
    ] = "0",
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    path: Annotated[list[str], typer.Option("--path", help="Compare files only under PATH; repeatable.")] = [],  # noqa: B006
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Which packages and files differ between two snapshots (or a snapshot and now)."""
    a, b = _number(older), _number(newer)
    hosts = target_hosts(target, inventory, become)
    time_bounds = bounds(hosts, timeout)

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.snapshot import diff_snapshots

        report("comparing")
        return await diff_snapshots(connector, a, b, list(path) or ["/"])

    results = _fleet(hosts, action, as_json, time_bounds)
    _show_diffs([r.value for r in _good(results)], as_json, _failures(results))
    _finish(results)


def _show_diffs(diffs: list[SnapshotDiff], as_json: bool, failed: list[dict[str, Any]]) -> None:
    from fossp.output import console, print_json

    if as_json:
        print_json({"hosts": [d.summary() for d in diffs] + failed})
        return
    out = console()
    for diff in diffs:
        newer = "now" if diff.b == 0 else str(diff.b)
        out.print(f"[bold]{diff.host}[/bold]: snapshot {diff.a} -> {newer}")
        _print_packages(out, diff.packages, "  ")
        for change in diff.files:
            mark = {"added": "+", "removed": "-", "changed": "~"}[change.change]
            what = f" ({', '.join(change.what)})" if change.what else ""
            out.print(f"  {mark} {change.path}{what}", highlight=False, markup=False)
        if not diff.packages and not diff.files:
            out.print("  no differences")


def _print_packages(out: Any, packages: Any, indent: str) -> None:
    for name, version in packages.added.items():
        out.print(f"{indent}+ package {name} {version}", highlight=False, markup=False)
    for name, version in packages.removed.items():
        out.print(f"{indent}- package {name} {version}", highlight=False, markup=False)
    for name, (old, new) in packages.changed.items():
        out.print(f"{indent}~ package {name} {old} -> {new}", highlight=False, markup=False)


# --------------------------------------------------------------------------- cleanup


@app.command("cleanup")
def cleanup_cmd(
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    number_limit: Annotated[
        str | None, typer.Option("--number-limit", help="Keep this many (or a range, 2-50); default snapper's config.")
    ] = None,
    important_limit: Annotated[
        str | None, typer.Option("--important-limit", help="Keep this many important ones (or a range).")
    ] = None,
    min_age: Annotated[int | None, typer.Option("--min-age", help="Never delete a younger one (seconds).")] = None,
    yes: YesOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Delete old snapshots by count and free space (snapper's number cleanup); asks first."""
    from dataclasses import replace

    from fossp.engine.snapshot import Limits

    for value in (number_limit, important_limit):
        if value is not None:
            Limits.bounds(value)
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("number_limit", number_limit),
            ("number_limit_important", important_limit),
            ("number_min_age", min_age),
        )
        if value is not None
    }
    hosts = target_hosts(target, inventory, become)
    time_bounds = bounds(hosts, timeout)

    async def plan(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.snapshot import cleanup, gather_snapshot_facts, require_btrfs

        facts = await gather_snapshot_facts(connector)
        require_btrfs(facts)
        limits = replace(Limits.from_snapper(facts.snapper_settings), **overrides)
        report("planning")
        return await cleanup(connector, limits, dry_run=True)

    previews = _fleet(hosts, plan, as_json, time_bounds)
    _stop_if_refused(previews, as_json)
    planned = sum(len(r.value.planned) for r in previews)
    if planned == 0:
        if as_json:
            _show_deletes(previews, as_json)
        else:
            for result in previews:
                for line in result.value.kept:
                    _err(f"{result.host}: {line}")
            _err("nothing to clean up")
        _finish(previews)
        return
    if not as_json:
        from fossp.output import console

        for result in previews:
            if result.value.planned:
                numbers = ", ".join(map(str, result.value.planned))
                console().print(f"{result.host}: cleanup deletes {numbers}", highlight=False)
    _confirm(yes, f"delete {planned} snapshot(s) on {len(hosts)} host(s)?")

    confirmed = {r.host: r.value.planned for r in previews}

    async def act(connector: Any, host: HostSpec, report: Any) -> Any:
        """Delete what was shown and confirmed, not a plan made again since."""
        from fossp.engine.snapshot import delete_snapshots

        report("cleanup")
        return await delete_snapshots(connector, confirmed.get(host.name, []))

    results = _fleet(hosts, act, as_json, time_bounds)
    failed = _show_deletes(results, as_json)
    _finish(results, failed)


# --------------------------------------------------------------------------- restore


def restore(
    number: Annotated[
        str, typer.Argument(metavar="SNAPSHOT", help="The snapshot number to return to (see `fossp snapshot list`).")
    ],
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    yes: YesOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Return hosts to a snapshot: packages, /etc, units and FOSSP's state; data subvolumes are kept."""
    from fossp.engine.state import new_run_id

    snapshot = _number(number)
    hosts = target_hosts(target, inventory, become)
    time_bounds = bounds(hosts, timeout)

    async def preview(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.restore import restore_preview

        report("comparing")
        return await restore_preview(connector, snapshot)

    previews = _fleet(hosts, preview, as_json, time_bounds)
    _stop_if_refused(previews, as_json, {"run_id": None})
    if not as_json:
        for result in previews:
            _print_preview(result.value)
    _confirm(yes, f"restore {len(hosts)} host(s) to snapshot {snapshot}?")
    run_id = new_run_id()

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.restore import restore as restore_host

        report("restoring")
        return await restore_host(connector, snapshot, run_id)

    results = _fleet(hosts, action, as_json, time_bounds)
    from fossp.output import console, print_json

    if as_json:
        by_host = {r.host: r.value.summary() for r in previews}
        print_json(
            {
                "run_id": run_id,
                "hosts": [{"host": r.host, "preview": by_host.get(r.host), **r.value.summary()} for r in _good(results)]
                + _failures(results),
            }
        )
    else:
        for result in _good(results):
            outcome = result.value
            made = f", writable copy {outcome.new_root} is the default" if outcome.new_root is not None else ""
            console().print(
                f"{outcome.host}: restore to {outcome.number} ready (backup snapshot {outcome.backup}{made}); "
                f"it takes effect {outcome.takes_effect}",
                highlight=False,
                markup=False,
            )
    _finish(results)


def _print_preview(preview: RestorePreview) -> None:
    from fossp.output import console

    out = console()
    snap = preview.snapshot
    date = snap.date.strftime("%Y-%m-%d %H:%M:%S UTC") if snap.date else "no date"
    out.print(
        f"[bold]{preview.host}[/bold]: restore to snapshot {snap.number} ({snap.kind}, {date}, {snap.description})"
    )
    out.print("  reverts:")
    packages = preview.packages
    for name, version in packages.added.items():
        out.print(f"    remove package {name} {version} (installed since)", highlight=False, markup=False)
    for name, version in packages.removed.items():
        out.print(f"    bring back package {name} {version}", highlight=False, markup=False)
    for name, (old, new) in packages.changed.items():
        out.print(f"    package {name} {new} -> {old}", highlight=False, markup=False)
    for change in preview.etc_files:
        verb = {"added": "remove", "removed": "bring back", "changed": "revert"}[change.change]
        out.print(f"    {verb} {change.path}", highlight=False, markup=False)
    if preview.fossp_state:
        out.print("    FOSSP's state (/var/lib/fossp) as it was then", highlight=False, markup=False)
    if not (packages or preview.etc_files or preview.fossp_state):
        out.print("    no package or /etc differences (other files still return to the snapshot)")
    kept = ", ".join(preview.kept) or "none"
    out.print(f"  keeps: data subvolumes {kept}; a backup snapshot of now is taken first", markup=False)
    out.print(f"  takes effect {preview.takes_effect}", markup=False, highlight=False)
    for note in preview.notes:
        out.print(f"  note: {note}", markup=False, highlight=False)
