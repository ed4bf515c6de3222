"""`fossp plan | deploy | status | decommission | facts` and `fossp inventory list`.

All of them take --target (a host, a group, `all`, `lab:NAME`; repeatable) and run on
every target host at once. Progress goes to stderr, results to stdout (--json for
scripts). Exit codes: 0 ok, 1 a host failed or a role is not running, 2 bad input.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import FormatOption, JsonOption, complete_role, new_app

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog
    from fossp.engine.cluster import ClusterRun, HostWork
    from fossp.engine.fleet import HostResult
    from fossp.engine.jobs import Order
    from fossp.hosts.inventory import HostSpec

TargetOption = Annotated[
    list[str],
    typer.Option("--target", "-t", help="Host, group, 'all', lab:NAME or [user@]address[:port]; repeatable."),
]
InventoryOption = Annotated[
    Path | None,
    typer.Option(
        "--inventory", "-i", help="Inventory file (FOSSP YAML, Ansible INI or YAML); default /etc/fossp/inventory.yaml."
    ),
]
BecomeOption = Annotated[
    bool, typer.Option("--become", help="Log in as the inventory's user and run commands through sudo -n.")
]
ProfileOption = Annotated[
    Path | None, typer.Option("--profile", "-p", help="Profile file with the roles and their settings.")
]
RolesArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Role IDs or names (instead of, or besides, --profile).", autocompletion=complete_role),
]
SetOption = Annotated[
    list[str],
    typer.Option("--set", help="A setting, ROLE.SETTING=VALUE (YAML value); adds ROLE to the run; repeatable."),
]
PreviewOption = Annotated[
    bool, typer.Option("--include-preview", help="Allow roles the stage gate has not launched yet.")
]
RetiredOption = Annotated[
    bool,
    typer.Option(
        "--include-retired",
        help="Allow roles the catalog retired or whose upstream is dead (named roles only; a warning says why).",
    ),
]
TimeoutOption = Annotated[
    list[str],
    typer.Option(
        "--timeout",
        help="A time bound, NAME=SECONDS (connect, facts, command, packages, package_wait, keepalive, host) "
        "or SECONDS for a host's whole run; repeatable. Inventory: fossp_timeout_NAME.",
    ),
]
QueueOption = Annotated[
    str | None,
    typer.Option(
        "--queue",
        help="Run through the task queue in this PostgreSQL database (postgresql://...; default FOSSP_QUEUE): "
        "`fossp queue worker` on any machine takes the hosts in shards.",
    ),
]
ShardSizeOption = Annotated[
    int, typer.Option("--shard-size", min=1, help="With --queue: hosts per shard (one worker runs a shard).")
]
QueueWaitOption = Annotated[
    float,
    typer.Option(
        "--queue-wait",
        min=1,
        help="With --queue: seconds with no worker running after which the shards still queued fail.",
    ),
]

inventory_app = new_app("Hosts and groups FOSSP acts on.")


def target_hosts(targets: list[str], inventory: Path | None, become: bool = False) -> list[HostSpec]:
    """The target hosts; --become makes every one of them run commands through sudo -n."""
    from fossp.hosts.inventory import default_inventory, resolve_targets

    hosts = resolve_targets(default_inventory(inventory), targets)
    return [host.model_copy(update={"become": True}) for host in hosts] if become else hosts


def bounds(hosts: list[HostSpec], values: list[str]) -> dict[str, float]:
    """The --timeout values, checked with every host's inventory bounds before any host is reached."""
    from fossp.hosts.timeouts import parse_timeout_options, timeouts_for

    overrides = parse_timeout_options(values)
    for host in hosts:
        timeouts_for(host.vars, overrides, f"inventory host {host.name}")
    return overrides


def _lab_restart(target: str) -> Any:
    """For a lab host, the controller-side restart that boots a restored root; else None."""
    if not target.startswith("lab:"):
        return None

    async def restart() -> None:
        import asyncio

        from fossp.lab import restart

        await asyncio.to_thread(restart, [target.removeprefix("lab:")])

    return restart


