"""Decommission: take back exactly what the ledger says FOSSP did for a role, keeping its data.

Two phases, like deploy: ``plan_decommission`` is pure (facts, state, catalog and recipes
in, operations with their reasons out); ``fossp decommission`` shows that plan, asks, then
``decommission_host`` plans again under the host's lock and applies the very same objects
if the host has not changed since. Order: with ``--purge`` first the backups (a database
dump while the server still runs, a tar of the data folders, both streamed to the
controller); then the ledger's undo, newest change first (units, files, firewall,
SELinux); the roles' servers stop and kept data is set aside; the packages go, only if a
dry run shows the removal takes nothing else along (packages a staying role needs stay);
then ``--purge`` removes the data, the folders the changes created go where empty now,
and kept data is put back.

Data folders (the recipe's ``data``) are kept by default. A package purge may delete
them (Debian's postgresql drops its clusters), so each is moved aside (a rename beside
it) while the packages go and put back after; files it needs that live elsewhere (a
cluster's configuration in /etc) are copied in first. With ``--purge`` they are removed
after the packages, and only once the backups are written.

Ledger entries marked ``intent`` or ``interrupted`` may never have happened: their undo
is idempotent and is applied too, and a failing command of theirs is reported, not fatal.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from fossp.catalog.loader import Catalog
from fossp.catalog.schema import Family
from fossp.engine.apply import Report, post_snapshot, pre_snapshot, quiet
from fossp.engine.archive import save_output
from fossp.engine.backends import Backend, backend_for
from fossp.engine.operations import Operation, OpKind, Plan, is_unit_file, noop
from fossp.engine.recipe import DataPath, FamilyRecipe, fill, filled_data, load_recipe, resolve_vars
from fossp.engine.recovery import RMDIR_SCRIPT, interrupted_note, recover
from fossp.engine.state import (
    BACKUP_DIR,
    Change,
    ChangeKind,
    ChangeStatus,
    HostLock,
    HostState,
    InstanceState,
    Run,
    new_run_id,
    parse_state,
    save_state,
)
from fossp.errors import BadInput
from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import Facts, gather_facts

#: Where --purge writes its backups on the controller (``--backup-dir``).
BACKUPS = "/var/lib/fossp/backups"
ARCHIVE_FILE = "data.tar"
ASIDE_SUFFIX = ".fossp-kept"
#: How a failed decommission marks its roles (a rerun then knows it resumes one).
DECOMMISSION_FAILED = "decommission failed: "
#: Set a data folder aside ($1 -> $2). Mounts inside it that its stopped daemons left (Docker's
#: btrfs driver bind-mounts /var/lib/docker/btrfs) are unmounted first, deepest first: a folder
#: holding a mount cannot move (EBUSY). A folder that is a mount point itself is refused.
_SET_ASIDE = (
    'if [ -e "$2" ]; then [ ! -e "$1" ] || { echo "both $1 and $2 exist" >&2; exit 1; }; '
    'elif [ -e "$1" ]; then '
    'if mountpoint -q -- "$1"; then echo "$1 is a mount point and cannot move aside: unmount it first, '
    'or remove the data with --purge" >&2; exit 1; fi; '
    'findmnt -rn -o TARGET | sort -r | while IFS= read -r m; do case "$m" in "$1"/*) '
    'umount -- "$m" || { echo "$m (a mount inside $1) cannot be unmounted" >&2; exit 1; };; esac; done '
    '|| exit 1; mv -T -- "$1" "$2"; fi'
)
_PUT_BACK = '[ ! -e "$2" ] || mv -T -- "$2" "$1"'
#: Operations on packages and data (the others undo a ledger entry).
_DATA_KINDS = {OpKind.REMOVE_PACKAGES, OpKind.DUMP, OpKind.ARCHIVE, OpKind.KEEP, OpKind.PUT_BACK, OpKind.PURGE}
_UNDO_KINDS = {
    ChangeKind.FIREWALL: (OpKind.CLOSE_FIREWALL, "FOSSP opened it"),
    ChangeKind.SELINUX_BOOLEAN: (OpKind.RESET_SELINUX_BOOLEAN, "FOSSP set it"),
    ChangeKind.SELINUX_PORT: (OpKind.UNLABEL_SELINUX_PORT, "FOSSP labelled it"),
}


@dataclass(frozen=True)
class Purge:
    """``--purge``: the data goes too, after its backup into BASE/HOST/ROLE-STAMP here."""

    base: str
    stamp: str

    def folder(self, host: str, role_name: str) -> str:
        return posixpath.join(self.base, host.replace("/", "_"), f"{role_name}-{self.stamp}")


class RemovalOp(Operation):
    """A decommission operation; ``unsure``: made from a ledger entry whose change may
    never have happened (interrupted), so a failing command is a warning, not a failure."""

    unsure: bool = False


class Removal(Plan):
    """A host's decommission plan, with what it keeps and where its backups go."""

    purge: bool = False
    removing: list[str] = Field(default_factory=list, description="packages it removes (a dry run checks first)")
    kept_packages: list[str] = Field(default_factory=list, description="FOSSP installed them; staying roles need them")
    kept: list[str] = Field(default_factory=list, description="data folders left on the host")
    backups: dict[str, str] = Field(default_factory=dict, description="role ID -> folder on the controller")
    restore: dict[str, list[str]] = Field(default_factory=dict, description="dump file -> the command reading it back")
    members: dict[str, list[str]] = Field(
        default_factory=dict, description="multi-host role ID -> its members (host names), this host among them"
    )

    @property
    def gist(self) -> list[tuple[str, str]]:
        """What a person confirms: the changes, less the empty-folder clean-up (an earlier
        interrupted run's recovery may add to that)."""
        return [(op.kind.value, op.target) for op in self.changes if op.kind is not OpKind.REMOVE_EMPTY_DIRS]

    def summary(self) -> dict[str, Any]:
        return {
            **super().summary(),
            "purge": self.purge,
            "kept": self.kept,
            "kept_packages": self.kept_packages,
            "backups": self.backups,
            "restore": self.restore,
        }


