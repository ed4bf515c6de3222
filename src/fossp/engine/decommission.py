"""Decommission: take back exactly what the ledger says FOSSP did for a role.

Undo runs in reverse order of the changes (units, files, firewall, SELinux, then the
packages). Packages are removed only if a dry run shows the removal takes nothing else
along; packages another deployed role still needs are kept. Everything is checked before
the first change, so a refused decommission changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fossp.catalog.loader import Catalog
from fossp.engine.apply import Report, quiet
from fossp.engine.backends import Backend, backend_for
from fossp.engine.state import (
    BACKUP_DIR,
    Change,
    ChangeKind,
    HostLock,
    HostState,
    InstanceState,
    parse_state,
    save_state,
)
from fossp.errors import BadInput
from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import Facts, gather_facts


@dataclass
class Undone:
    """What decommission did per role: changes undone, packages removed, warnings."""

    roles: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    removed_packages: list[str] = field(default_factory=list)
    kept_packages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _chosen(state: HostState, catalog: Catalog, refs: list[str], host: str) -> list[str]:
    """The leaving roles; refused if one is not deployed or a staying role requires it."""
    if not refs:
        return list(state.instances)
    chosen = []
    for ref in refs:
        role = catalog.role(ref)
        if role.id not in state.instances:
            raise BadInput(f"{host}: {role.title} is not deployed by FOSSP here")
        chosen.append(role.id)
    for staying in (catalog.roles[r] for r in state.instances if r not in chosen and r in catalog.roles):
        needed = [rel for rel in staying.requires if rel.role in chosen]
        if needed:
            raise BadInput(
                f"{host}: {staying.title} requires {needed[0].role} ({needed[0].reason}); decommission it first"
            )
    return chosen


def _still_needed(state: HostState, catalog: Catalog, facts: Facts, leaving: list[str]) -> set[str]:
    """Packages the roles that stay need (their own and those FOSSP installed for them)."""
    needed: set[str] = set()
    for role_id in state.instances:
        if role_id in leaving or role_id not in catalog.roles or facts.family is None:
            continue
        needed.update(catalog.roles[role_id].packages[facts.family].packages)
        needed.update(p for c in state.changes(role_id) for p in c.packages)
    return needed


async def decommission_host(connector: Connector, catalog: Catalog, refs: list[str], report: Report = quiet) -> Undone:
    """Undo the ledger of the named roles (all FOSSP roles if none), newest change first."""
    async with HostLock(connector):
        facts = await gather_facts(connector)
        state = parse_state(facts)
        roles = _chosen(state, catalog, refs, connector.name)
        result = Undone(roles=roles)
        backend = backend_for(facts)
        removing = await _removable(connector, backend, state, catalog, facts, result)
        for role_id in roles:
            state.set_state(role_id, InstanceState.DECOMMISSIONING)
        await save_state(connector, state)
        changes = [c for c in state.ledger if c.role in roles]
        for change in reversed(changes):
            if change.kind is not ChangeKind.PACKAGES:
                await _undo(connector, change, result, report)
        if removing:
            report(f"removing {len(removing)} packages")
            await connector.check(backend.remove(removing))
            result.removed_packages = removing
        for change in (c for c in changes if c.kind is ChangeKind.PACKAGES):
            await _undo(connector, change, result, report)  # folders the purge left empty
        await _forget(connector, state, roles)
        return result


async def _removable(
    connector: Connector, backend: Backend, state: HostState, catalog: Catalog, facts: Facts, result: Undone
) -> list[str]:
    """The packages FOSSP installed for the leaving roles that can go; refuse (before any
    change) if removing them would take along a package FOSSP did not install."""
    installed = {p for r in result.roles for c in state.changes(r) for p in c.packages if p in facts.packages}
    keep = _still_needed(state, catalog, facts, result.roles)
    removing = sorted(installed - keep)
    result.kept_packages = sorted(installed & keep)
    if removing:
        dry_run = await connector.run(backend.check_remove(removing))
        others = backend.others_affected(dry_run.stdout + dry_run.stderr, removing)
        if others:
            raise HostError(
                f"{connector.name}: removing {', '.join(removing)} would also remove "
                f"{', '.join(sorted(others))}; nothing changed"
            )
    return removing


async def _forget(connector: Connector, state: HostState, roles: list[str]) -> None:
    """Drop the roles' instances, ledger entries and file backups from the host."""
    state.ledger = [c for c in state.ledger if c.role not in roles]
    for role_id in roles:
        del state.instances[role_id]
        await connector.run(["rm", "-rf", "--", connector.path(f"{BACKUP_DIR}/{role_id}")])
    await connector.run(["rmdir", "--ignore-fail-on-non-empty", "--", connector.path(BACKUP_DIR)])
    await save_state(connector, state)


async def _undo(connector: Connector, change: Change, result: Undone, report: Report) -> None:
    """Run a change's undo commands; a folder that holds other files is kept, with a warning."""
    if not change.undo:
        return
    report(f"undo {change.kind.value} {change.target}")
    for argv in change.undo:
        outcome = await connector.run(argv)
        if outcome.ok:
            continue
        if change.kind is ChangeKind.DIR:
            result.warnings.append(f"kept {change.target}: it holds files FOSSP did not write")
            return
        raise HostError(f"{connector.name}: undoing {change.kind.value} {change.target} failed: {outcome.describe()}")
    result.undone.append(f"{change.kind.value} {change.target}")