def _writable_folder(folder: Path, option: str) -> None:
    """Make ``folder`` (0700) or refuse it, before any host is reached: a backup that cannot
    be written must stop the run while nothing has changed."""
    import os

    from fossp.errors import BadInput

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(f"{option} {folder}: cannot create it ({error.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"{option} {folder}: not writable by this user")


def _note(text: str) -> None:
    """A line for the person at the terminal (stderr keeps --json output clean)."""
    from fossp.engine.jobs import note_to_stderr

    note_to_stderr(text)


def _work(
    hosts: list[HostSpec],
    roles: list[str] | None,
    profile: Path | None,
    sets: list[str],
    include_preview: bool,
    include_retired: bool = False,
    inventory: Path | None = None,
    become: bool = False,
) -> tuple[Catalog, dict[str, HostWork]]:
    """Each target's roles (with their given settings) and its place in multi-host roles;
    a platform's directory and backup director named as hosts are read there (before any
    target is reached)."""
    from fossp.catalog.status import governed_catalog
    from fossp.cli.backup_cmds import director_on, resolve_backup_directors
    from fossp.cli.selection_cmds import parse_assignments
    from fossp.engine.jobs import choose, host_work
    from fossp.platform.directory import resolve_directories

    catalog = governed_catalog()
    given = parse_assignments(sets, catalog)
    chosen, placements = choose(catalog, roles, profile, given, include_preview, include_retired, _note)
    work = host_work(catalog, hosts, chosen, placements, str(profile) if profile else "--target")
    resolve_directories(catalog, work, lambda name: one_host(name, inventory, become))
    resolve_backup_directors(catalog, work, lambda name: director_on(one_host(name, inventory, become)))
    return catalog, work


def one_host(name: str, inventory: Path | None, become: bool) -> HostSpec:
    """The one host ``name`` names (a host or lab:NAME; a group of several is bad input)."""
    from fossp.errors import BadInput

    hosts = target_hosts([name], inventory, become)
    if len(hosts) != 1:
        raise BadInput(f"{name}: names {len(hosts)} hosts; give one host")
    return hosts[0]


def _run(
    hosts: list[HostSpec],
    action: Any,
    as_json: bool,
    timeouts: dict[str, float] | None = None,
    shared: ClusterRun | Order | None = None,
) -> list[HostResult]:
    """Run ``action`` on every host; a host that ends (even one never reached) leaves the
    ``shared`` run's meeting points, so the others never wait for it."""
    import asyncio

    from fossp.engine.fleet import run_fleet, run_sharded, worker_count

    with _Progress([h.name for h in hosts], enabled=not as_json) as progress:
        if shared is None:  # hosts that share nothing: spread over the cores
            return run_sharded(hosts, action, progress.update, timeouts, worker_count(len(hosts)))
        return asyncio.run(run_fleet(hosts, action, progress.update, timeouts=timeouts, ended=shared.give_up))


def _queued(given: str | None) -> bool:
    """Whether the run goes through the queue: --queue, or FOSSP_QUEUE set."""
    import os

    return bool(given or os.environ.get("FOSSP_QUEUE"))


def _run_queued(
    action: str,
    hosts: list[HostSpec],
    catalog: Catalog,
    work: dict[str, HostWork],
    limits: dict[str, float],
    queue: tuple[str | None, int, float],
    as_json: bool,
) -> list[HostResult]:
    """The run's hosts in shards through the queue; each shard's result from whichever worker took it."""
    from fossp.engine.queue import check_queueable, queue_url, submit

    given, shard_size, wait = queue
    url = queue_url(given)
    check_queueable(work, catalog)
    with _Progress([h.name for h in hosts], enabled=not as_json) as progress:
        return submit(url, action, hosts, work, limits, shard_size, wait, progress.update)


def _finish(results: list[HostResult], failed_roles: int = 0) -> None:
    from fossp.errors import EXIT_FINDING

    if failed_roles or any(not r.ok for r in results):
        raise typer.Exit(EXIT_FINDING)


def plan(
    roles: RolesArgument = None,
    target: TargetOption = [],  # noqa: B006 - typer reads the default
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    profile: ProfileOption = None,
    set_: SetOption = [],  # noqa: B006
    include_preview: PreviewOption = False,
    include_retired: RetiredOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    diff: Annotated[
        bool, typer.Option("--diff", help="Show each file change as a unified diff (private files: hidden).")
    ] = False,
    queue: QueueOption = None,
    shard_size: ShardSizeOption = 24,
    queue_wait: QueueWaitOption = 300,
    as_json: JsonOption = False,
) -> None:
    """Show what `fossp deploy` would change on each host, and why (a dry run)."""
    plan_hosts(
        roles,
        target,
        inventory,
        become,
        profile,
        set_,
        include_preview,
        include_retired,
        timeout,
        diff,
        as_json,
        (queue, shard_size, queue_wait),
    )


def plan_hosts(
    roles: list[str] | None,
    target: list[str],
    inventory: Path | None,
    become: bool,
    profile: Path | None,
    set_: list[str],
    include_preview: bool,
    include_retired: bool,
    timeout: list[str],
    diff: bool,
    as_json: bool,
    queue: tuple[str | None, int, float] = (None, 24, 300),
) -> None:
    """`fossp plan`, with the plans of the backup registrations the run would bring up to date."""
    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)
    from fossp.engine.jobs import plan_action

    catalog, work = _work(hosts, roles, profile, set_, include_preview, include_retired, inventory, become)
    if _queued(queue[0]):
        results = _run_queued("plan", hosts, catalog, work, limits, queue, as_json)
    else:
        results = _run(hosts, plan_action(catalog, work), as_json, limits)
    planned = {r.host: r.value for r in results if r.ok}
    registered = _registrations(catalog, hosts, work, planned, (inventory, become, limits))
    _show_plans(results, as_json, diff, {"backup": registered} if registered else None)
    if not as_json:
        _show_registered(registered, dry_run=True)
    _finish(results, _failed_registrations(registered))


