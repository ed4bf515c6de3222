"""Apply: carry out a plan on one host, record every change in the ledger, verify.

``deploy_host`` plans and applies through the same functions ``fossp plan`` uses: the
plan is made from facts, its changes run in order, and after any change that alters the
host's facts (packages, setup steps) facts are gathered again and the plan is made
again, until nothing is left to do. The ledger is saved after every change, so a failure
leaves an exact record of what was done before it.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fossp.engine.backends import Backend, backend_for
from fossp.engine.operations import LEDGER_KIND, Operation, OpKind, Plan
from fossp.engine.planner import Wanted, plan_host
from fossp.engine.probes import ProbeResult, verify_role
from fossp.engine.recipe import fact_paths, load_recipe
from fossp.engine.state import (
    BACKUP_DIR,
    Change,
    ChangeKind,
    HostLock,
    HostState,
    Instance,
    InstanceState,
    parse_state,
    save_state,
)
from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import Facts, gather_facts, parse_packages

Report = Callable[[str], None]
MAX_ROUNDS = 8
_BACKUP_SCRIPT = (
    'if [ -L "$1" ]; then echo "link $(readlink "$1")"; '
    'elif [ -e "$1" ]; then mkdir -p "$(dirname "$2")" && cp -a -- "$1" "$2" && echo copied; fi'
)
_RMDIR_SCRIPT = 'for d do [ ! -d "$d" ] || rmdir --ignore-fail-on-non-empty -- "$d"; done'
#: Where changes create folders that an undo or a purge can leave behind (empty).
TRACKED_FOLDERS = ("/etc", "/var/lib", "/var/log", "/srv")


def quiet(_: str) -> None:
    """Default reporter: library callers need no progress output."""


@dataclass
class Outcome:
    """What happened on one host: the first plan, the changes made, probe results."""

    plan: Plan | None = None
    applied: list[Operation] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)


async def facts_for(connector: Connector, wanted: list[Wanted]) -> Facts:
    """The facts the plan for ``wanted`` reads: its files and units (every family's)."""
    paths = fact_paths([(load_recipe(w.role.name), w.settings) for w in wanted])
    units = sorted({unit for w in wanted for units in w.role.units.values() for unit in units})
    return await gather_facts(connector, paths, units)


async def plan_on(connector: Connector, wanted: list[Wanted]) -> tuple[Facts, HostState, Plan]:
    """Facts (one round trip), state and plan: all of `fossp plan`."""
    facts = await facts_for(connector, wanted)
    state = parse_state(facts)
    return facts, state, plan_host(facts, wanted, state)


async def deploy_host(connector: Connector, wanted: list[Wanted], report: Report = quiet) -> Outcome:
    """Deploy ``wanted`` on the host under its lock; roles end running or in error."""
    async with HostLock(connector):
        report("facts")
        facts, state, plan = await plan_on(connector, wanted)
        outcome = Outcome(plan=plan)
        for item in wanted:
            instance = state.instances.setdefault(
                item.role.id, Instance(role_id=item.role.id, role_name=item.role.name)
            )
            instance.settings = item.settings
            state.set_state(item.role.id, InstanceState.DEPLOYING)
        await save_state(connector, state)
        runner = _Runner(connector, state, backend_for(facts), outcome, report)
        try:
            await runner.converge(wanted, facts, plan)
        except HostError as error:
            failed = runner.current.role if runner.current else None
            _mark_failure([w.role.id for w in wanted], failed, state, error.message)
            await save_state(connector, state)
            raise DeployFailed(error.message, outcome) from None
        await _verify(connector, wanted, state, outcome, report)
        await save_state(connector, state)
        return outcome


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
    connector: Connector, wanted: list[Wanted], state: HostState, outcome: Outcome, report: Report
) -> None:
    """Run each role's probes; a failing probe puts the role in error with its output."""
    for item in wanted:
        report(f"verifying {item.role.name}")
        results = await verify_role(item.role, item.settings, connector)
        outcome.probes += results
        failed = [r for r in results if r.ok is False]
        if failed:
            state.set_state(item.role.id, InstanceState.ERROR, "; ".join(f"probe {r.name}: {r.output}" for r in failed))
        elif connector.root:
            state.set_state(item.role.id, InstanceState.READY)
        else:
            state.set_state(item.role.id, InstanceState.RUNNING)
        outcome.states[item.role.id] = state.instances[item.role.id].state.value


