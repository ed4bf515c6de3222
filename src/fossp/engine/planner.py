"""The planner: wanted roles + a host's facts -> ordered operations, each with its reason.

Pure: it reads facts and FOSSP's state (both from the one facts batch) and never touches
the host, so tests give it recorded facts and expect operations. Order per role:
data subvolumes (on a BTRFS root), packages, SELinux, firewall, setup steps that need the packages, files, units, setup
steps that need the running service. A decision that depends on an earlier change
(a file the package creates) is marked ``pending``; apply re-plans on fresh facts after
every change that alters facts, so such decisions are always taken on the truth.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fossp.catalog.loader import Catalog
from fossp.catalog.schema import Family, Role
from fossp.engine.access import plan_firewall, plan_selinux
from fossp.engine.backends import Backend, backend_for
from fossp.engine.backup import registered_director
from fossp.engine.cluster import Membership
from fossp.engine.operations import Operation, OpKind, Plan, is_unit_file, noop
from fossp.engine.recipe import (
    CONTAINER_MARK,
    DataPath,
    FileSpec,
    Step,
    UnitAction,
    fill,
    filled_data,
    for_part,
    load_recipe,
    not_needed,
    placeholders,
    resolve_vars,
    spread,
)
from fossp.engine.render import augeas_edit, edit_text, render_template
from fossp.engine.state import HostState
from fossp.errors import BadInput
from fossp.hosts.connector import HostError
from fossp.hosts.facts import Facts, FileFact, UnitState
from fossp.secrets import generated_secret

if TYPE_CHECKING:
    from fossp.platform.health import Carried

#: systemctl is-enabled states that need no `enable`.
ENABLED_STATES = {"enabled", "enabled-runtime", "static", "alias", "indirect", "generated", "linked"}


@dataclass(frozen=True)
class Wanted:
    """A role to deploy and its resolved settings."""

    role: Role
    settings: dict[str, Any]
    membership: Membership | None = None

    @property
    def part(self) -> str | None:
        return self.membership.me.part if self.membership else None

    def values(self) -> dict[str, Any]:
        """The settings with a member's derived values (its place in a multi-host role)."""
        return {**self.settings, **(self.membership.values() if self.membership else {})}


def wanted_roles(
    catalog: Catalog,
    choices: list[tuple[str, dict[str, Any]]],
    host_vars: dict[str, Any],
    where: str,
    memberships: dict[str, Membership] | None = None,
) -> list[Wanted]:
    """Resolve role refs and settings; a host variable ``<role>_<setting>`` overrides."""
    from fossp.selection.profile import resolve_settings

    wanted: list[Wanted] = []
    for ref, given in choices:
        role = catalog.role(ref)
        overrides = {
            s.name: host_vars[f"{role.name}_{s.name}"] for s in role.settings if f"{role.name}_{s.name}" in host_vars
        }
        membership = (memberships or {}).get(role.id)
        settings = resolve_settings(role, {**given, **overrides}, where)
        scope = membership.first.name if membership else where
        for setting in role.settings:
            if setting.generate and not settings.get(setting.name):
                settings[setting.name] = generated_secret(
                    role.name, scope.replace("/", "_"), setting.name, setting.generate, setting.generate_as
                )
        wanted.append(Wanted(role, settings, membership))
    refuse_conflicts(wanted, [], where)
    return wanted


def refuse_conflicts(wanted: list[Wanted], deployed: list[Wanted], where: str) -> None:
    """Roles that cannot share a host (declared conflicts, clashing ports) are bad input."""
    from fossp.selection.conflicts import find_conflicts

    chosen = [(w.role, w.settings) for w in wanted]
    others = [(d.role, d.settings) for d in deployed if d.role.id not in {w.role.id for w in wanted}]
    clashes = [c for c in find_conflicts(chosen + others) if c.first in _ids(wanted) or c.second in _ids(wanted)]
    if clashes:
        first = clashes[0]
        raise BadInput(
            f"{where}: {first.first} and {first.second} cannot share a host: {first.reason}; {first.resolution}"
        )


def _ids(wanted: list[Wanted]) -> set[str]:
    return {w.role.id for w in wanted}


def deployed_roles(state: HostState) -> list[Wanted]:
    """The roles FOSSP deployed on the host before, with their settings (known roles only)."""
    from fossp.catalog.loader import load_catalog

    catalog = load_catalog()
    return [
        Wanted(catalog.roles[i.role_id], i.settings) for i in state.instances.values() if i.role_id in catalog.roles
    ]