@dataclass
class Undone:
    """What decommission did on one host: changes undone, packages removed, data kept or
    backed up, warnings."""

    plan: Removal
    roles: list[str] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    removed_packages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recovered: str | None = None
    snapshots: dict[str, int] = field(default_factory=dict)  # the run's "pre" and "post"

    def summary(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "roles": self.roles,
            "undone": self.undone,
            "removed_packages": self.removed_packages,
            "kept_packages": plan.kept_packages,
            "kept": plan.kept,
            "backups": plan.backups,
            "restore": plan.restore,
            "warnings": self.warnings,
            "recovered": self.recovered,
            "snapshots": self.snapshots,
            "plan": plan.summary(),
        }


def chosen_roles(state: HostState, catalog: Catalog, refs: list[str], host: str) -> list[str]:
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


@dataclass(frozen=True)
class _Data:
    """One data folder of a leaving role, as this host has it."""

    role: str
    spec: DataPath
    values: dict[str, str]

    @property
    def aside(self) -> str:
        return self.spec.path + ASIDE_SUFFIX

    @property
    def into(self) -> str | None:
        """The folder that receives the carried files (None: nothing to carry, or unknown)."""
        return fill(self.spec.carry.into, self.values) if self.spec.carry else None

    def carried(self) -> list[tuple[str, str]]:
        """(file elsewhere, its copy in the folder) for the files the data needs to be used again."""
        if self.spec.carry is None or self.into is None:
            return []
        sources = (fill(text, self.values) for text in self.spec.carry.files)
        return [(source, posixpath.join(self.into, posixpath.basename(source))) for source in sources if source]


def _recipe(state: HostState, role_id: str, facts: Facts) -> FamilyRecipe:
    return load_recipe(state.instances[role_id].role_name).for_family(facts.family) if facts.family else FamilyRecipe()


def _data(state: HostState, roles: list[str], facts: Facts) -> list[_Data]:
    found = []
    for role_id in roles:
        recipe = _recipe(state, role_id, facts)
        values = resolve_vars(recipe, state.instances[role_id].settings, facts.packages)
        found += [_Data(role_id, spec, values) for spec in filled_data(recipe.data, values)[0]]
    return found


def fact_paths(state: HostState, roles: list[str], facts: Facts) -> list[str]:
    """The paths the plan reads: the data folders, where they may be set aside, and the
    files they carry (the recipe's variables resolved on the host's packages)."""
    from fossp.engine.recipe import CONTAINER_MARK
    from fossp.platform.health import MANIFESTS
    from fossp.platform.osrelease import ETC, VENDOR

    paths = [ETC, VENDOR, MANIFESTS, CONTAINER_MARK]
    for data in _data(state, roles, facts):
        paths += [data.spec.path, data.aside, *([data.into] if data.into else []), *(s for s, _ in data.carried())]
    return paths


