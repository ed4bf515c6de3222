"""`fossp plan | deploy | status | decommission | facts` and `fossp inventory list`.

All of them take --target (a host, a group, `all`, `lab:NAME`; repeatable) and run on
every target host at once. Progress goes to stderr, results to stdout (--json for
scripts). Exit codes: 0 ok, 1 a host failed or a role is not running, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import JsonOption, new_app

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog
    from fossp.catalog.schema import Role
    from fossp.engine.cluster import ClusterRun, HostWork
    from fossp.engine.fleet import HostResult
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
    list[str] | None, typer.Argument(help="Role IDs or names (instead of, or besides, --profile).")
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
    import sys

    sys.stderr.write(f"fossp: {text}\n")


def _no_recipe(role: Role) -> str | None:
    """Refuse a half deploy: without a recipe FOSSP could install a role but not configure it.
    A recipe that is there is loaded now, so a site recipe that does not validate, or one
    that needs python-augeas where it is missing, is named before any host is reached."""
    from fossp.engine.recipe import deployable_roles, has_recipe, load_recipe
    from fossp.engine.render import require_augeas

    if has_recipe(role.name):
        if load_recipe(role.name).edits_with_augeas():
            require_augeas()
        return None
    ready = ", ".join(deployable_roles())
    return f"FOSSP has no deploy recipe for it yet (roles it deploys: {ready})"


def _work(
    hosts: list[HostSpec],
    roles: list[str] | None,
    profile: Path | None,
    sets: list[str],
    include_preview: bool,
    include_retired: bool = False,
) -> tuple[Catalog, dict[str, HostWork]]:
    """Each target's roles (with their given settings) and its place in multi-host roles."""
    from fossp.engine.cluster import layout

    catalog, choices, placements = _choices(roles, profile, sets, include_preview, include_retired)
    return catalog, layout(catalog, choices, placements, hosts, str(profile) if profile else "--target")


def _choices(
    roles: list[str] | None, profile: Path | None, set_: list[str], include_preview: bool, include_retired: bool = False
) -> tuple[Catalog, list[tuple[str, dict[str, Any]]], dict[str, dict[str, list[str]]]]:
    """Roles and given settings from the profile, the arguments and --set, and where the
    profile places roles.

    Roles that chosen roles require are added (as Windows Server Manager does). Only
    launched roles deploy by default (the stage gate decides which); preview roles need
    --include-preview and retired ones (or whose upstream is dead) are refused, naming their
    replacement, unless --include-retired says to deploy them anyway (with a warning).
    """
    from fossp.catalog.status import governed_catalog
    from fossp.cli.selection_cmds import parse_assignments
    from fossp.errors import BadInput
    from fossp.selection.profile import resolve_settings
    from fossp.selection.recommend import in_deploy_order, requirements, retired_reason, why_not_offered

    catalog = governed_catalog()
    choices: dict[str, dict[str, Any]] = {}
    placements: dict[str, dict[str, list[str]]] = {}
    if profile is not None:
        from fossp.selection.profile import exposure_warning, load_profile

        loaded = load_profile(profile, catalog)
        warning = exposure_warning(loaded, catalog, profile)
        if warning:
            _note(warning)
        for choice in loaded.roles:
            choices[choice.id] = dict(choice.settings)
            placed = choice.placement(catalog.roles[choice.id])
            if placed is not None:
                placements[choice.id] = placed
    for ref in roles or []:
        choices.setdefault(catalog.role(ref).id, {})
    for role_id, values in parse_assignments(set_, catalog).items():
        choices.setdefault(role_id, {}).update(values)
    if not choices:
        raise BadInput("no roles given: name roles (e.g. `fossp deploy nginx`) or give --profile FILE")
    for needed, relation, owner in requirements(catalog, list(choices)):
        if needed.id not in choices:
            choices[needed.id] = {}
            _note(f"adding {needed.id} ({needed.implementation}), required by {owner}: {relation.reason}")
    choices = {role_id: choices[role_id] for role_id in in_deploy_order(catalog, list(choices))}
    for role_id, values in choices.items():
        role = catalog.roles[role_id]
        resolve_settings(role, values, "--set", complete=False)
        problem = why_not_offered(role, None, include_preview, include_retired) or _no_recipe(role)
        if problem:
            raise BadInput(f"{role_id} ({role.implementation}) is not offered for deploy: {problem}")
        retired = retired_reason(role)
        if retired:
            _note(f"warning: deploying {role_id} ({role.implementation}) although {retired}")
    return catalog, list(choices.items()), placements