def carried_after(state: HostState, wanted: list[Wanted], leaving: tuple[str, ...] = ()) -> list[Carried]:
    """The roles on the host once the run is over (those of the run with their new settings)."""
    from fossp.catalog import load_catalog
    from fossp.platform.health import Carried

    catalog = load_catalog()
    carried: dict[str, Carried] = {w.role.id: Carried(w.role, w.values(), w.part) for w in wanted}
    for role_id, instance in state.instances.items():
        if role_id not in carried and role_id not in leaving and role_id in catalog.roles:
            carried[role_id] = Carried(catalog.roles[role_id], instance.settings, instance.part)
    return list(carried.values())


@dataclass
class _RolePlan:
    """What one role's builders share while its operations are made."""

    role: Role
    family: Family
    settings: dict[str, Any]
    values: dict[str, str]
    facts: Facts
    state: HostState
    backend: Backend
    operations: list[Operation]
    part: str | None = None
    held: dict[str, str] = field(default_factory=dict)  # a unit not started here -> why
    others: frozenset[str] = frozenset()  # names of the roles deployed or being deployed on the host

    def units(self) -> list[str]:
        """The role's units that run on this host (restarted when their files change)."""
        return [u for u in self.role.units_for(self.family, self.values, self.part) if u not in self.held]

    @property
    def stale(self) -> bool:
        """Facts may be out of date: an earlier change of this role alters them."""
        return any(op.change and op.refresh for op in self.operations)

    def op(self, kind: OpKind, target: str, reason: str, **fields: Any) -> Operation:
        return Operation(role=self.role.id, kind=kind, target=target, reason=reason, **fields)

    def noop(self, kind: OpKind, target: str, reason: str) -> Operation:
        return noop(self.role.id, kind, target, reason)

    def on_host(self, path: str) -> str:
        """A path as commands name it (inside the offline root, if any)."""
        return self.facts.on_host(path)

    def systemctl(self, *args: str) -> list[str]:
        root = self.facts.root_prefix
        return ["systemctl", *((f"--root={root}",) if root else ()), *args]


def plan_host(facts: Facts, wanted: list[Wanted], state: HostState) -> Plan:
    """The host's plan for all wanted roles (each role's operations in order)."""
    family = facts.family
    if family is None:
        raise HostError(
            f"{facts.host}: unknown OS family (os-release ID={facts.os.id!r}); FOSSP supports fedora and debian"
        )
    refuse_conflicts(wanted, deployed_roles(state), facts.host)
    backend = backend_for(facts)
    operations: list[Operation] = []
    on_host = frozenset([*(i.role_name for i in state.instances.values()), *(w.role.name for w in wanted)])
    for item in wanted:
        operations += plan_role(item, facts, state, family, backend, on_host)
    from fossp.platform.health import health_checks_ops
    from fossp.platform.osrelease import os_release_op

    if wanted:  # a host of a run that places no role here is left as it is
        after = list(dict.fromkeys([*state.instances, *(w.role.id for w in wanted)]))
        operations.append(os_release_op(facts, after, wanted[-1].role.id))
        operations += health_checks_ops(facts, carried_after(state, wanted), wanted[-1].role.id)
    return Plan(
        host=facts.host,
        family=family.value,
        roles=[w.role.id for w in wanted],
        operations=operations,
        backup_director=registered_director(facts),
    )