def plan_decommission(
    facts: Facts,
    state: HostState,
    catalog: Catalog,
    roles: list[str],
    purge: Purge | None,
    needed: frozenset[str] = frozenset(),
) -> Removal:
    """The ordered operations that take ``roles`` off the host (pure: facts and state in;
    ``needed``: packages the host's other packages depend on, which stay)."""
    if facts.family is None:
        raise HostError(f"{facts.host}: unknown OS family (os-release ID={facts.os.id!r})")
    backend = backend_for(facts)
    plan = Removal(host=facts.host, family=facts.family.value, roles=roles, purge=purge is not None)
    plan.members = {role_id: state.instances[role_id].members for role_id in roles if state.instances[role_id].members}
    data = _data(state, roles, facts)
    present = [d for d in data if d.spec.path in facts.files or d.aside in facts.files]
    changes = [c for c in reversed(state.ledger) if c.role in roles]
    # A decommission that began before (killed, or failed midway) may have undone any of
    # them already: their undo, idempotent in effect, then tolerates "already gone".
    resuming = any(_left_midway(state, role_id) for role_id in roles)
    ops = plan.operations
    if purge is not None:
        for role_id in roles:
            ops += _backups(plan, facts, state, role_id, [d for d in present if d.role == role_id], purge)
    ops += [
        op
        for op in (
            _undo(change, resuming, purge is not None) for change in changes if change.kind is not ChangeKind.PACKAGES
        )
        if op
    ]
    ops += [] if facts.offline_root else _daemon_reload(changes, roles[0])
    plan.removing, plan.kept_packages = _packages(state, catalog, facts, roles, needed)
    # set aside while the packages go; or still aside, after an interrupted decommission
    moving = [d for d in present if purge is None and (plan.removing or d.aside in facts.files)]
    if moving or (purge is not None and present):
        ops += _stops(ops, facts, facts.family, catalog, state, roles)
        for op in ops:
            if op.kind is OpKind.STOP and not facts.offline_root:
                op.commands.append(_stop_parts(op.target))
    if purge is None:
        plan.kept = [d.spec.path for d in present]
        ops += [_keep(d, facts, d in moving) for d in data]
    if plan.removing:
        ops.append(_remove_packages(plan.removing, backend, roles[0]))
    if plan.kept_packages:
        kept_packages = ", ".join(plan.kept_packages)
        ops.append(
            noop(roles[0], OpKind.REMOVE_PACKAGES, kept_packages, "kept: a role or package that stays needs them")
        )
    if purge is not None:
        ops += [_purge_data(d, facts) for d in present]
    kept = [facts.on_host(d.spec.path) for d in moving]
    ops += [op for op in (_folders(change, kept) for change in changes) if op]
    ops += [_put_back(d, facts) for d in reversed(moving)]
    ops[:] = [_spare_the_way_in(op, plan.removing) for op in ops]
    ops += _reread_ways_in(ops, facts, plan.removing, roles[0])
    from fossp.engine.planner import carried_after
    from fossp.platform.health import health_checks_ops
    from fossp.platform.osrelease import os_release_op

    ops.append(os_release_op(facts, [r for r in state.instances if r not in roles], roles[0]))
    ops += health_checks_ops(facts, carried_after(state, [], tuple(roles)), roles[0])
    return plan


#: The ways in to a host and their packages: FOSSP itself (and everyone) reaches the host
#: through sshd, so a decommission (the platform's, which edits sshd_config and may have
#: started it) never stops, disables or masks it while its package stays installed.
WAYS_IN = {"ssh.service": "openssh-server", "sshd.service": "openssh-server"}
_CUTS_OFF = {OpKind.STOP: "stopped", OpKind.DISABLE: "disabled", OpKind.MASK: "masked"}


def _spare_the_way_in(op: Operation, removing: list[str]) -> Operation:
    """``op``, or a no-op in its place where it would cut off the way in to the host."""
    package = WAYS_IN.get(op.target)
    if package is None or op.kind not in _CUTS_OFF or package in removing:
        return op
    why = f"not {_CUTS_OFF[op.kind]}: it is the way in to the host, and {package} stays installed"
    return noop(op.role, op.kind, op.target, why)