def _cluster_run(catalog: Catalog, work: dict[str, HostWork]) -> ClusterRun | None:
    """What the hosts of a deploy share: multi-host roles' meeting points, and each host's
    connection for probes run from a peer (a DHCP probe from another target). None: every
    host on its own (no multi-host role, and no probe that a peer runs)."""
    from fossp.engine.cluster import ClusterRun

    members = {name for name, w in work.items() if w.memberships}
    chosen = {role_id for w in work.values() for role_id, _ in w.choices}
    if not members and (len(work) < 2 or not any(_peer_probed(catalog.roles[r]) for r in chosen)):
        return None
    return ClusterRun(set(work), members)


def _peer_probed(role: Role) -> bool:
    from fossp.catalog.schema import ProbeKind

    return any(probe.kind is ProbeKind.DHCP for probe in role.probes)


def _run(
    hosts: list[HostSpec],
    action: Any,
    as_json: bool,
    timeouts: dict[str, float] | None = None,
    shared: ClusterRun | _Order | None = None,
) -> list[HostResult]:
    """Run ``action`` on every host; a host that ends (even one never reached) leaves the
    ``shared`` run's meeting points, so the others never wait for it."""
    import asyncio

    from fossp.engine.fleet import run_fleet

    ended = shared.give_up if shared is not None else None
    with _Progress([h.name for h in hosts], enabled=not as_json) as progress:
        return asyncio.run(run_fleet(hosts, action, progress.update, timeouts=timeouts, ended=ended))


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
    as_json: JsonOption = False,
) -> None:
    """Show what `fossp deploy` would change on each host, and why (a dry run)."""
    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)
    catalog, work = _work(hosts, roles, profile, set_, include_preview, include_retired)

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.apply import plan_on
        from fossp.engine.planner import wanted_roles

        report("facts")
        mine = work[host.name]
        wanted = wanted_roles(catalog, mine.choices, host.vars, host.name, mine.memberships)
        return (await plan_on(connector, wanted))[2]

    results = _run(hosts, action, as_json, limits)
    _show_plans(results, as_json)
    _finish(results)


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
    as_json: JsonOption = False,
) -> None:
    """Deploy roles: install, configure, start, open the firewall, then run the health probes.

    A run that an earlier one left unfinished (killed, or its host lost) is finished first.
    On a BTRFS root the run is bracketed by a pre/post snapshot pair.
    """
    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)
    catalog, work = _work(hosts, roles, profile, set_, include_preview, include_retired)
    cluster = _cluster_run(catalog, work)

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.apply import deploy_host, deploy_or_roll_back
        from fossp.engine.planner import wanted_roles

        mine = work[host.name]
        try:
            wanted = wanted_roles(catalog, mine.choices, host.vars, host.name, mine.memberships)
            if cluster is not None:
                cluster.connectors[host.name] = connector
            if not rollback_on_failure:
                return await deploy_host(connector, wanted, report, cluster)
            return await deploy_or_roll_back(connector, wanted, report, _lab_restart(host.name), cluster)
        finally:
            if cluster is not None:  # before its connection closes: no peer probes through it now
                cluster.give_up(host.name)

    results = _run(hosts, action, as_json, limits, cluster)
    failed = _show_deploys(results, as_json)
    _finish(results, failed)