def plan_role(
    item: Wanted,
    facts: Facts,
    state: HostState,
    family: Family,
    backend: Backend,
    on_host: frozenset[str] = frozenset(),
) -> list[Operation]:
    role = item.role
    if not role.available_on(family):
        raise BadInput(f"{facts.host}: {role.title} is not available on {family.value}: {role.packages[family].note}")
    _refuse_unhonoured(item, family, facts.host)
    recipe = load_recipe(role.name).for_family(family)
    settings = item.values()
    ctx = _RolePlan(
        role, family, settings, resolve_vars(recipe, settings, facts.packages), facts, state, backend, [], item.part
    )
    ctx.others = on_host - {role.name}
    in_container = CONTAINER_MARK in facts.files
    for unit in role.units_for(family, ctx.values, item.part):
        reason = recipe.held(unit, settings, in_container)
        if reason:
            ctx.held[unit] = reason
    steps = for_part(recipe.steps, item.part)
    files = for_part(recipe.files, item.part)
    data, unknown = filled_data(recipe.data, ctx.values)
    ctx.operations += _data_subvolumes(ctx, data)
    ctx.operations += [
        ctx.noop(OpKind.SUBVOLUME, d.path, f"path needs {_unknown(d.path, ctx.values)}: no subvolume of its own")
        for d in unknown
    ]
    ctx.operations += [_step(ctx, step) for step in steps if step.when == "preinstall"]
    ctx.operations.append(_packages(ctx))
    ctx.operations += plan_selinux(ctx)
    ctx.operations += plan_firewall(ctx)
    ctx.operations += [_step(ctx, step) for step in steps if step.when == "installed"]
    ctx.operations += [_file(ctx, spec) for spec in files]
    ctx.operations += [_step(ctx, step) for step in steps if step.when == "configured"]
    ctx.operations += _daemon_reload(ctx)
    ctx.operations += [_unit_action(ctx, action) for action in for_part(recipe.units, item.part)]
    ctx.operations += _units(ctx)
    if facts.offline:
        ctx.operations += [_deferred(ctx, step) for step in steps if step.when in ("running", "cluster")]
        return ctx.operations
    ctx.operations += [_step(ctx, step) for step in steps if step.when == "running"]
    ctx.operations += [
        _cluster_step(ctx, item, step) for step in steps if step.when == "cluster" and _runs_here(item, step)
    ]
    return ctx.operations


def plan_owned_file(
    role: Role, part: str | None, values: dict[str, Any], spec: FileSpec, facts: Facts, state: HostState
) -> list[Operation]:
    """A file the role owns beyond its recipe (a Bacula director's file per registered
    host, written by a registration, see engine.backup): planned, written and
    recorded in the ledger as the recipe's files are, then the restarts it owes, so
    decommissioning the role removes it too."""
    family = facts.family
    if family is None:
        raise HostError(f"{facts.host}: unknown OS family (os-release ID={facts.os.id!r})")
    recipe = load_recipe(role.name).for_family(family)
    ctx = _RolePlan(
        role, family, values, resolve_vars(recipe, values, facts.packages), facts, state, backend_for(facts), [], part
    )
    ctx.operations.append(_file(ctx, spec))
    return [*ctx.operations, *(op for op in _units(ctx) if op.kind is OpKind.RESTART)]


def _deferred(ctx: _RolePlan, step: Step) -> Operation:
    """A step that needs the running service cannot run in an offline root: the root's
    first boot runs FOSSP there (fossp-firstboot.service), whose live plan runs it."""
    op = _step(ctx, step)
    if not op.change:
        return op  # not needed, or done already: nothing is owed
    return ctx.noop(OpKind.DEFER, step.name, f"{step.description} Needs the running service: done at first boot.")


def _runs_here(item: Wanted, step: Step) -> bool:
    """A cluster step runs on one host: the first member of its part (or of the cluster)."""
    return item.membership is not None and item.membership.runs_cluster_steps(step.parts[0] if step.parts else None)


def _cluster_step(ctx: _RolePlan, item: Wanted, step: Step) -> Operation:
    """A cluster step waits for every member (deploy meets them first); its ledger entry
    is this host's, so decommissioning the cluster here undoes it."""
    op = _step(ctx, step)
    if not op.change:
        return op
    members = ", ".join(m.name for m in item.membership.members) if item.membership else ""
    return op.model_copy(update={"cluster": True, "reason": f"{op.reason} (once {members} are ready)"})


def _refuse_unhonoured(item: Wanted, family: Family, host: str) -> None:
    """A setting given for a family whose recipe cannot honour it is bad input, not a no-op."""
    for setting in item.role.settings:
        given = item.settings.get(setting.name)
        if setting.families is not None and family not in setting.families and given not in (None, "", setting.default):
            honoured = ", ".join(f.value for f in setting.families)
            raise BadInput(
                f"{host}: {item.role.id} setting '{setting.name}' is not honoured on {family.value} "
                f"(only on {honoured}): {setting.description}"
            )