#: Where each way in reads its configuration.
WAY_IN_CONFIG = {"ssh.service": "/etc/ssh/", "sshd.service": "/etc/ssh/"}


def _reread_ways_in(ops: list[Operation], facts: Facts, removing: list[str], role: str) -> list[Operation]:
    """A way in that stays running reads its restored configuration (sshd_config without
    the platform's settings) for the next logins: a reload, which keeps the sessions."""
    restored = [op.target for op in ops if op.change and op.kind in (OpKind.RESTORE, OpKind.UNDO)]
    return [
        _op(
            OpKind.RESTART,
            role,
            unit,
            f"stays running; reads its restored configuration ({', '.join(paths)})",
            commands=[["systemctl", "reload-or-restart", unit]],
        )
        for unit, folder in WAY_IN_CONFIG.items()
        if WAYS_IN[unit] not in removing
        and unit in facts.units
        and facts.units[unit].active == "active"
        and (paths := [path for path in restored if path.startswith(folder)])
    ]


def _daemon_reload(changes: list[Change], role: str) -> list[Operation]:
    """systemd forgets the unit files the undo removed or put back (the units are gone)."""
    units = [c.target for c in changes if c.kind in (ChangeKind.FILE, ChangeKind.REMOVE) and is_unit_file(c.target)]
    if not units:
        return []
    return [
        _op(
            OpKind.UNDO,
            role,
            "daemon-reload",
            f"unit files undone: {', '.join(units)}",
            commands=[["systemctl", "daemon-reload"]],
        )
    ]


def refuse_partial_clusters(plans: dict[str, Removal], catalog: Catalog) -> None:
    """A member of a multi-host role leaves alone only where the role says how; otherwise
    the whole cluster goes in one decommission, so no member is left broken."""
    leaving = {(role_id, host) for host, plan in plans.items() for role_id in plan.members}
    for host, plan in plans.items():
        for role_id, members in plan.members.items():
            staying = [m for m in members if (role_id, m) not in leaving]
            role = catalog.roles.get(role_id)
            if staying and role is not None and role.cluster is not None and role.cluster.leave is None:
                raise BadInput(
                    f"{host}: {role.id} ({role.implementation}) is one member of a cluster with "
                    f"{', '.join(staying)}; decommission every member together (a --target for each) "
                    "so none is left without its peers"
                )


def first_members(plans: dict[str, Removal]) -> dict[str, list[str]]:
    """Host -> the hosts of this run whose decommission must end before its own: the first
    member of each multi-host role it leaves, which undoes the role's cluster steps
    (``gluster volume delete``, ``peer detach``); those need every member's daemons still
    running. A host waited for never waits itself, so the order has no cycle."""
    firsts: dict[str, list[str]] = {host: [] for host in plans}
    for host, plan in plans.items():
        for members in plan.members.values():
            first = members[0] if members else None
            if first is not None and first != host and first in plans and first not in firsts[host]:
                firsts[host].append(first)
    waited = {first for wanted in firsts.values() for first in wanted}
    return {host: [] if host in waited else wanted for host, wanted in firsts.items()}


def _op(kind: OpKind, role: str, target: str, reason: str, **fields: Any) -> RemovalOp:
    return RemovalOp(role=role, kind=kind, target=target, reason=reason, **fields)


def _backups(
    plan: Removal, facts: Facts, state: HostState, role_id: str, present: list[_Data], purge: Purge
) -> list[Operation]:
    """The dumps (the server still runs) and one tar of the role's data folders."""
    if not present:
        return []
    folder = purge.folder(facts.host, state.instances[role_id].role_name)
    plan.backups[role_id] = folder
    ops: list[Operation] = []
    for data in present:
        dump = data.spec.dump
        if dump is None:
            continue
        target = posixpath.join(folder, dump.file)
        if facts.offline_root:
            ops.append(noop(role_id, OpKind.DUMP, target, "an offline root runs no server: the archive is the copy"))
            continue
        argv, restore = _filled(dump.argv, data.values), _filled(dump.restore, data.values)
        if argv is None or restore is None:
            raise HostError(f"{facts.host}: cannot make {role_id}'s dump: {shlex.join(dump.argv)} needs unknown values")
        plan.restore[target] = restore
        reason = f"a consistent copy while the server still runs; restore: {shlex.join(restore)} < {dump.file}"
        ops.append(_op(OpKind.DUMP, role_id, target, reason, commands=[argv]))
    paths = [d.spec.path.lstrip("/") for d in present if d.spec.path in facts.files]
    if paths:
        tar = ["tar", "-C", facts.on_host("/"), "-cf", "-", "--", *paths]
        reason = f"tar of {', '.join('/' + p for p in paths)} before they are removed"
        ops.append(_op(OpKind.ARCHIVE, role_id, posixpath.join(folder, ARCHIVE_FILE), reason, commands=[tar]))
    return ops