def _registrations(
    catalog: Catalog,
    hosts: list[HostSpec],
    work: dict[str, HostWork],
    plans: dict[str, Any],
    where: tuple[Path | None, bool, dict[str, float]],
    dry_run: bool = True,
) -> list[dict[str, Any]]:
    """After a run, the backup registration of each host that ended well and is
    registered (see ``registering``). ``where``: the inventory, --become and the run's
    time bounds."""
    from fossp.cli.backup_cmds import register, registering

    inventory, become, limits = where
    items = registering(catalog, hosts, work, plans, dry_run)
    return register(items, lambda name: one_host(name, inventory, become), dry_run, limits) if items else []


def _failed_registrations(registered: list[dict[str, Any]]) -> int:
    return sum(1 for item in registered if "error" in item)


def _show_registered(registered: list[dict[str, Any]], dry_run: bool) -> None:
    """A line per host registered (or not: why, one line on stderr)."""
    from fossp.output import console

    out, err = console(), console(stderr=True)
    for item in registered:
        if "error" in item:
            err.print(item["error"]["message"], highlight=False, markup=False, style="red")
            continue
        changes = sum(plan["changes"] for plan in item["plans"])
        verb = "would register" if dry_run else "registered"
        jobs = ", ".join(item["jobs"].values()) or "no jobs"
        out.print(
            f"{item['host']}: {verb} with the director on {item['director']} as {item['client']}: {jobs} "
            f"({changes} change(s))",
            highlight=False,
            markup=False,
        )
        for why in item["skipped"]:
            out.print(f"  ! {why}", highlight=False, markup=False, style="yellow")