def _data_subvolumes(ctx: _RolePlan, data: list[DataPath]) -> list[Operation]:
    """On a BTRFS root each data folder gets a subvolume of its own before the packages
    fill it: snapshots of / then leave it out, so restoring the system keeps the data."""
    if not data or ctx.facts.root_prefix:  # inside a chroot, btrfs makes them as on a live host
        return []
    if ctx.facts.root_fs != "btrfs":
        return [
            ctx.noop(
                OpKind.SUBVOLUME,
                ", ".join(d.path for d in data),
                f"the root file system is {ctx.facts.root_fs or 'unknown'}, not BTRFS: no data subvolumes "
                "and no snapshots; a restore falls back to the ledger and the saved originals",
            )
        ]
    operations = []
    for item in data:
        current = ctx.facts.files.get(item.path)
        if current is None:
            parent = posixpath.dirname(item.path)
            operations.append(
                ctx.op(
                    OpKind.SUBVOLUME,
                    item.path,
                    f"{item.why}: on a subvolume of its own, a system restore keeps it",
                    commands=[
                        ["mkdir", "-p", "--", parent],
                        ["btrfs", "subvolume", "create", "--", item.path],
                        *([["chmod", item.mode, "--", item.path]] if item.mode else []),
                        *([["chown", item.owner, "--", item.path]] if item.owner else []),
                    ],
                )
            )
        elif current.subvolume:
            operations.append(_subvolume_metadata(ctx, item, current))
        else:
            operations.append(
                ctx.noop(
                    OpKind.SUBVOLUME,
                    item.path,
                    f"{item.why}: exists as a plain {current.kind} (data from before FOSSP, left in place; "
                    "system snapshots include it)",
                )
            )
    return operations


def _subvolume_metadata(ctx: _RolePlan, item: DataPath, current: FileFact) -> Operation:
    """A subvolume that exists keeps the mode and owner its package ships (a run killed
    between its create and its chmod is finished here)."""
    fixes = []
    if item.mode and current.mode != item.mode.lstrip("0"):
        fixes.append(["chmod", item.mode, "--", item.path])
    if item.owner and f"{current.owner}:{current.group}" != item.owner:
        fixes.append(["chown", item.owner, "--", item.path])
    if not fixes:
        return ctx.noop(OpKind.SUBVOLUME, item.path, f"{item.why}: a subvolume already")
    wanted = " ".join(v for v in (item.mode, item.owner) if v)
    return ctx.op(
        OpKind.SUBVOLUME, item.path, f"a subvolume already; its mode and owner must be {wanted}", commands=fixes
    )


def _packages(ctx: _RolePlan) -> Operation:
    names = ctx.role.packages_for(ctx.family, ctx.part)
    missing = [name for name in names if name not in ctx.facts.packages]
    target = " ".join(names)
    if not missing:
        versions = ", ".join(f"{n} {ctx.facts.packages[n]}" for n in names)
        return ctx.noop(OpKind.PACKAGES, target, f"installed: {versions}")
    return ctx.op(
        OpKind.PACKAGES,
        " ".join(missing),
        f"not installed: {', '.join(missing)}",
        refresh=True,
        commands=ctx.backend.install(missing),
    )


def _unknown(text: str, values: dict[str, str]) -> str:
    return ", ".join(sorted(placeholders(text) - set(values)))


def _step(ctx: _RolePlan, step: Step) -> Operation:
    skipped = not_needed(step.only_if, step.unless, ctx.settings)
    if skipped:
        return ctx.noop(OpKind.STEP, step.name, skipped)
    argv = [fill(arg, ctx.values) for arg in spread(step.argv, ctx.settings)]
    undo = [fill(arg, ctx.values) for arg in spread(step.undo or [], ctx.settings)]
    stdin = fill(step.stdin, ctx.values) if step.stdin is not None else None
    if None in argv or None in undo or (step.stdin is not None and stdin is None):
        missing = _unknown(" ".join([*step.argv, *(step.undo or [])]) + (step.stdin or ""), ctx.values)
        return ctx.op(
            OpKind.STEP,
            step.name,
            f"{step.description} (needs {missing}, known after install)",
            pending=True,
            refresh=True,
        )
    commands = [[a for a in argv if a is not None]]
    digest = hashlib.sha256(json.dumps([commands, stdin]).encode()).hexdigest()
    creates = fill(step.creates, ctx.values) if step.creates else None
    if creates and creates in ctx.facts.files:
        return ctx.noop(OpKind.STEP, step.name, f"{creates} exists")
    done = ctx.state.step_done(ctx.role.id, digest)
    if done and not creates:
        return ctx.noop(OpKind.STEP, step.name, f"ran on {done.at} with the same input (ledger)")
    return ctx.op(
        OpKind.STEP,
        step.name,
        step.description,
        refresh=True,
        commands=commands,
        stdin=stdin,
        digest=digest,
        retry=step.retry,
        pending=ctx.stale and creates is not None,
        undo=[[a for a in undo if a is not None]] if step.undo else [],
        undo_on_purge=step.undo_when == "purge",
    )


