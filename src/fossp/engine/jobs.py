"""What `plan`, `deploy`, `status` and `decommission` do on each host of a fleet, shared by
the CLI and the web console so both choose roles, check them and act the same way.

Each ``*_action`` gives the per-host coroutine that :func:`fossp.engine.fleet.run_fleet`
runs; its ``report`` callback is the progress hook (one line per step and operation),
which the CLI shows as a live table and the web console streams to the page.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fossp.errors import BadInput

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog
    from fossp.catalog.schema import Role
    from fossp.engine.cluster import ClusterRun, HostWork
    from fossp.engine.decommission import Purge, Removal
    from fossp.engine.fleet import Action
    from fossp.hosts.inventory import HostSpec

Note = Callable[[str], None]
Choices = list[tuple[str, dict[str, Any]]]
Placements = dict[str, dict[str, list[str]]]
Restart = Callable[[str], Callable[[], Awaitable[None]] | None]


def note_to_stderr(text: str) -> None:
    """A line for the person at the terminal (stderr keeps --json output clean)."""
    sys.stderr.write(f"fossp: {text}\n")


def no_recipe(role: Role) -> str | None:
    """Refuse a half deploy: without a recipe FOSSP could install a role but not configure it.
    A recipe that is there is loaded now, so a site recipe that does not validate, or one
    that needs python-augeas where it is missing, is named before any host is reached."""
    from fossp.engine.recipe import load_recipe
    from fossp.engine.recipe_files import deployable_roles, has_recipe
    from fossp.engine.render import require_augeas

    if has_recipe(role.name):
        if load_recipe(role.name).edits_with_augeas():
            require_augeas()
        return None
    ready = ", ".join(deployable_roles())
    return f"FOSSP has no deploy recipe for it yet (roles it deploys: {ready})"


def choose(
    catalog: Catalog,
    roles: list[str] | None,
    profile: Path | None,
    given: dict[str, dict[str, Any]],
    include_preview: bool,
    include_retired: bool = False,
    note: Note = note_to_stderr,
) -> tuple[Choices, Placements]:
    """Roles and given settings from the profile, the named roles and ``given`` (role ID ->
    settings), and where the profile places roles.

    Roles that chosen roles require are added (as Windows Server Manager does). Only
    launched roles deploy by default (the stage gate decides which); preview roles need
    ``include_preview`` and retired ones (or whose upstream is dead) are refused, naming
    their replacement, unless ``include_retired`` says to deploy them anyway (with a warning).
    """
    from fossp.selection.offer import in_deploy_order, requirements, retired_reason, why_not_offered
    from fossp.selection.profile import resolve_settings

    choices: dict[str, dict[str, Any]] = {}
    placements: Placements = {}
    if profile is not None:
        from fossp.selection.profile import exposure_warning, load_profile

        loaded = load_profile(profile, catalog)
        warning = exposure_warning(loaded, catalog, profile)
        if warning:
            note(warning)
        for choice in loaded.roles:
            choices[choice.id] = dict(choice.settings)
            placed = choice.placement(catalog.roles[choice.id])
            if placed is not None:
                placements[choice.id] = placed
    for ref in roles or []:
        choices.setdefault(catalog.role(ref).id, {})
    for role_id, values in given.items():
        choices.setdefault(role_id, {}).update(values)
    if not choices:
        raise BadInput("no roles given: name roles (e.g. `fossp deploy nginx`) or give --profile FILE")
    for needed, relation, owner in requirements(catalog, list(choices)):
        if needed.id not in choices:
            choices[needed.id] = {}
            note(f"adding {needed.id} ({needed.implementation}), required by {owner}: {relation.reason}")
    choices = {role_id: choices[role_id] for role_id in in_deploy_order(catalog, list(choices))}
    for role_id, values in choices.items():
        role = catalog.roles[role_id]
        resolve_settings(role, values, "--set", complete=False)
        problem = why_not_offered(role, None, include_preview, include_retired) or no_recipe(role)
        if problem:
            raise BadInput(f"{role_id} ({role.implementation}) is not offered for deploy: {problem}")
        retired = retired_reason(role)
        if retired:
            note(f"warning: deploying {role_id} ({role.implementation}) although {retired}")
    return list(choices.items()), placements


def host_work(
    catalog: Catalog, hosts: list[HostSpec], chosen: Choices, placements: Placements, where: str
) -> dict[str, HostWork]:
    """Each target's roles (with their given settings) and its place in multi-host roles."""
    from fossp.engine.cluster import layout

    return layout(catalog, chosen, placements, hosts, where)