def deploy(
    roles: RolesArgument = None,
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    profile: ProfileOption = None,
    set_: SetOption = [],  # noqa: B006
    include_preview: PreviewOption = False,
    include_retired: RetiredOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    rollback_on_failure: Annotated[
        bool,
        typer.Option(
            "--rollback-on-failure",
            help="If the run or a health probe fails, restore the snapshot taken before it (BTRFS roots).",
        ),
    ] = False,
    queue: QueueOption = None,
    shard_size: ShardSizeOption = 24,
    queue_wait: QueueWaitOption = 300,
    as_json: JsonOption = False,
) -> None:
    """Deploy roles: install, configure, start, open the firewall, then run the health probes.

    A run that an earlier one left unfinished (killed, or its host lost) is finished first.
    On a BTRFS root the run is bracketed by a pre/post snapshot pair. A host registered
    with a backup director (platform.backup_director) is registered again: its new roles'
    jobs (a director not reached then: one line, exit 1; the deploy stays done).
    """
    deploy_hosts(
        roles,
        target,
        inventory,
        become,
        profile,
        set_,
        (include_preview, include_retired, rollback_on_failure),
        timeout,
        as_json,
        (queue, shard_size, queue_wait),
    )


def deploy_hosts(
    roles: list[str] | None,
    target: list[str],
    inventory: Path | None,
    become: bool,
    profile: Path | None,
    set_: list[str],
    flags: tuple[bool, bool, bool],
    timeout: list[str],
    as_json: bool,
    queue: tuple[str | None, int, float] = (None, 24, 300),
) -> None:
    """`fossp deploy` (``flags``: include preview, include retired, roll back on failure);
    the hosts that ended well and are registered with a backup director are registered
    again (their roles' jobs), and a registration that fails is a finding of its own."""
    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)
    from fossp.engine.jobs import cluster_run, deploy_action
    from fossp.errors import BadInput

    include_preview, include_retired, rollback_on_failure = flags
    catalog, work = _work(hosts, roles, profile, set_, include_preview, include_retired, inventory, become)
    if _queued(queue[0]):
        if rollback_on_failure:
            raise BadInput("--rollback-on-failure: not with --queue yet (run without --queue)")
        results = _run_queued("deploy", hosts, catalog, work, limits, queue, as_json)
    else:
        cluster = cluster_run(catalog, work)
        action = deploy_action(catalog, work, cluster, rollback_on_failure, _lab_restart)
        results = _run(hosts, action, as_json, limits, cluster)
    ended = {r.host: r.value.plan for r in results if r.ok and r.value.plan is not None}
    registered = _registrations(catalog, hosts, work, ended, (inventory, become, limits), dry_run=False)
    failed = _show_deploys(results, as_json, {"backup": registered} if registered else None)
    if not as_json:
        _show_registered(registered, dry_run=False)
    _finish(results, failed + _failed_registrations(registered))


def status(
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    probe: Annotated[bool, typer.Option("--probe/--no-probe", help="Run the health probes.")] = True,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """Each deployed role's state from live checks (units, packages, files, probes); a run
    that did not end shows its roles as interrupted (exit 1)."""
    from fossp.catalog.loader import load_catalog
    from fossp.engine.jobs import status_action

    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)
    action, run = status_action(load_catalog(), hosts, probe)
    results = _run(hosts, action, as_json, limits, run)
    failed = _show_statuses(results, as_json)
    _finish(results, failed)