#: A unit action: (the kind of operation, whether the unit's state calls for it, the inverse).
_UNIT_ACTIONS: dict[str, tuple[OpKind, Callable[[UnitState], bool], str]] = {
    "mask": (OpKind.MASK, lambda u: u.enabled != "masked", "unmask"),
    "unmask": (OpKind.UNMASK, lambda u: u.enabled == "masked", "mask"),
    "enable": (OpKind.ENABLE, lambda u: u.enabled not in ENABLED_STATES, "disable"),
    "disable": (OpKind.DISABLE, lambda u: u.enabled == "enabled", "enable"),
    "start": (OpKind.START, lambda u: u.active != "active", "stop"),
    "stop": (OpKind.STOP, lambda u: u.active == "active", "start"),
}


def _unit_action(ctx: _RolePlan, action: UnitAction) -> Operation:
    """Change a distribution unit the role's own units displace (undone by decommission)."""
    unit = fill(action.unit, ctx.values) or action.unit
    kind, needed, inverse = _UNIT_ACTIONS[action.action]
    state = ctx.facts.units.get(unit)
    if state is None:
        if ctx.stale:
            return ctx.op(kind, unit, "decided once the packages are installed", pending=True)
        return ctx.noop(kind, unit, "no such unit on this host")
    if not needed(state):
        return ctx.noop(kind, unit, f"{state.enabled}, {state.active} already")
    return ctx.op(
        kind,
        unit,
        f"{state.enabled}, {state.active}: the role needs `systemctl {action.action}`",
        commands=[ctx.systemctl(action.action, unit)],
        undo=[ctx.systemctl(inverse, unit)],
        previous=f"enabled={state.enabled} active={state.active}",
    )


def _file(ctx: _RolePlan, spec: FileSpec) -> Operation:
    path = fill(spec.path, ctx.values)
    kind = OpKind.REMOVE if spec.absent else OpKind.DIR if spec.dir else OpKind.FILE
    skipped = not_needed(spec.only_if, spec.unless, ctx.settings)
    owner = next((name for name in spec.left_to if name in ctx.others), None)
    if skipped or owner:
        return ctx.noop(kind, path or spec.path, skipped or f"left to the role {owner}, which writes it on this host")
    if path is None:
        missing = _unknown(spec.path, ctx.values)
        return ctx.op(kind, spec.path, f"path needs {missing}, known after install", pending=True)
    current = ctx.facts.files.get(path)
    if spec.absent:
        if current is None:
            return (
                ctx.op(kind, path, "decided after install", pending=True)
                if ctx.stale
                else ctx.noop(kind, path, "absent already")
            )
        return ctx.op(
            kind, path, spec.why or "the role needs it gone", commands=[["rm", "-f", "--", ctx.on_host(path)]]
        )
    if spec.dir:
        if current is not None and current.kind == "dir":
            return ctx.noop(kind, path, "exists")
        return ctx.op(
            kind, path, "missing", mode=spec.mode, commands=[["mkdir", "-p", "-m", spec.mode, "--", ctx.on_host(path)]]
        )
    if spec.template is None and current is None and ctx.stale:
        return ctx.op(kind, path, "edited once the package has created it", pending=True)
    return _file_content(ctx, spec, path)


def _file_content(ctx: _RolePlan, spec: FileSpec, path: str) -> Operation:
    current = ctx.facts.files.get(path)
    old = current.content if current is not None and current.content is not None else b""
    if spec.template is not None:
        new = render_template(
            spec.template, {**ctx.settings, **{k: v for k, v in ctx.values.items() if k not in ctx.settings}}
        )
    elif spec.augeas is not None:
        if current is None:
            raise HostError(
                f"{ctx.facts.host}: {path} does not exist; {ctx.role.implementation}'s package should have created it"
            )
        new = augeas_edit(path, old, spec.augeas, ctx.values)
    else:
        new = edit_text(old, [(s.pattern, _filled(s.text, ctx)) for s in spec.substitute], _filled(spec.line, ctx))
    edits = spec.template is None and current is not None
    mode = current.mode if edits and current is not None else spec.mode.lstrip("0")
    owner = spec.owner or (f"{current.owner}:{current.group}" if edits and current is not None else "root:root")
    if ctx.facts.root_prefix:
        owner = ""  # user names inside a root written from outside need not exist on the controller
    have_owner = f"{current.owner}:{current.group}" if current is not None else ""
    reason = _file_reason(current is None, old != new, (current.mode if current else "", mode), (have_owner, owner))
    if reason is None:
        return ctx.noop(OpKind.FILE, path, "content, mode and owner as wanted")
    diff = "".join(
        difflib.unified_diff(
            old.decode(errors="replace").splitlines(True), new.decode(errors="replace").splitlines(True), path, path
        )
    )
    restarts = [] if ctx.facts.offline_root or not spec.reload else ctx.units()
    restarts = [unit for unit in restarts if spec.restart is None or unit in spec.restart]
    return ctx.op(
        OpKind.FILE, path, reason, content=new, mode=mode, owner=owner or None, diff=diff or None, restarts=restarts
    )