def _filled(argv: list[str], values: dict[str, str]) -> list[str] | None:
    """``argv`` with placeholders filled, or None when one is not known."""
    filled = [fill(arg, values) for arg in argv]
    return [arg for arg in filled if arg is not None] if None not in filled else None


def _is_folders(argv: list[str]) -> bool:
    """An rmdir of the folders a change created (recorded by apply and recovery)."""
    return argv[:3] == ["sh", "-c", RMDIR_SCRIPT]


def _left_midway(state: HostState, role_id: str) -> bool:
    """The role's last decommission began and did not finish."""
    instance = state.instances[role_id]
    failed = instance.state is InstanceState.ERROR and (instance.message or "").startswith(DECOMMISSION_FAILED)
    return instance.state is InstanceState.DECOMMISSIONING or failed


def _unsure(change: Change, resuming: bool) -> str:
    if resuming:
        return " (an earlier decommission began: it may be undone already)"
    if change.status is ChangeStatus.DONE:
        return ""
    return f" ({change.status.value}: it may not have happened)"


#: A unit change's undo by its systemctl verb: (the operation, why).
_UNIT_UNDO = {
    "disable": (OpKind.DISABLE, "FOSSP enabled it"),
    "stop": (OpKind.STOP, "FOSSP started it"),
    "mask": (OpKind.MASK, "FOSSP unmasked it"),
    "unmask": (OpKind.UNMASK, "FOSSP masked it"),
    "enable": (OpKind.ENABLE, "FOSSP disabled it"),
    "start": (OpKind.START, "FOSSP stopped it"),
}


def _undo(change: Change, resuming: bool = False, purging: bool = False) -> Operation | None:
    """The operation taking ``change`` back, or None when it has nothing to undo."""
    commands = [argv for argv in change.undo if not _is_folders(argv)]
    if not commands:
        return None
    if change.undo_on_purge and not purging:
        return noop(
            change.role,
            OpKind.KEEP,
            change.target,
            f"its undo ({shlex.join(commands[0])}) deletes data: --purge runs it",
        )
    if change.kind is ChangeKind.UNIT:
        verb = next((word for word in commands[0] if word in _UNIT_UNDO), "stop")
        kind, reason = _UNIT_UNDO[verb]
    elif change.kind in (ChangeKind.FILE, ChangeKind.REMOVE, ChangeKind.DIR):
        kind, reason = _file_undo(change)
    else:
        kind, reason = _UNDO_KINDS.get(change.kind, (OpKind.UNDO, f"FOSSP made this {change.kind.value} change"))
    return _op(
        kind,
        change.role,
        change.target,
        f"{reason} on {change.at}{_unsure(change, resuming)}",
        commands=commands,
        unsure=resuming or change.status is not ChangeStatus.DONE,
    )


def _file_undo(change: Change) -> tuple[OpKind, str]:
    if change.link_target is not None:
        return OpKind.RESTORE, f"a symbolic link to {change.link_target} until FOSSP changed it"
    if change.backup is not None:
        return OpKind.RESTORE, "the original, as FOSSP kept it before changing it"
    if change.kind is ChangeKind.DIR:
        return OpKind.REMOVE_DIR, "FOSSP created it (kept if it holds other files)"
    return OpKind.REMOVE, "FOSSP created it"


def _folders(change: Change, kept: list[str]) -> Operation | None:
    """Remove the folders ``change`` created where empty now, but none inside ``kept`` data."""
    folders = [
        folder
        for argv in change.undo
        if _is_folders(argv)
        for folder in argv[4:]
        if not any(folder == path or folder.startswith(path + "/") for path in kept)
    ]
    if not folders:
        return None
    commands = [["sh", "-c", RMDIR_SCRIPT, "rmdir", *folders]]
    reason = f"{len(folders)} folder(s) the {change.kind.value} change created, where empty now"
    return _op(OpKind.REMOVE_EMPTY_DIRS, change.role, change.target, reason, commands=commands, unsure=True)