def decommission(
    roles: RolesArgument = None,
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    purge: Annotated[
        bool,
        typer.Option(
            "--purge",
            help="Remove the roles' data folders too, after saving an archive of them (and a database dump) here.",
        ),
    ] = False,
    backup_dir: Annotated[
        Path | None,
        typer.Option(
            "--backup-dir", help="Where --purge saves: DIR/HOST/ROLE-TIMESTAMP/ (default /var/lib/fossp/backups)."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask; required without a terminal (scripts).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and change nothing.")] = False,
    keep_backups: Annotated[
        bool | None,
        typer.Option(
            "--keep-backups/--drop-backups",
            help="A role with a backup job on its director: keep its backups in the director's catalog (the default "
            "without a terminal), or drop them. Asked on a terminal.",
        ),
    ] = None,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Remove what FOSSP added for the roles (all FOSSP roles if none are named), keeping their data.

    The plan comes first, shown like `fossp plan`'s, then the question (--yes: none; without
    a terminal --yes is required). Data folders stay on the host and are named; --purge
    removes them, once an archive and a database dump are saved on this machine.
    """
    import dataclasses
    import sys
    from datetime import UTC, datetime

    from fossp.catalog.loader import load_catalog
    from fossp.engine.decommission import (
        BACKUPS,
        Purge,
        Undone,
        refuse_partial_clusters,
        removal_question,
    )
    from fossp.engine.jobs import removal_action, removal_plan_action
    from fossp.errors import EXIT_FINDING, BadInput

    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)
    if not (yes or dry_run or sys.stdin.isatty()):
        raise BadInput(
            "decommission asks before it removes anything, and there is no terminal: give --yes (or --dry-run)"
        )
    catalog, refs = load_catalog(), list(roles or [])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    purging = Purge(str(backup_dir.resolve()) if backup_dir else BACKUPS, stamp) if purge else None
    if purging is not None and not dry_run:
        _writable_folder(Path(purging.base), "--backup-dir")

    plans = _run(hosts, removal_plan_action(catalog, refs, purging), as_json, limits)
    refuse_partial_clusters({r.host: r.value for r in plans if r.ok}, catalog)
    if dry_run or not as_json:
        _show_plans(plans, as_json)
    if dry_run:
        _finish(plans)
        return
    ready = {r.host: r.value for r in plans if r.ok and r.value.roles}
    if ready and not yes and not typer.confirm(removal_question(list(ready.values())), err=True):
        _note("nothing changed")
        raise typer.Exit(EXIT_FINDING)
    backups, drop = _backups_question(hosts, ready, keep_backups, yes)

    removing, order = removal_action(catalog, refs, purging, ready)
    done = {r.host: r for r in _run([h for h in hosts if h.name in ready], removing, as_json, limits, order)}
    results = [done.get(r.host) or (dataclasses.replace(r, value=Undone(plan=r.value)) if r.ok else r) for r in plans]
    settled = _settle_backups(hosts, backups, drop, {r.host for r in results if r.ok}, (inventory, become))
    _show_decommissions(results, as_json, settled)
    _finish(results, _failed_registrations(list(settled.values())))


def _backups_question(
    hosts: list[HostSpec], ready: dict[str, Any], keep: bool | None, yes: bool
) -> tuple[dict[str, dict[str, Any]], bool]:
    """The backup jobs of the roles leaving (host -> its record) and whether to drop them:
    as --keep-backups/--drop-backups says, else asked on a terminal, else kept."""
    import sys

    from fossp.cli.backup_cmds import leaving_jobs

    backups = leaving_jobs([h for h in hosts if h.name in ready], {host: plan.roles for host, plan in ready.items()})
    if not backups or keep is not None:
        return backups, keep is False
    if yes or not sys.stdin.isatty():
        return backups, False
    jobs = ", ".join(job for record in backups.values() for job in record["leaving"].values())
    return backups, not typer.confirm(f"Keep their backups on the director ({jobs})?", default=True, err=True)


def _settle_backups(
    hosts: list[HostSpec],
    backups: dict[str, dict[str, Any]],
    drop: bool,
    removed: set[str],
    where: tuple[Path | None, bool],
) -> dict[str, dict[str, Any]]:
    from fossp.cli.backup_cmds import settle_backups

    leaving = {host: record for host, record in backups.items() if host in removed}
    return settle_backups(hosts, leaving, drop, lambda name: one_host(name, *where)) if leaving else {}


def facts(
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Gather and show each host's facts (one round trip per host; read-only)."""
    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.hosts.facts import gather_facts

        report("facts")
        return await gather_facts(connector)

    results = _run(hosts, action, as_json, limits)
    _show_facts(results, as_json)
    _finish(results)


@inventory_app.command("list")
def inventory_list(
    inventory: InventoryOption = None, as_json: JsonOption = False, output_format: FormatOption = None
) -> None:
    """List the inventory's hosts, their groups and how they are reached."""
    from fossp.hosts.inventory import default_inventory

    _show_inventory(default_inventory(inventory), as_json)


class _Progress:
    """A live table on stderr: one line per host with what it is doing now (a deploy's
    step count among them) and the seconds since the run began."""

    def __init__(self, hosts: list[str], enabled: bool) -> None:
        from fossp.output import console

        self.steps = dict.fromkeys(hosts, "waiting")
        self.started = time.monotonic()
        self.console = console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.live: Any = None

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, host: str, message: str) -> None:
        """The display (and its refresh thread) starts with the first news, so worker
        processes are forked before there is any thread to fork."""
        self.steps[host] = f"{time.monotonic() - self.started:5.0f} s  {message}"
        if not self.enabled:
            return
        if self.live is None:
            from rich.live import Live

            self.live = Live(self._render(), console=self.console, transient=True, refresh_per_second=8)
            self.live.__enter__()
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(show_header=False, box=None)
        for host, step in self.steps.items():
            table.add_row(host, step)
        return table


def _errors(results: list[HostResult]) -> list[dict[str, Any]]:
    return [{"host": r.host, "error": r.error_data()} for r in results if not r.ok]


def _summary(results: list[HostResult], describe: Any, healthy: Any = None) -> None:
    """The per-host summary table that ends every fleet command: a host is ok only when
    it answered and, where ``healthy`` says so, every role on it is well."""
    from fossp.output import table

    def result(r: HostResult) -> str:
        if not r.ok:
            return "FAILED"
        return "ok" if healthy is None or healthy(r.value) else "ERROR"

    rows = [(r.host, result(r), f"{r.seconds:.1f}s", describe(r.value) if r.ok else r.error) for r in results]
    table(None, ["host", "result", "time", "summary"], rows)


#: What the signs before a plan's operations mean.
PLAN_LEGEND = "+ will change   ~ decided again after the changes before it   = already as wanted (why)"


def _show_plans(
    results: list[HostResult], as_json: bool, diff: bool = False, extra: dict[str, Any] | None = None
) -> None:
    from fossp.output import console, plain, print_json
    from fossp.secrets import MASK

    if as_json:
        print_json({"plans": [r.value.summary() for r in results if r.ok], "errors": _errors(results), **(extra or {})})
        return
    out = console()
    for result in results:
        if not result.ok:
            continue
        family, changes = result.value.family, len(result.value.changes)
        out.print(f"[bold]{plain(result.host)}[/bold] ({family}): {changes} change(s)")
        for note in result.value.notes:
            out.print(f"  ! {note}", highlight=False, markup=False, style="yellow")
        for op in result.value.operations:
            mark = "~" if op.pending else "+" if op.change else "="
            out.print(
                f"  {mark} {op.kind.value:<20} {plain(op.target)}  [dim]{plain(op.reason)}[/dim]",
                highlight=False,
            )
            shown = op.summary().get("diff") if diff and op.change else None
            if shown:
                text = "(private file: its diff is hidden)" if shown == MASK else shown.rstrip("\n")
                out.print("\n".join(f"      {line}" for line in text.splitlines()), highlight=False, markup=False)
    out.print(f"[dim]{PLAN_LEGEND}[/dim]", highlight=False)
    _summary(results, lambda plan: f"{len(plan.changes)} change(s)" if plan.changes else "nothing to do")


def _show_deploys(results: list[HostResult], as_json: bool, extra: dict[str, Any] | None = None) -> int:
    """Print what each host did; return how many roles ended in error."""
    from fossp.engine.jobs import outcome_data
    from fossp.output import console, plain, print_json

    failed = sum(1 for r in results if r.ok for s in r.value.states.values() if s == "error")
    if as_json:
        hosts = [
            {
                "host": r.host,
                "ok": r.ok,
                "error": r.error_data(),
                "seconds": round(r.seconds, 2),
                **(outcome_data(r.value) if r.ok else outcome_data(r.detail) if r.detail else {}),
            }
            for r in results
        ]
        print_json({"hosts": hosts, **(extra or {})})
        return failed
    out = console()
    for result in results:
        outcome = result.value if result.ok else result.detail
        if outcome is None:
            continue
        run = f"run {outcome.run}" if outcome.run else "nothing to change: the host was only read"
        out.print(f"[bold]{plain(result.host)}[/bold]: {len(outcome.applied)} change(s) applied ({run})")
        for note in ([outcome.recovered] if outcome.recovered else []) + outcome.notes:
            out.print(f"  ! {note}", highlight=False, markup=False, style="yellow")
        if outcome.snapshots:
            pair = ", ".join(f"{kind} {number}" for kind, number in outcome.snapshots.items())
            out.print(
                f"  snapshots: {pair} (`fossp restore {outcome.snapshots['pre']}` goes back)",
                highlight=False,
                markup=False,
            )
        if outcome.rollback:
            out.print(
                f"  rolled back to snapshot {outcome.rollback['number']}: {outcome.rollback['takes_effect']}"
                + (" (restarted)" if outcome.rollback.get("restarted") else ""),
                highlight=False,
                style="yellow",
            )
        for op in outcome.applied:
            out.print(f"  + {op.kind.value:<20} {op.target}", highlight=False, markup=False)
        for probe in outcome.probes:
            verdict = {True: "passed", False: "FAILED", None: "skipped"}[probe.ok]
            out.print(f"  probe {probe.name} ({probe.role}): {verdict}: {probe.output}", highlight=False, markup=False)
    _summary(
        results,
        lambda o: ", ".join(f"{_role_label(role)} {state}" for role, state in o.states.items()),
        lambda o: "error" not in o.states.values(),
    )
    return failed


def _show_statuses(results: list[HostResult], as_json: bool) -> int:
    from fossp.engine.jobs import status_data
    from fossp.output import print_json, table

    failed = sum(1 for r in results if r.ok for s in r.value.roles if s.state in BAD_STATES)
    if as_json:
        hosts = [
            {
                "host": r.host,
                "error": r.error_data(),
                **(status_data(r.value) if r.ok else {"fossp": {}, "roles": []}),
            }
            for r in results
        ]
        print_json({"hosts": hosts})
        return failed
    rows = [
        (
            r.host,
            f"{s.name} ({s.role})",
            s.state,
            s.recorded,
            "; ".join(f"{p.name} {_probe_word(p.ok)}" for p in s.probes) or "-",
            "; ".join(s.drift) or "-",
            "; ".join(s.problems) or "-",
        )
        for r in results
        if r.ok
        for s in r.value.roles
    ]
    table("roles", ["host", "role", "state", "recorded", "probes", "drift", "problems"], rows)
    _summary(results, _release_summary, lambda status: all(s.state not in BAD_STATES for s in status.roles))
    return failed


def _role_label(role_id: str) -> str:
    """A role as summaries name it: its name and its ID."""
    from fossp.catalog import load_catalog

    role = load_catalog().roles.get(role_id)
    return f"{role.name} ({role_id})" if role else role_id


#: Role states that make a host's result ERROR (and the command exit 1).
BAD_STATES = ("error", "interrupted")


def _probe_word(ok: bool | None) -> str:
    return "passed" if ok else "skipped" if ok is None else "FAILED"


def _release_summary(status: Any) -> str:
    """The host's roles, and the FOSSP release its os-release names."""
    fossp = status.fossp
    release = f"; FOSSP {fossp['release']} ({fossp['level']})" if fossp else ""
    return f"{len(status.roles)} role(s){release}"


def _show_decommissions(
    results: list[HostResult], as_json: bool, backup_jobs: dict[str, dict[str, Any]] | None = None
) -> None:
    """What each host lost and kept, where the backups are and how a dump is read back;
    what became of the roles' backup jobs on their director."""
    import shlex

    from fossp.output import console, print_json

    jobs = backup_jobs or {}
    if as_json:
        hosts = [
            {
                "host": r.host,
                "ok": r.ok,
                "error": r.error_data(),
                **(r.value.summary() if r.ok else {}),
                **({"backup_jobs": jobs[r.host]} if r.host in jobs else {}),
            }
            for r in results
        ]
        print_json({"hosts": hosts})
        return
    out = console()
    for host, settled in jobs.items():
        if "error" in settled:
            console(stderr=True).print(settled["error"]["message"], highlight=False, markup=False, style="red")
            continue
        what = "dropped from the director's catalog" if settled["dropped"] else "kept on the director"
        out.print(f"{host}: backups of {', '.join(settled['jobs'])} {what}", highlight=False, markup=False)
    for result in (r for r in results if r.ok):
        plan = result.value.plan
        if plan.kept:
            out.print(
                f"{result.host}: kept {', '.join(plan.kept)} (remove with --purge)", highlight=False, markup=False
            )
        for role, folder in plan.backups.items():
            out.print(f"{result.host}: {role}'s backup is in {folder}", highlight=False, markup=False)
        for dump, argv in plan.restore.items():
            out.print(f"  restore on a server: {shlex.join(argv)} < {dump}", highlight=False, markup=False)
        for warning in result.value.warnings:
            out.print(f"{result.host}: {warning}", highlight=False, markup=False, style="yellow")
        if result.value.recovered:
            out.print(f"{result.host}: {result.value.recovered}", highlight=False, markup=False, style="yellow")
        if result.value.snapshots:
            pair = ", ".join(f"{kind} {number}" for kind, number in result.value.snapshots.items())
            out.print(f"{result.host}: snapshots {pair} (`fossp restore` goes back)", highlight=False, markup=False)
    _summary(
        results,
        lambda u: (
            f"removed {', '.join(u.roles) or 'nothing'}: {len(u.undone)} change(s) undone, "
            f"{len(u.removed_packages)} package(s) removed"
            + (f"; kept {', '.join(u.plan.kept)}" if u.plan.kept else "")
            + "".join(f"; backup in {folder}" for folder in u.plan.backups.values())
        ),
    )


def _show_facts(results: list[HostResult], as_json: bool) -> None:
    from fossp.output import print_json

    if as_json:
        print_json(
            {
                "hosts": [
                    r.value.model_dump(mode="json", exclude={"files", "state_json"})
                    if r.ok
                    else {"host": r.host, "error": r.error_data()}
                    for r in results
                ]
            }
        )
        return
    _summary(
        results,
        lambda f: (
            f"{f.os.pretty_name or f.os.id}, {f.package_manager}, {len(f.packages)} packages, "
            f"{sum(1 for u in f.units.values() if u.active == 'active')} active units, root fs {f.root_fs}, "
            f"SELinux {f.selinux.mode}, firewalld {'running' if f.firewall.running else 'off'}; "
            f"facts in {f.seconds * 1000:.0f} ms"
        ),
    )


def _inventory_host(spec: HostSpec, groups: list[str]) -> dict[str, Any]:
    """A host of `inventory list --json`: named ``host``, and its files ``*_path``, as in
    every other document (the lab's hosts, the fleet commands')."""
    data = spec.model_dump()
    renamed = {"host": data.pop("name"), "key_path": data.pop("key"), "known_hosts_path": data.pop("known_hosts")}
    return {**renamed, **data, "groups": groups}


def _show_inventory(inventory: Any, as_json: bool) -> None:
    from fossp.output import print_json, table

    groups = {name: [g for g, members in inventory.groups.items() if name in members] for name in inventory.hosts}
    if as_json:
        print_json(
            {
                "source": inventory.source,
                "hosts": [_inventory_host(h, groups[h.name]) for h in inventory.hosts.values()],
                "groups": inventory.groups,
            }
        )
        return
    rows = [
        (h.name, h.connection, f"{h.user}@{h.address}:{h.port}", ", ".join(groups[h.name]), len(h.vars))
        for h in inventory.hosts.values()
    ]
    table(f"inventory {inventory.source}", ["host", "connection", "reached as", "groups", "vars"], rows)
