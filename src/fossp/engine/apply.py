"""Apply: carry out a plan on one host, record every change in the ledger, verify.

``deploy_host`` plans and applies through the same functions ``fossp plan`` uses: the
plan is made from facts, its changes run in order, and after any change that alters the
host's facts (packages, setup steps) facts are gathered again and the plan is made
again, until nothing is left to do.

Write-ahead: before each change its ledger entry is saved on the host with everything
its undo needs (the packages the install will add, dependencies included; a copy of the
original file; the unit's state; a listing of the folders that exist), then the change
runs, then the entry is marked done. A run killed at any point leaves an entry that the
next run finds (engine.recovery): ``deploy`` finishes the work, ``decommission`` undoes it.

On a BTRFS root a run that changes anything is bracketed by a pre/post snapshot pair
(engine.snapshot); ``deploy_or_roll_back`` restores the pre snapshot when the run or a
health probe fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import posixpath
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fossp.catalog.schema import Probe, Role
from fossp.engine.backends import Backend, backend_for
from fossp.engine.backup import RECORD as BACKUP_RECORD
from fossp.engine.cluster import ClusterRun, Membership
from fossp.engine.operations import LEDGER_KIND, Operation, OpKind, Plan
from fossp.engine.planner import Wanted, plan_host, plan_owned_file
from fossp.engine.probes import ProbeResult, on_host_commands, run_probe, verify_role
from fossp.engine.recipe import CONTAINER_MARK, FileSpec, fact_paths, fact_units, load_recipe
from fossp.engine.recovery import (
    RMDIR_SCRIPT,
    TRACKED_FOLDERS,
    close_unfinished,
    created_folders_script,
    interrupted_note,
    recover,
    save_listing,
)
from fossp.engine.state import (
    BACKUP_DIR,
    RUNS_DIR,
    Change,
    ChangeKind,
    ChangeStatus,
    HostLock,
    HostState,
    Instance,
    InstanceState,
    Run,
    new_run_id,
    now,
    parse_state,
    save_state,
)
from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import Facts, answering, gather_facts, parse_packages
from fossp.platform.health import MANIFESTS as HEALTH_CHECKS
from fossp.platform.osrelease import ETC as OS_RELEASE
from fossp.platform.osrelease import VENDOR as VENDOR_OS_RELEASE
from fossp.secrets import for_ledger

Report = Callable[[str], None]
#: Rounds a run may take beyond one per refresh op of its first plan, per role: a role's
#: re-plans decide ops that were pending (a file the package created, a unit it shipped).
SPARE_ROUNDS_PER_ROLE = 4
_BACKUP_SCRIPT = (
    'if [ -L "$1" ]; then echo "link $(readlink "$1")"; '
    'elif [ -e "$1" ]; then mkdir -p "$(dirname "$2")" && cp -a -- "$1" "$2" && sync -- "$2" && echo copied; fi'
)


def quiet(_: str) -> None:
    """Default reporter: library callers need no progress output."""


@dataclass
class Outcome:
    """What happened on one host: the first plan, the changes made, probe results."""

    plan: Plan | None = None
    applied: list[Operation] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    run: str | None = None  # None: nothing to change, the host was only read
    recovered: str | None = None  # what the run found of an earlier, interrupted one
    snapshots: dict[str, int] = field(default_factory=dict)  # "pre", "post" numbers
    notes: list[str] = field(default_factory=list)
    rollback: dict[str, Any] | None = None  # what --rollback-on-failure restored

    @property
    def failed_roles(self) -> list[str]:
        return [role for role, state in self.states.items() if state == InstanceState.ERROR.value]


async def facts_for(connector: Connector, wanted: list[Wanted], probes: bool = False) -> Facts:
    """The facts the plan for ``wanted`` reads: its files and units (every family's); with
    ``probes``, the roles' on-host probes run in the same round trip (see ``answering``)."""
    recipes = [(load_recipe(w.role.name), w.settings) for w in wanted]
    units = {unit for w in wanted for unit in w.role.units_for(None, w.settings)} | set(fact_units(recipes))
    ahead = [argv for w in wanted if probes and w.membership is None for argv in on_host_commands(w.role, w.settings)]
    paths = [*fact_paths(recipes), OS_RELEASE, VENDOR_OS_RELEASE, HEALTH_CHECKS, CONTAINER_MARK, BACKUP_RECORD]
    return await gather_facts(connector, paths, sorted(units), ahead)


async def plan_on(connector: Connector, wanted: list[Wanted]) -> tuple[Facts, HostState, Plan]:
    """Facts (one round trip), state and plan: all of `fossp plan`, with a note when an
    earlier run was interrupted or a package manager is busy on the host."""
    facts = await facts_for(connector, wanted)
    state = parse_state(facts)
    plan = plan_host(facts, wanted, state)
    plan.notes += interrupted_note(facts, state, connector.timeouts)
    return facts, state, plan


async def deploy_host(
    connector: Connector, wanted: list[Wanted], report: Report = quiet, cluster: ClusterRun | None = None
) -> Outcome:
    """Deploy ``wanted`` on the host under its lock; roles end running or in error.

    An interrupted earlier run is finished first (engine.recovery); the run is recorded
    on the host until it ends, so a run killed now is found by the next one. With
    multi-host roles (``cluster``), the hosts meet once each has done its own part; the
    first member then runs the cluster steps; they meet again before the probes, which
    may run from a peer.

    A run with nothing to do touches nothing: when the plan is empty and the roles are
    recorded as deployed, their probes run and, if they agree with the record, the run ends
    without a lock, a snapshot or a state write (see :func:`_read_only_noop`).
    """
    noop = await _read_only_noop(connector, wanted, report, cluster)
    if noop is not None:
        return noop
    async with HostLock(connector):
        report("facts")
        facts = await facts_for(connector, wanted)
        state = parse_state(facts)
        run = Run(id=new_run_id(), command="deploy", roles=[w.role.id for w in wanted])
        recovered = await recover(connector, facts, state, backend_for(facts), report)
        if recovered:
            facts = await facts_for(connector, wanted)
        plan = plan_host(facts, wanted, state)
        outcome = Outcome(plan=plan, run=run.id, recovered=recovered)
        await pre_snapshot(connector, facts, bool(plan.changes), run, outcome.snapshots, report)
        for item in wanted:
            instance = state.instances.setdefault(
                item.role.id, Instance(role_id=item.role.id, role_name=item.role.name)
            )
            instance.settings = for_ledger(item.role, item.settings)  # secrets only as a hash
            if item.membership is not None:
                instance.part, instance.members = item.part, [m.name for m in item.membership.members]
                instance.parts = {m.name: m.part for m in item.membership.members}
            state.set_state(item.role.id, InstanceState.DEPLOYING)
        state.run = run
        await save_state(connector, state)
        runner = _Runner(connector, state, backend_for(facts), outcome, report, run)
        try:
            await runner.converge(wanted, facts, plan)
            if cluster is not None and any(w.membership for w in wanted):
                await _cluster_phase(connector, cluster, runner, wanted, report)
        except HostError as error:
            where = runner.current
            message = error.message + (f" (stopped at {where.kind.value} {where.target})" if where else "")
            failed = where.role if where else None
            _mark_failure([w.role.id for w in wanted], failed, state, message)
            with contextlib.suppress(HostError):  # a lost host: the next run closes them
                await close_unfinished(connector, state.unfinished)
            await _end_run(connector, state, run)
            await post_snapshot(connector, run, outcome.snapshots, outcome.notes)
            raise DeployFailed(message, outcome) from None
        await _verify(connector, wanted, state, outcome, report, cluster)
        if cluster is not None:  # peers may still probe through this host's connection
            await cluster.verified.arrive(connector.name)
        await _end_run(connector, state, run)
        await post_snapshot(connector, run, outcome.snapshots, outcome.notes)
        return outcome


async def _read_only_noop(
    connector: Connector, wanted: list[Wanted], report: Report, cluster: ClusterRun | None
) -> Outcome | None:
    """The outcome of a run that needs no change, found without writing on the host; None
    when the run must take the lock: a change to make, an earlier run to finish or one
    still running, a run the hosts share (a multi-host role, or a probe a peer makes through
    this host's connection, which must stay open until the peers have probed), settings not
    yet recorded, or probes that disagree with the recorded states (those go into the state
    file under the lock)."""
    if cluster is not None:
        return None
    report("facts")
    facts = await facts_for(connector, wanted, probes=True)
    state = parse_state(facts)
    if facts.lock_owner or facts.dpkg_interrupted or facts.package_managers or state.run or state.unfinished:
        return None
    plan = plan_host(facts, wanted, state)
    if plan.changes or not all(_recorded_as_wanted(state, item) for item in wanted):
        return None
    recorded = {role: instance.state for role, instance in state.instances.items()}
    outcome = Outcome(plan=plan)
    await _verify(answering(connector, facts), wanted, state, outcome, report, cluster)
    if any(state.instances[w.role.id].state is not recorded[w.role.id] for w in wanted):
        return None
    return outcome


async def apply_owned_files(
    connector: Connector,
    role: Role,
    values: dict[str, Any],
    specs: list[FileSpec],
    dry_run: bool = False,
    report: Report = quiet,
) -> Plan:
    """Write files a deployed role owns beyond its recipe (see ``plan_owned_file``) as a
    run of their own, under the host's lock: planned on fresh facts, each change recorded
    in the host's ledger under the role (so decommissioning the role undoes it), restarts
    owed paid. With ``dry_run`` the plan only; an unfinished earlier run is for ``fossp deploy``."""
    if dry_run:
        return (await _owned_plan(connector, role, values, specs, dry_run))[2]
    async with HostLock(connector):
        facts, state, plan = await _owned_plan(connector, role, values, specs, dry_run)
        if not plan.changes:
            return plan
        run = Run(id=new_run_id(), command="backup-register", roles=[role.id])
        state.run = run
        await save_state(connector, state)
        runner = _Runner(connector, state, backend_for(facts), Outcome(plan=plan, run=run.id), report, run)
        runner.expected = len(plan.changes)
        for op in plan.changes:
            await runner.apply(op, facts)
        await _end_run(connector, state, run)
    return plan


async def _owned_plan(
    connector: Connector, role: Role, values: dict[str, Any], specs: list[FileSpec], dry_run: bool
) -> tuple[Facts, HostState, Plan]:
    facts = await gather_facts(connector, [spec.path for spec in specs], role.units_for(None, values))
    state = parse_state(facts)
    instance = state.instances.get(role.id)
    if instance is None and not dry_run:  # a dry run may come before the role's own deploy
        raise HostError(f"{connector.name}: the role {role.name} is not deployed here")
    if state.run or state.unfinished:
        raise HostError(f"{connector.name}: an earlier run did not finish; `fossp deploy` finishes it first")
    part = instance.part if instance else None
    operations = [op for spec in specs for op in plan_owned_file(role, part, values, spec, facts, state)]
    family = facts.family.value if facts.family else ""
    return facts, state, Plan(host=connector.name, family=family, roles=[role.id], operations=operations)


def _recorded_as_wanted(state: HostState, item: Wanted) -> bool:
    """The role is recorded as deployed and verified with exactly these settings."""
    instance = state.instances.get(item.role.id)
    return (
        instance is not None
        and item.membership is None
        and instance.state in (InstanceState.RUNNING, InstanceState.READY)
        and instance.settings == json.loads(json.dumps(for_ledger(item.role, item.settings)))
    )


async def _cluster_phase(
    connector: Connector, cluster: ClusterRun, runner: _Runner, wanted: list[Wanted], report: Report
) -> None:
    """Meet the other members; the first member of a multi-host role then runs its
    cluster steps (peer probes, volume and resource creation), and all meet again."""
    report("waiting for the other members")
    failed = await cluster.ready.arrive(connector.name)
    if failed:
        raise HostError(f"{connector.name}: the cluster steps did not run: {', '.join(failed)} did not get ready")
    facts = await facts_for(connector, wanted)
    plan = plan_host(facts, wanted, runner.state)
    if any(op.cluster for op in plan.changes):
        report("cluster steps")
        await runner.converge(wanted, facts, plan, cluster_steps=True)
    failed = await cluster.formed.arrive(connector.name)
    if failed:
        raise HostError(f"{connector.name}: {', '.join(failed)} failed while the cluster formed")


def _description(run: Run) -> str:
    return f"fossp {run.command} {' '.join(run.roles)}"


async def pre_snapshot(
    connector: Connector, facts: Facts, changes: bool, run: Run, snapshots: dict[str, int], report: Report
) -> None:
    """The pre half of a run's snapshot pair (``snapshots["pre"]``): taken on a BTRFS root
    when the run changes anything, before the run is recorded (so a restore to it holds no
    trace of the run). A refusal (too little free space) stops the run before its first change."""
    if not changes or facts.offline_root or facts.root_fs != "btrfs":
        return
    from fossp.engine.snapshot import take_snapshot

    report("snapshot before the change")
    snapshots["pre"] = (await take_snapshot(connector, "pre", _description(run), run.id)).number


async def post_snapshot(connector: Connector, run: Run, snapshots: dict[str, int], notes: list[str]) -> None:
    """The post half, however the run ended; one that cannot be taken is a note, since the
    change is done and the run's own result matters more."""
    pre = snapshots.get("pre")
    if pre is None:
        return
    from fossp.engine.snapshot import cleanup, snapshot_pair_post
    from fossp.errors import FosspError

    try:
        snapshots["post"] = (await snapshot_pair_post(connector, pre, _description(run), run.id)).number
    except FosspError as error:
        notes.append(f"no post snapshot: {error.message}")
    try:  # old pairs go by snapper's number rules (the host's snapper limits where it has them)
        cleaned = await cleanup(connector)
    except FosspError as error:
        notes.append(f"snapshot cleanup: {error.message}")
        return
    if cleaned.deleted:
        notes.append(f"snapshot cleanup deleted {', '.join(map(str, cleaned.deleted))}")
    notes += [f"snapshot cleanup could not delete {n}: {why}" for n, why in cleaned.failed.items()]


Restart = Callable[[], Awaitable[None]]


async def deploy_or_roll_back(
    connector: Connector,
    wanted: list[Wanted],
    report: Report = quiet,
    restart: Restart | None = None,
    cluster: ClusterRun | None = None,
) -> Outcome:
    """Deploy; when the run or a health probe fails, restore the run's pre snapshot.

    Where the restore takes effect at the next start (a container, a lab host), ``restart``
    brings the host back on the restored root; on a machine that boots, the restore takes
    effect at its next boot and the outcome says so.
    """
    failure: DeployFailed | None = None
    try:
        outcome = await deploy_host(connector, wanted, report, cluster)
    except DeployFailed as error:
        failure, outcome = error, error.outcome
    if failure is None and not outcome.failed_roles:
        return outcome
    pre = outcome.snapshots.get("pre")
    if pre is None:
        outcome.notes.append("no rollback: the run took no snapshot (no change, or the root is not BTRFS)")
    else:
        from fossp.engine.restore import restore

        report(f"rolling back to snapshot {pre}")
        restored = await restore(connector, pre, f"{outcome.run}-rollback")
        outcome.rollback = restored.summary()
        if restored.method == "lab-restart" and restart is not None:
            report("restarting on the restored root")
            await restart()
            outcome.rollback["restarted"] = True
    if failure is not None:
        raise failure
    return outcome


async def _end_run(connector: Connector, state: HostState, run: Run) -> None:
    """Clear the run's record and its folder listings. A host that cannot be reached any
    more keeps the record: the next run then knows this one did not end."""
    state.run = None
    with contextlib.suppress(HostError):
        await save_state(connector, state)
        folder, runs = connector.path(posixpath.join(RUNS_DIR, run.id)), connector.path(RUNS_DIR)
        await connector.run(
            ["sh", "-c", 'rm -rf -- "$1" && rmdir --ignore-fail-on-non-empty -- "$2"', "end", folder, runs]
        )


class DeployFailed(HostError):
    """A step failed on the host; ``outcome.applied`` lists the changes made before it."""

    def __init__(self, message: str, outcome: Outcome) -> None:
        super().__init__(message)
        self.outcome = outcome


def _mark_failure(role_ids: list[str], failed: str | None, state: HostState, message: str) -> None:
    """The failing role goes to error; roles done before it are ready, later ones nascent."""
    position = role_ids.index(failed) if failed in role_ids else 0
    for index, role_id in enumerate(role_ids):
        if index == position:
            state.set_state(role_id, InstanceState.ERROR, message)
        elif index < position:
            state.set_state(role_id, InstanceState.READY, f"deployed, not verified: {role_ids[position]} failed")
        else:
            state.set_state(role_id, InstanceState.NASCENT, f"not deployed: {role_ids[position]} failed first")


async def _verify(
    connector: Connector,
    wanted: list[Wanted],
    state: HostState,
    outcome: Outcome,
    report: Report,
    cluster: ClusterRun | None = None,
) -> None:
    """Run each role's probes; a failing probe puts the role in error with its output."""
    for item in wanted:
        report(f"verifying {item.role.name}")
        if item.membership is None:
            results = await verify_role(item.role, item.settings, connector, peers=_peers(cluster, connector))
        else:
            results = await verify_member(item, connector, cluster)
        outcome.probes += results
        failed = [r for r in results if r.ok is False]
        if failed:
            state.set_state(item.role.id, InstanceState.ERROR, "; ".join(f"probe {r.name}: {r.output}" for r in failed))
        elif connector.root:
            state.set_state(item.role.id, InstanceState.READY)
        else:
            state.set_state(item.role.id, InstanceState.RUNNING)
        outcome.states[item.role.id] = state.instances[item.role.id].state.value


def _runs_once_elsewhere(probe: Probe, membership: Membership) -> str | None:
    """A probe of an address the members share (``address_setting``: the virtual address)
    runs once, on the first member of its parts; elsewhere it is skipped, saying where."""
    if probe.address_setting is None:
        return None
    pool = [m for m in membership.members if probe.parts is None or m.part in probe.parts]
    if pool[0] == membership.me:
        return None
    return f"skipped: {probe.address_setting} is probed once, from {pool[0].name}"


def _peers(cluster: ClusterRun | None, connector: Connector) -> list[Connector]:
    """The run's other hosts, for probes a client on the same link must make (DHCP)."""
    return cluster.peers(connector.name) if cluster is not None else []


async def verify_member(
    item: Wanted, connector: Connector, cluster: ClusterRun | None, retry: float | None = None
) -> list[ProbeResult]:
    """A member's probes: those of its part, with its derived values, each run here or,
    with ``from_part``, from a peer of that part (as a client of the host sees it).
    Deploy and status run the same probes."""
    assert item.membership is not None
    me, values = item.membership.me, item.values()
    results = []
    for probe in item.role.probes:
        if probe.parts is not None and me.part not in probe.parts:
            continue
        once = _runs_once_elsewhere(probe, item.membership)
        if once is not None:
            results.append(ProbeResult(item.role.id, probe.name, probe.kind.value, None, once))
            continue
        if probe.from_part is None:
            results.append(await run_probe(item.role, probe, values, connector, retry, _peers(cluster, connector)))
            continue
        peer = next((m for m in item.membership.of_part(probe.from_part) if m != me), None)
        peer_connector = cluster.connectors.get(peer.name) if cluster and peer else None
        if peer is None or peer_connector is None:
            why = (
                f"skipped: no {probe.from_part} member other than {me.name} in this run; "
                "give its host as a --target too"
            )
            results.append(ProbeResult(item.role.id, probe.name, probe.kind.value, None, why))
            continue
        target = {**values, "target_address": me.address, "target_name": me.name}
        results.append(await run_probe(item.role, probe, target, peer_connector, retry))
    return results


def round_limit(plan: Plan, wanted: list[Wanted]) -> int:
    """How many plan-apply rounds a run may take before it is said not to settle.

    Each round but the last ends on a refresh op (or stops at a pending one), so a plan
    settles in at most one round per such op plus one; every role gets spare rounds for the
    ops its re-plans decide. A plan that keeps wanting the same change still stops."""
    rounds = sum(1 for op in plan.changes if op.refresh or op.pending)
    return rounds + 1 + SPARE_ROUNDS_PER_ROLE * max(len(wanted), 1)


#: Operations that create folders only on their own target's path (its missing parents):
#: the folders listed before and after them are those below the target's deepest existing
#: folder, not all of /etc, /var/lib, /var/log and /srv.
_PATH_OPS = {OpKind.FILE, OpKind.DIR, OpKind.SUBVOLUME, OpKind.REMOVE, OpKind.OS_RELEASE, OpKind.HEALTH_CHECKS}


def listed_paths(op: Operation) -> tuple[str, ...]:
    """Where ``op`` may create folders: its target's path, or (packages, commands, units,
    whose maintainer scripts and services make folders anywhere) every tracked folder."""
    if op.kind in _PATH_OPS and op.target.startswith("/"):
        return (op.target,)
    return TRACKED_FOLDERS


@dataclass
class _Runner:
    connector: Connector
    state: HostState
    backend: Backend
    outcome: Outcome
    report: Report
    run: Run
    current: Operation | None = None
    _count: int = 0
    done: int = 0  # changes made so far in the run
    expected: int = 0  # ... and what the latest plan says the run will have made in all

    async def converge(self, wanted: list[Wanted], facts: Facts, plan: Plan, cluster_steps: bool = False) -> None:
        """Apply changes; re-plan on fresh facts after each fact-changing one. A multi-host
        role's cluster steps wait for the members (``cluster_steps`` once they are ready)."""
        limit = round_limit(plan, wanted)
        for _ in range(limit):
            changes = [op for op in plan.changes if cluster_steps or not op.cluster]
            if not changes:
                return
            if changes[0].pending:
                raise HostError(
                    f"{self.connector.name}: cannot decide {changes[0].kind.value} {changes[0].target}: "
                    f"{changes[0].reason}"
                )
            self.expected = self.done + len(changes)
            for op in changes:
                if op.pending:
                    break
                await self.apply(op, facts)
                if op.refresh:
                    break
            else:
                return
            facts = await facts_for(self.connector, wanted)
            plan = plan_host(facts, wanted, self.state)
        raise HostError(
            f"{self.connector.name}: the plan did not settle after {limit} rounds "
            f"(still to do: {', '.join(f'{op.kind.value} {op.target}' for op in plan.changes[:5])})"
        )

    async def apply(self, op: Operation, facts: Facts) -> None:
        """Record the intent (with its undo), make the change, mark it done.

        The folders that exist before are listed on the host; those the change created
        (a later undo or package purge may leave them behind, empty) get an rmdir undo.
        """
        self.current = op
        self.done += 1
        self.report(f"step {self.done}/{max(self.expected, self.done)}: {op.kind.value} {op.target}")
        kind = LEDGER_KIND[op.kind]
        if kind is None:  # a restart: nothing to undo; the restart it owed is paid
            await self._commands(op)
            self.outcome.applied.append(op)
            if self.state.restarted(op.role, op.target):
                await save_state(self.connector, self.state)
            return
        self._count += 1
        listing = posixpath.join(RUNS_DIR, self.run.id, f"folders-{self._count}")
        await save_listing(self.connector, listing, listed_paths(op))
        change = await self._intent(op, kind, facts)
        change.folders = listing
        self.run.operation, self.run.operation_started = f"{op.kind.value} {op.target}", now()
        self.state.ledger.append(change)
        self.state.owe_restart(op.role, op.restarts, op.target)  # saved with the intent: a crash still restarts
        await save_state(self.connector, self.state)
        await self._execute(op, change)
        self.outcome.applied.append(op)
        if op.kind is OpKind.START:  # started with `systemctl restart`: it reads the new configuration
            self.state.restarted(op.role, op.target)
        created = (await self.connector.check(created_folders_script(self.connector, listing))).stdout.split("\n")
        created = sorted((c for c in created if c), reverse=True)
        if created:
            change.undo.append(["sh", "-c", RMDIR_SCRIPT, "rmdir", *created])
        change.status, change.folders = ChangeStatus.DONE, None
        await save_state(self.connector, self.state)

    async def _intent(self, op: Operation, kind: ChangeKind, facts: Facts) -> Change:
        """The ledger entry for ``op``, with everything its undo needs, before the change."""
        change = Change(
            role=op.role,
            kind=kind,
            target=op.target,
            status=ChangeStatus.INTENT,
            run=self.run.id,
            digest=op.digest,
            previous=op.previous,
            undo=list(op.undo),
            undo_on_purge=op.undo_on_purge,
            sha256=op.sha256,
        )
        if op.kind is OpKind.PACKAGES:
            change.packages = await self._predict(op)
        elif op.kind in (OpKind.FILE, OpKind.REMOVE, OpKind.DIR):
            await self._keep_original(op, change)
        elif op.kind in (OpKind.ENABLE, OpKind.START):
            unit = facts.units.get(op.target)
            change.previous = f"enabled={unit.enabled if unit else None} active={unit.active if unit else None}"
        return change

    async def _execute(self, op: Operation, change: Change) -> None:
        if op.kind is OpKind.PACKAGES:
            await self._packages(op, change)
        elif op.kind is OpKind.FILE and op.content is not None:
            await self.connector.write_file(op.target, op.content, int(op.mode or "644", 8), op.owner or "")
            await self._commands(op)
        else:
            await self._commands(op)

    async def _commands(self, op: Operation) -> None:
        for argv in op.commands:
            await self._run(argv, op)

    async def _run(self, argv: list[str], op: Operation) -> None:
        """Run one command of ``op``, retrying for ``op.retry`` seconds (a service starting)."""
        deadline = time.monotonic() + op.retry
        stdin = op.stdin.encode() if op.stdin is not None else None
        while True:
            result = await self.connector.run(argv, stdin)
            if result.ok:
                return
            if time.monotonic() >= deadline:
                raise HostError(f"{self.connector.name}: {result.describe()}")
            await asyncio.sleep(1)

    async def _predict(self, op: Operation) -> list[str]:
        """Refresh the package lists, then the packages the install will add (a dry run)."""
        names = op.target.split()
        bound = self.connector.timeouts.packages
        for argv in op.commands[:-1]:  # the refresh (apt-get update) before the install
            await self.connector.check(argv, timeout=bound)
        dry_run = await self.connector.run(self.backend.predict(names), timeout=bound)
        return sorted(set(self.backend.predicted(dry_run.stdout)) | set(names))

    async def _packages(self, op: Operation, change: Change) -> None:
        """Install; the entry then holds every package that was not there before."""
        before = await self._installed()
        await self.connector.check(op.commands[-1], timeout=self.connector.timeouts.packages)
        added = set(await self._installed()) - set(before)
        change.packages = sorted(added | (set(change.packages) - set(before)))

    async def _installed(self) -> dict[str, str]:
        return parse_packages((await self.connector.check(list(self.backend.list_argv))).stdout)

    async def _keep_original(self, op: Operation, change: Change) -> None:
        """Copy the original (first touch only) and set the undo that restores it."""
        path = self.connector.path(op.target)
        first = self.state.first_file_change(op.role, op.target)
        if first is not None:
            change.backup, change.link_target, change.undo = first.backup, first.link_target, []
            return
        change.backup, change.link_target = await self._backup(op.role, path)
        change.undo = _file_undo(op.kind, path, change.backup, change.link_target)

    async def _backup(self, role: str, path: str) -> tuple[str | None, str | None]:
        """Copy the file as it is now (or note where a symlink points); None if absent."""
        backup = self.connector.path(posixpath.join(BACKUP_DIR, role, path.lstrip("/")))
        result = await self.connector.check(["sh", "-c", _BACKUP_SCRIPT, "backup", path, backup])
        answer = result.stdout.strip()
        if answer.startswith("link "):
            return None, answer.removeprefix("link ")
        return (backup, None) if answer == "copied" else (None, None)


def _file_undo(kind: OpKind, path: str, backup: str | None, link_target: str | None) -> list[list[str]]:
    """Put the original back; a write killed midway may have left its temporary file."""
    leftover = ["rm", "-f", "--", f"{path}.fossp-tmp"]
    if link_target is not None:
        return [["ln", "-sfn", "--", link_target, path], leftover]
    if backup is not None:
        return [["cp", "-a", "--", backup, path], leftover]
    if kind is OpKind.DIR:
        return [["rmdir", "--", path]]
    return [["rm", "-f", "--", path], leftover]