def _packages(
    state: HostState, catalog: Catalog, facts: Facts, leaving: list[str], elsewhere: frozenset[str]
) -> tuple[list[str], list[str]]:
    """(packages to remove, packages kept): those FOSSP installed for the leaving roles,
    less the ones the staying roles need (their own and those FOSSP installed for them)
    and those other installed packages depend on (``elsewhere``)."""
    installed = {p for r in leaving for c in state.changes(r) for p in c.packages if p in facts.packages}
    needed: set[str] = set(elsewhere)
    for role_id in (r for r in state.instances if r not in leaving):
        needed.update(p for c in state.changes(role_id) for p in c.packages)
        if role_id in catalog.roles and facts.family is not None:
            needed.update(catalog.roles[role_id].packages_for(facts.family, state.instances[role_id].part))
    return sorted(installed - needed), sorted(installed & needed)


def _remove_packages(removing: list[str], backend: Backend, role: str) -> Operation:
    return _op(
        OpKind.REMOVE_PACKAGES,
        role,
        " ".join(removing),
        f"FOSSP installed them ({len(removing)}, dependencies included); nothing else needs them",
        commands=[backend.remove(removing)],
    )


def _units(catalog: Catalog, state: HostState, roles: list[str], family: Family | None = None) -> dict[str, str]:
    """The leaving roles' units -> their role; every family's when ``family`` is None (the
    facts are gathered before the family is known)."""
    return {
        unit: role_id
        for role_id in roles
        if role_id in catalog.roles
        for unit in catalog.roles[role_id].units_for(
            family, state.instances[role_id].settings, state.instances[role_id].part
        )
    }


def _stops(
    planned: list[Operation], facts: Facts, family: Family, catalog: Catalog, state: HostState, roles: list[str]
) -> list[Operation]:
    """Stop the leaving roles' active units that no undo stops: a server must not run
    while its data folder moves aside or goes."""
    stopping = {op.target for op in planned if op.kind is OpKind.STOP}
    role_of = _units(catalog, state, roles, family)
    return [
        _op(
            OpKind.STOP,
            role_of[unit],
            unit,
            "active: a server must not run while its data folder moves or goes",
            commands=[["systemctl", "stop", unit]],
        )
        for unit in sorted(role_of)
        if unit not in stopping and unit in facts.units and facts.units[unit].active == "active"
    ]


#: `systemctl stop` returns once the unit itself stopped; the units that are PartOf it
#: (Debian's postgresql@15-main of postgresql.service, ordered before it) may still be
#: shutting down. Stopping them too waits until they have: the data must not move earlier.
STOP_PARTS = (
    'parts=$(systemctl show -p ConsistsOf --value -- "$1") || exit 1; [ -z "$parts" ] || systemctl stop -- $parts'
)


def _stop_parts(unit: str) -> list[str]:
    return ["sh", "-c", STOP_PARTS, "stop-parts", unit]


def _keep(data: _Data, facts: Facts, moving: bool) -> Operation:
    path = data.spec.path
    if path not in facts.files and data.aside not in facts.files:
        return noop(data.role, OpKind.KEEP, path, "absent: nothing to keep")
    reason = f"kept: {data.spec.why}; remove with --purge"
    if not moving:
        return noop(data.role, OpKind.KEEP, path, reason)
    carried = [(source, copy) for source, copy in data.carried() if source in facts.files and data.into in facts.files]
    commands = [["cp", "-p", "--", facts.on_host(source), facts.on_host(copy)] for source, copy in carried]
    commands.append(["sh", "-c", _SET_ASIDE, "aside", facts.on_host(path), facts.on_host(data.aside)])
    with_files = f", with {', '.join(source for source, _ in carried)}" if carried else ""
    reason += f" (moved to {data.aside} while the packages go{with_files})"
    return _op(OpKind.KEEP, data.role, path, reason, commands=commands)