def _file_reason(missing: bool, differs: bool, modes: tuple[str, str], owners: tuple[str, str]) -> str | None:
    """Why a file must be written, or None when it is as wanted."""
    if missing:
        return "missing"
    if differs:
        return "content differs"
    if modes[0] != modes[1]:
        return f"mode is {modes[0]}, wanted {modes[1]}"
    if owners[1] and owners[0] != owners[1]:
        return f"owner is {owners[0]}, wanted {owners[1]}"
    return None


def _filled(text: str | None, ctx: _RolePlan) -> str | None:
    return fill(text, ctx.values) if text is not None else None


_FILE_KINDS = (OpKind.FILE, OpKind.REMOVE)


def _daemon_reload(ctx: _RolePlan) -> list[Operation]:
    """systemd reads unit files FOSSP wrote or removed before their units are enabled or
    restarted (else a restart runs the old definition); also while a restart is owed for
    a unit file, so a run stopped between the write and the reload still reloads."""
    written = [op for op in ctx.operations if op.change and op.kind in _FILE_KINDS and is_unit_file(op.target)]
    owed = [
        path
        for unit in ctx.role.units_for(ctx.family, ctx.values, ctx.part)
        for path in ctx.state.pending_restart(ctx.role.id, unit)
        if is_unit_file(path)
    ]
    if ctx.facts.offline_root or not (written or owed):
        return []
    return [
        ctx.op(
            OpKind.STEP,
            "daemon-reload",
            f"unit files changed: {', '.join(dict.fromkeys([op.target for op in written] + owed))}",
            pending=any(op.pending for op in written),
            commands=[ctx.systemctl("daemon-reload")],
        )
    ]


def _units(ctx: _RolePlan) -> list[Operation]:
    """Enable and run the role's units; one whose configuration changes (in this plan, or
    written earlier and not restarted since: the host's state says so) restarts."""
    operations = [ctx.noop(OpKind.START, unit, reason) for unit, reason in ctx.held.items()]
    for unit in ctx.units():
        state = ctx.facts.units.get(unit)
        if state is not None and state.enabled in ENABLED_STATES:
            operations.append(ctx.noop(OpKind.ENABLE, unit, f"{state.enabled} already"))
        else:
            operations.append(
                ctx.op(
                    OpKind.ENABLE,
                    unit,
                    "not enabled; the role must start at boot",
                    pending=ctx.stale and state is None,
                    commands=[ctx.systemctl("enable", unit)],
                    undo=[ctx.systemctl("disable", unit)],
                )
            )
        if ctx.facts.offline_root:
            continue
        changed = [op.target for op in ctx.operations if op.change and unit in op.restarts]
        earlier = [path for path in ctx.state.pending_restart(ctx.role.id, unit) if path not in changed]
        operations.append(_running(ctx, unit, state, changed + earlier))
    return operations


def _running(ctx: _RolePlan, unit: str, state: UnitState | None, changed: list[str]) -> Operation:
    active = state.active if state is not None else None
    if active == "active" and changed:
        return ctx.op(
            OpKind.RESTART,
            unit,
            f"its configuration changed: {', '.join(changed)}",
            commands=[ctx.systemctl("restart", unit)],
        )
    if active == "active":
        return ctx.noop(OpKind.START, unit, "active")
    return ctx.op(
        OpKind.START,
        unit,
        f"{active or ('inactive' if state is not None else 'not installed')}; the role must run",
        pending=ctx.stale and state is None,
        commands=[ctx.systemctl("restart", unit)],
        undo=[ctx.systemctl("stop", unit)],
    )