def status(
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    probe: Annotated[bool, typer.Option("--probe/--no-probe", help="Run the health probes.")] = True,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Each deployed role's state from live checks (units, packages, files, probes); a run
    that did not end shows its roles as interrupted (exit 1)."""
    from fossp.catalog.loader import load_catalog
    from fossp.engine.cluster import ClusterRun
    from fossp.engine.fleet import MAX_CONCURRENT

    hosts = target_hosts(target, inventory, become)
    limits = bounds(hosts, timeout)
    catalog, addresses = load_catalog(), {h.name: h.address for h in hosts}
    # the hosts' connections, for probes from a peer (all hosts must be worked on at once)
    shared = 1 < len(hosts) <= MAX_CONCURRENT
    run = ClusterRun({h.name for h in hosts}, members=set()) if shared else None

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.status import status_host

        report("checking")
        if run is None:
            return await status_host(connector, catalog, probe, None, addresses)
        run.connectors[host.name] = connector
        try:
            statuses = await status_host(connector, catalog, probe, run, addresses)
            await run.verified.arrive(host.name)  # peers may still probe through this host
            return statuses
        finally:
            run.give_up(host.name)

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
        decommission_host,
        first_members,
        plan_removal,
        refuse_partial_clusters,
        removal_question,
    )
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

    async def planning(connector: Any, host: HostSpec, report: Any) -> Any:
        report("facts")
        return (await plan_removal(connector, catalog, refs, purging))[2]

    plans = _run(hosts, planning, as_json, limits)
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

    order = _Order(first_members(ready))

    async def removing(connector: Any, host: HostSpec, report: Any) -> Any:
        await order.wait(host.name, report)
        undone = await decommission_host(connector, catalog, refs, report, purging, ready[host.name].gist)
        order.finished.add(host.name)
        return undone

    done = {r.host: r for r in _run([h for h in hosts if h.name in ready], removing, as_json, limits, order)}
    results = [done.get(r.host) or (dataclasses.replace(r, value=Undone(plan=r.value)) if r.ok else r) for r in plans]
    _show_decommissions(results, as_json)
    _finish(results)


class _Order:
    """Decommission order within a cluster: a member waits until the hosts it must follow
    (engine.decommission.first_members) ended; one that failed stops it with a line."""

    def __init__(self, follows: dict[str, list[str]]) -> None:
        import asyncio

        self.follows, self.finished = follows, set[str]()
        self.ended = {host: asyncio.Event() for wanted in follows.values() for host in wanted}

    async def wait(self, host: str, report: Any) -> None:
        from fossp.hosts.connector import HostError

        for first in self.follows.get(host, []):
            report(f"waiting for {first} to dissolve the cluster")
            await self.ended[first].wait()
            if first not in self.finished:
                raise HostError(
                    f"{host}: not decommissioned: {first}, the cluster's first member, did not finish; "
                    "its cluster undo needs this host's services (decommission again once it can)"
                )

    def give_up(self, host: str) -> None:
        """Told by the fleet when ``host`` ended, however (the name fits ``_run``'s hook)."""
        if host in self.ended:
            self.ended[host].set()


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
def inventory_list(inventory: InventoryOption = None, as_json: JsonOption = False) -> None:
    """List the inventory's hosts, their groups and how they are reached."""
    from fossp.hosts.inventory import default_inventory

    _show_inventory(default_inventory(inventory), as_json)


class _Progress:
    """A live table on stderr: one line per host with what it is doing now."""

    def __init__(self, hosts: list[str], enabled: bool) -> None:
        from fossp.output import console

        self.steps = dict.fromkeys(hosts, "waiting")
        self.console = console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.live: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.live import Live

            self.live = Live(self._render(), console=self.console, transient=True, refresh_per_second=8)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, host: str, message: str) -> None:
        self.steps[host] = message
        if self.live is not None:
            self.live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(show_header=False, box=None)
        for host, step in self.steps.items():
            table.add_row(host, step)
        return table


def _errors(results: list[HostResult]) -> list[dict[str, Any]]:
    return [{"host": r.host, "error": r.error} for r in results if not r.ok]


def _summary(results: list[HostResult], describe: Any) -> None:
    """The per-host summary table that ends every fleet command."""
    from fossp.output import table

    rows = [
        (r.host, "ok" if r.ok else "FAILED", f"{r.seconds:.1f}s", describe(r.value) if r.ok else r.error)
        for r in results
    ]
    table(None, ["host", "result", "time", "summary"], rows)


def _show_plans(results: list[HostResult], as_json: bool) -> None:
    from fossp.output import console, plain, print_json

    if as_json:
        print_json({"plans": [r.value.summary() for r in results if r.ok], "errors": _errors(results)})
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
    _summary(results, lambda plan: f"{len(plan.changes)} change(s)" if plan.changes else "nothing to do")


def _outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "run": outcome.run,
        "recovered": outcome.recovered,
        "snapshots": outcome.snapshots,
        "notes": outcome.notes,
        "rollback": outcome.rollback,
        "applied": [op.summary() for op in outcome.applied],
        "states": outcome.states,
        "probes": [vars(p) for p in outcome.probes],
    }