def _put_back(data: _Data, facts: Facts) -> Operation:
    path, aside = facts.on_host(data.spec.path), facts.on_host(data.aside)
    return _op(
        OpKind.PUT_BACK,
        data.role,
        data.spec.path,
        f"kept: {data.spec.why}",
        commands=[["sh", "-c", _PUT_BACK, "put-back", path, aside]],
    )


def _purge_data(data: _Data, facts: Facts) -> Operation:
    return _op(
        OpKind.PURGE,
        data.role,
        data.spec.path,
        f"--purge: {data.spec.why}, backed up first",
        commands=[["rm", "-rf", "--one-file-system", "--", facts.on_host(p)] for p in (data.spec.path, data.aside)],
    )


async def plan_removal(
    connector: Connector, catalog: Catalog, refs: list[str], purge: Purge | None
) -> tuple[Facts, HostState, Removal]:
    """Facts, state and plan: all of `fossp decommission --dry-run`. A removal that would
    take along a package FOSSP did not install is refused here, before any change."""
    facts = await gather_facts(connector)
    state = parse_state(facts)
    roles = chosen_roles(state, catalog, refs, connector.name)
    facts = await gather_facts(connector, fact_paths(state, roles, facts), sorted(_units(catalog, state, roles)))
    plan = plan_decommission(facts, state, catalog, roles, purge)
    if plan.removing and await _takes_others(connector, backend_for(facts), plan.removing):
        # a package installed since (the platform's, say) depends on some of them: they stay
        needed = await _needed_by_others(connector, backend_for(facts), plan.removing)
        plan = plan_decommission(facts, state, catalog, roles, purge, needed)
        others = await _takes_others(connector, backend_for(facts), plan.removing) if plan.removing else set()
        if others:
            raise HostError(
                f"{connector.name}: removing {', '.join(plan.removing)} would also remove "
                f"{', '.join(sorted(others))}; nothing changed"
            )
    plan.notes += interrupted_note(facts, state, connector.timeouts)
    return facts, state, plan


async def _takes_others(connector: Connector, backend: Backend, packages: list[str]) -> set[str]:
    """The packages besides ``packages`` that removing them would take along (a dry run)."""
    dry_run = await connector.run(backend.check_remove(packages))
    return backend.others_affected(dry_run.stdout + dry_run.stderr, packages)


async def _needed_by_others(connector: Connector, backend: Backend, candidates: list[str]) -> frozenset[str]:
    """The candidates whose removal alone would take along a package that is not one of
    them: what depends on them stays, so they stay (a dry run each, only in this case)."""
    needed = set()
    for package in candidates:
        if await _takes_others(connector, backend, [package]) - set(candidates):
            needed.add(package)
    return frozenset(needed)


async def decommission_host(
    connector: Connector,
    catalog: Catalog,
    refs: list[str],
    report: Report = quiet,
    purge: Purge | None = None,
    expect: list[tuple[str, str]] | None = None,
) -> Undone:
    """Take the named roles (all FOSSP roles if none) off the host, under its lock.

    ``expect``: the plan's gist as shown to the person who confirmed it; if the host has
    changed since, nothing is done.
    """
    async with HostLock(connector):
        report("facts")
        facts, state, plan = await plan_removal(connector, catalog, refs, purge)
        recovered = await recover(connector, facts, state, backend_for(facts), report)
        if recovered:
            facts, state, plan = await plan_removal(connector, catalog, refs, purge)
        if expect is not None and plan.gist != expect:
            raise HostError(f"{connector.name}: the host changed since its plan was shown; nothing changed, run again")
        run = Run(id=new_run_id(), command="decommission", roles=plan.roles)
        result = Undone(plan=plan, roles=plan.roles, recovered=recovered)
        await pre_snapshot(connector, facts, bool(plan.changes), run, result.snapshots, report)
        for role_id in plan.roles:
            state.set_state(role_id, InstanceState.DECOMMISSIONING)
        state.run = run
        await save_state(connector, state)
        try:
            await _Remover(connector, result, report).apply()
        except HostError as error:
            for role_id in plan.roles:
                state.set_state(role_id, InstanceState.ERROR, f"{DECOMMISSION_FAILED}{error.message}")
            state.run = None
            with contextlib.suppress(HostError):  # a lost host: the next run finds the state as it was
                await save_state(connector, state)
            await post_snapshot(connector, run, result.snapshots, result.warnings)
            raise
        await _forget(connector, state, plan.roles)
        await post_snapshot(connector, run, result.snapshots, result.warnings)
        return result