def cluster_run(catalog: Catalog, work: dict[str, HostWork]) -> ClusterRun | None:
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


def plan_action(catalog: Catalog, work: dict[str, HostWork]) -> Action[Any]:
    """Each host's plan (a dry run): what a deploy would change, and why."""

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.apply import plan_on
        from fossp.engine.planner import wanted_roles

        report("facts")
        mine = work[host.name]
        wanted = wanted_roles(catalog, mine.choices, host.vars, host.name, mine.memberships)
        return (await plan_on(connector, wanted))[2]

    return action


def deploy_action(
    catalog: Catalog,
    work: dict[str, HostWork],
    cluster: ClusterRun | None,
    rollback_on_failure: bool = False,
    restart: Restart | None = None,
) -> Action[Any]:
    """Each host's deploy; with ``rollback_on_failure`` a failed one goes back to its snapshot
    (``restart`` gives the controller-side restart that boots a restored root, if any)."""

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
            reboot = restart(host.name) if restart is not None else None
            return await deploy_or_roll_back(connector, wanted, report, reboot, cluster)
        finally:
            if cluster is not None:  # before its connection closes: no peer probes through it now
                cluster.give_up(host.name)

    return action


def status_action(catalog: Catalog, hosts: list[HostSpec], probe: bool) -> tuple[Action[Any], ClusterRun | None]:
    """Each host's live role states; the run the hosts share, for probes from a peer (all
    hosts must then be worked on at once)."""
    from fossp.engine.cluster import ClusterRun
    from fossp.engine.fleet import MAX_CONCURRENT

    addresses: Mapping[str, str] = {h.name: h.address for h in hosts}
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

    return action, run


def removal_plan_action(catalog: Catalog, refs: list[str], purging: Purge | None) -> Action[Any]:
    """Each host's decommission plan (what would be removed and kept)."""

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        from fossp.engine.decommission import plan_removal

        report("facts")
        return (await plan_removal(connector, catalog, refs, purging))[2]

    return action


def removal_action(
    catalog: Catalog, refs: list[str], purging: Purge | None, ready: dict[str, Removal]
) -> tuple[Action[Any], Order]:
    """Each planned host's decommission, in the order its clusters need."""
    from fossp.engine.decommission import decommission_host, first_members

    order = Order(first_members(ready))

    async def action(connector: Any, host: HostSpec, report: Any) -> Any:
        await order.wait(host.name, report)
        undone = await decommission_host(connector, catalog, refs, report, purging, ready[host.name].gist)
        order.finished.add(host.name)
        return undone

    return action, order


class Order:
    """Decommission order within a cluster: a member waits until the hosts it must follow
    (engine.decommission.first_members) ended; one that failed stops it with a line."""

    def __init__(self, follows: dict[str, list[str]]) -> None:
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
        """Told by the fleet when ``host`` ended, however (the name fits ``run_fleet``'s hook)."""
        if host in self.ended:
            self.ended[host].set()


def outcome_data(outcome: Any) -> dict[str, Any]:
    """A deploy's outcome on one host as JSON (snake_case keys)."""
    return {
        "run_id": outcome.run,
        "read_only": outcome.run is None,
        "recovered": outcome.recovered,
        "snapshots": outcome.snapshots,
        "notes": outcome.notes,
        "rollback": outcome.rollback,
        "applied": [op.summary() for op in outcome.applied],
        "states": outcome.states,
        "probes": [vars(p) for p in outcome.probes],
    }


def status_data(status: Any) -> dict[str, Any]:
    """A host's live status as JSON: its roles (state, drift, problems, probes) and release."""
    return {
        "fossp": status.fossp,
        "roles": [{**vars(s), "probes": [vars(p) for p in s.probes]} for s in status.roles],
    }