def _show_deploys(results: list[HostResult], as_json: bool) -> int:
    """Print what each host did; return how many roles ended in error."""
    from fossp.output import console, plain, print_json

    failed = sum(1 for r in results if r.ok for s in r.value.states.values() if s == "error")
    if as_json:
        hosts = [
            {
                "host": r.host,
                "ok": r.ok,
                "error": r.error,
                "seconds": round(r.seconds, 2),
                **(_outcome_json(r.value) if r.ok else _outcome_json(r.detail) if r.detail else {}),
            }
            for r in results
        ]
        print_json({"hosts": hosts})
        return failed
    out = console()
    for result in results:
        outcome = result.value if result.ok else result.detail
        if outcome is None:
            continue
        out.print(f"[bold]{plain(result.host)}[/bold]: {len(outcome.applied)} change(s) applied (run {outcome.run})")
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
    _summary(results, lambda o: ", ".join(f"{role} {state}" for role, state in o.states.items()))
    return failed


def _show_statuses(results: list[HostResult], as_json: bool) -> int:
    from fossp.output import print_json, table

    failed = sum(1 for r in results if r.ok for s in r.value.roles if s.state in ("error", "interrupted"))
    if as_json:
        hosts = [
            {
                "host": r.host,
                "error": r.error,
                "fossp": r.value.fossp if r.ok else {},
                "roles": [{**vars(s), "probes": [vars(p) for p in s.probes]} for s in r.value.roles] if r.ok else [],
            }
            for r in results
        ]
        print_json({"hosts": hosts})
        return failed
    rows = [
        (r.host, s.name, s.state, s.recorded, "; ".join(s.drift) or "-", "; ".join(s.problems) or "-")
        for r in results
        if r.ok
        for s in r.value.roles
    ]
    table("roles", ["host", "role", "state", "recorded", "drift", "problems"], rows)
    _summary(results, _release_summary)
    return failed


def _release_summary(status: Any) -> str:
    """The host's roles, and the FOSSP release its os-release names."""
    fossp = status.fossp
    release = f"; FOSSP {fossp['release']} ({fossp['level']})" if fossp else ""
    return f"{len(status.roles)} role(s){release}"


def _show_decommissions(results: list[HostResult], as_json: bool) -> None:
    """What each host lost and kept, where the backups are and how a dump is read back."""
    import shlex

    from fossp.output import console, print_json

    if as_json:
        hosts = [{"host": r.host, "ok": r.ok, "error": r.error, **(r.value.summary() if r.ok else {})} for r in results]
        print_json({"hosts": hosts})
        return
    out = console()
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
                    else {"host": r.host, "error": r.error}
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


def _show_inventory(inventory: Any, as_json: bool) -> None:
    from fossp.output import print_json, table

    groups = {name: [g for g, members in inventory.groups.items() if name in members] for name in inventory.hosts}
    if as_json:
        print_json(
            {
                "source": inventory.source,
                "hosts": [{**h.model_dump(), "groups": groups[h.name]} for h in inventory.hosts.values()],
                "groups": inventory.groups,
            }
        )
        return
    rows = [
        (h.name, h.connection, f"{h.user}@{h.address}:{h.port}", ", ".join(groups[h.name]), len(h.vars))
        for h in inventory.hosts.values()
    ]
    table(f"inventory {inventory.source}", ["host", "connection", "reached as", "groups", "vars"], rows)