@dataclass
class _Runner:
    connector: Connector
    state: HostState
    backend: Backend
    outcome: Outcome
    report: Report
    current: Operation | None = None

    async def converge(self, wanted: list[Wanted], facts: Facts, plan: Plan) -> None:
        """Apply changes; re-plan on fresh facts after each fact-changing one."""
        for _ in range(MAX_ROUNDS):
            changes = plan.changes
            if not changes:
                return
            if changes[0].pending:
                raise HostError(
                    f"{self.connector.name}: cannot decide {changes[0].kind.value} {changes[0].target}: "
                    f"{changes[0].reason}"
                )
            for op in changes:
                if op.pending:
                    break
                await self.apply(op)
                if op.refresh:
                    break
            else:
                return
            facts = await facts_for(self.connector, wanted)
            plan = plan_host(facts, wanted, self.state)
        raise HostError(f"{self.connector.name}: the plan did not settle after {MAX_ROUNDS} rounds")

    async def apply(self, op: Operation) -> None:
        """Execute ``op`` and record it, with the folders it created (a later undo or
        package purge may leave them behind, empty: decommission removes those too)."""
        self.current = op
        self.report(f"{op.kind.value} {op.target}")
        folders = await self._folders()
        change = await self._execute(op)
        self.outcome.applied.append(op)
        if change is not None:
            created = sorted(set(await self._folders()) - set(folders), reverse=True)
            if created:
                change.undo.append(["sh", "-c", _RMDIR_SCRIPT, "rmdir", *created])
            self.state.ledger.append(change)
            await save_state(self.connector, self.state)

    async def _execute(self, op: Operation) -> Change | None:
        kind = LEDGER_KIND[op.kind]
        if op.kind is OpKind.PACKAGES:
            return await self._packages(op)
        if op.kind in (OpKind.FILE, OpKind.REMOVE, OpKind.DIR):
            return await self._file(op)
        for argv in op.commands:
            await self._run(argv, op)
        if kind is None:
            return None
        return Change(
            role=op.role, kind=kind, target=op.target, digest=op.digest, previous=op.previous, undo=list(op.undo)
        )

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

    async def _packages(self, op: Operation) -> Change:
        """Install, and record every package that was not there before (dependencies too)."""
        before = await self._installed()
        for argv in op.commands:
            await self.connector.check(argv)
        added = sorted(set(await self._installed()) - set(before))
        return Change(role=op.role, kind=ChangeKind.PACKAGES, target=op.target, packages=added)

    async def _folders(self) -> list[str]:
        roots = [self.connector.path(p) for p in TRACKED_FOLDERS]
        result = await self.connector.run(["find", *roots, "-xdev", "-maxdepth", "4", "-type", "d"])
        return result.stdout.splitlines()

    async def _installed(self) -> dict[str, str]:
        return parse_packages((await self.connector.check(list(self.backend.list_argv))).stdout)

    async def _file(self, op: Operation) -> Change:
        """Keep the original (first touch only), then change; the undo restores it."""
        path = self.connector.path(op.target)
        first = self.state.first_file_change(op.role, op.target)
        change = Change(role=op.role, kind=LEDGER_KIND[op.kind] or ChangeKind.FILE, target=op.target, sha256=op.sha256)
        if first is not None:
            change.backup, change.link_target, change.undo = first.backup, first.link_target, []
        else:
            change.backup, change.link_target = await self._backup(op.role, path)
            change.undo = _file_undo(op.kind, path, change.backup, change.link_target)
        if op.kind is OpKind.FILE and op.content is not None:
            await self.connector.write_file(op.target, op.content, int(op.mode or "644", 8), op.owner or "")
        for argv in op.commands:
            await self.connector.check(argv)
        return change

    async def _backup(self, role: str, path: str) -> tuple[str | None, str | None]:
        """Copy the file as it is now (or note where a symlink points); None if absent."""
        backup = self.connector.path(posixpath.join(BACKUP_DIR, role, path.lstrip("/")))
        result = await self.connector.check(["sh", "-c", _BACKUP_SCRIPT, "backup", path, backup])
        answer = result.stdout.strip()
        if answer.startswith("link "):
            return None, answer.removeprefix("link ")
        return (backup, None) if answer == "copied" else (None, None)


def _file_undo(kind: OpKind, path: str, backup: str | None, link_target: str | None) -> list[list[str]]:
    if link_target is not None:
        return [["ln", "-sfn", "--", link_target, path]]
    if backup is not None:
        return [["cp", "-a", "--", backup, path]]
    if kind is OpKind.DIR:
        return [["rmdir", "--", path]]
    return [["rm", "-f", "--", path]]