@dataclass
class _Remover:
    connector: Connector
    result: Undone
    report: Report
    aside: list[str] = field(default_factory=list)  # data folders moved aside, not yet back

    async def apply(self) -> None:
        """Every change in order; kept data goes back in place even when a later one fails."""
        for op in self.result.plan.changes:
            self.report(f"{op.kind.value} {op.target}")
            try:
                await self._one(op)
            except HostError as error:
                raise HostError(f"{error.message}{await self._put_back()}") from None

    async def _one(self, op: Operation) -> None:
        if op.kind in (OpKind.DUMP, OpKind.ARCHIVE):
            await self._save(op)
        elif op.kind is OpKind.REMOVE_PACKAGES:
            await self.connector.check(op.commands[0], timeout=self.connector.timeouts.packages)
            self.result.removed_packages = self.result.plan.removing
        else:
            await self._commands(op)
            if op.kind is OpKind.KEEP:
                self.aside.append(op.target)
            elif op.kind is OpKind.PUT_BACK:
                self.aside.remove(op.target)
        if op.kind not in _DATA_KINDS:
            self.result.undone.append(f"{op.kind.value} {op.target}")

    async def _commands(self, op: Operation) -> None:
        for argv in op.commands:
            outcome = await self.connector.run(argv)
            if outcome.ok:
                continue
            if op.kind is OpKind.REMOVE_DIR:
                self.result.warnings.append(f"kept {op.target}: it holds files FOSSP did not write")
                return
            if isinstance(op, RemovalOp) and op.unsure:
                self.result.warnings.append(f"{op.kind.value} {op.target}: {outcome.describe()}")
                continue
            raise HostError(f"{self.connector.name}: {op.kind.value} {op.target} failed: {outcome.describe()}")

    async def _save(self, op: Operation) -> None:
        """A backup file on the controller; a failure stops the run before any removal."""
        destination = Path(op.target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(destination.parent, 0o700)
        outcome = await save_output(self.connector, op.commands[0], destination, self.connector.timeouts.host)
        changed_while_read = op.kind is OpKind.ARCHIVE and outcome.exit_status == 1  # GNU tar
        if outcome.ok or changed_while_read:
            if changed_while_read:
                self.result.warnings.append(f"{op.target}: files changed while archived ({outcome.stderr.strip()})")
            return
        destination.unlink()
        raise HostError(
            f"{self.connector.name}: {op.kind.value} {op.target} failed, nothing removed: {outcome.describe()}"
        )

    async def _put_back(self) -> str:
        """Put set-aside data back after a failure; the text says where any of it still is."""
        stranded = []
        for op in (o for o in self.result.plan.changes if o.kind is OpKind.PUT_BACK and o.target in self.aside):
            outcome = await self.connector.run(op.commands[0])
            if not outcome.ok:
                stranded.append(f"{op.target}{ASIDE_SUFFIX}")
        return f"; kept data is still at {', '.join(stranded)}" if stranded else ""


async def _forget(connector: Connector, state: HostState, roles: list[str]) -> None:
    """Drop the roles' instances and ledger entries, end the run, then the file backups
    (in that order: a ledger saved first never names a backup that is gone)."""
    state.ledger = [c for c in state.ledger if c.role not in roles]
    state.restarts = [r for r in state.restarts if r.role not in roles]
    state.run = None
    for role_id in roles:
        del state.instances[role_id]
    await save_state(connector, state)
    for role_id in roles:
        await connector.run(["rm", "-rf", "--", connector.path(f"{BACKUP_DIR}/{role_id}")])
    await connector.run(["rmdir", "--ignore-fail-on-non-empty", "--", connector.path(BACKUP_DIR)])


def removal_question(plans: list[Removal]) -> str:
    """What `fossp decommission` asks before it changes anything."""
    data = sorted({path for plan in plans if plan.purge for path in _purged(plan)})
    roles = ", ".join(sorted({role for plan in plans for role in plan.roles}))
    what = f"{roles} and their data ({', '.join(data)})" if data else roles
    where = plans[0].host if len(plans) == 1 else f"{len(plans)} hosts ({', '.join(p.host for p in plans)})"
    return f"Remove {what} from {where}?"


def _purged(plan: Removal) -> list[str]:
    return [op.target for op in plan.changes if op.kind is OpKind.PURGE]
