"""`fossp upgrade run`: check, snapshot, apply, migrate, reboot, verify; on failure, restore.

Every step is written to the host's upgrade record before it starts (see record.py).
The pre snapshot covers the root; the roles' data subvolumes (kept out of root
snapshots so an ordinary restore keeps the data) get read-only copies beside it, because
a migration changes the data too: rolling back an upgrade brings back both. The failed
state is not thrown away: its root is the "before restore" snapshot and its data
subvolumes sit beside that one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fossp.catalog.schema import Family
from fossp.engine.backends import APT_ENV, APT_OPTIONS
from fossp.engine.probes import ProbeResult, verify_role
from fossp.engine.restore import lab_name, restore_locked
from fossp.engine.snapshot import (
    SNAPSHOTS_DIR,
    Snapshot,
    SnapshotFacts,
    compare_packages,
    gather_snapshot_facts,
    snapshot_pair_post,
    take_snapshot,
)
from fossp.engine.state import HostLock, new_run_id, now, parse_state
from fossp.errors import BadInput, Finding, FosspError
from fossp.hosts.connector import Connector, HostError, open_connector
from fossp.hosts.facts import gather_facts
from fossp.hosts.inventory import HostSpec
from fossp.hosts.timeouts import Timeouts
from fossp.lifecycle.version import Level
from fossp.upgrade.checks import RoleInfo
from fossp.upgrade.facts import UPGRADE_RECORD, UpgradeFacts, gather_upgrade_facts
from fossp.upgrade.record import UpgradeRecord, save_record
from fossp.upgrade.report import Report
from fossp.upgrade.service import CheckRequest, Collected, build_report, collect, quiet
from fossp.upgrade.sources import SourceSwitch, archive_source_switch, lab_source_switch

Say = Callable[[str], None]
LAB = "fossp-lab"
DIST_FILES_SCRIPT = r'find /etc -xdev -name "*.dpkg-dist" -newermt "@$1" 2>/dev/null | sort'


class UpgradeFailed(FosspError):
    """A step failed; the message names the step and what the host said."""


class NothingApplied(UpgradeFailed):
    """The download failed: no package changed, the sources are back as they were."""


@dataclass
class UpgradeOutcome:
    host: str
    run_id: str
    target: str
    status: str = "refused"  # upgraded, rolled-back, failed, refused, nothing-to-do
    failure: str = ""
    pre_report: Report | None = None
    post_report: Report | None = None
    pre_snapshot: int | None = None
    post_snapshot: int | None = None
    data_snapshots: dict[str, str] = field(default_factory=dict)
    migrations: list[str] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("upgraded", "nothing-to-do")

    def summary(self) -> dict[str, object]:
        return {
            "host": self.host,
            "run_id": self.run_id,
            "target": self.target,
            "status": self.status,
            "ok": self.ok,
            "failure": self.failure,
            "pre_snapshot": self.pre_snapshot,
            "post_snapshot": self.post_snapshot,
            "data_snapshots": self.data_snapshots,
            "migrations": self.migrations,
            "probes": [{"role": p.role, "name": p.name, "ok": p.ok, "output": p.output} for p in self.probes],
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "report": self.pre_report.as_json() if self.pre_report else None,
            "post_report": self.post_report.as_json() if self.post_report else None,
        }


@dataclass
class _Run:
    """One host's run: its connection (replaced after a reboot) and its record."""

    spec: HostSpec
    timeouts: Timeouts
    connector: Connector
    collected: Collected | None
    record: UpgradeRecord
    outcome: UpgradeOutcome
    say: Say
    snapfacts: SnapshotFacts | None = None
    pre: Snapshot | None = None
    lock: HostLock | None = None
    units: list[str] = field(default_factory=list)  # the roles' units, stopped before the data goes back
    switch: SourceSwitch | None = None
    started: float = field(default_factory=time.time)

    async def step(self, name: str, **changes: Any) -> None:
        self.record = self.record.at(name, **changes)
        self.outcome.steps.append(name)
        self.say(f"{self.connector.name}: {name}")
        await save_record(self.connector, self.record)


# --------------------------------------------------------------------------- helpers


async def _ok(connector: Connector, argv: list[str], what: str, timeout: float | None = None) -> str:
    result = await connector.run(argv, timeout=timeout)
    if not result.ok:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.startswith("E:")]
        raise UpgradeFailed(f"{connector.name}: {what}: {lines[-1] if lines else result.describe()}")
    return result.stdout


def _apt_action_argv(action: str | tuple[str, ...]) -> list[str]:
    env = [*APT_ENV, "APT_LISTCHANGES_FRONTEND=none"]
    if isinstance(action, tuple):
        return [*env, "apt-get", "install", "--only-upgrade", "--no-install-recommends", *APT_OPTIONS, *action]
    if action == "upgrade":
        return [*env, "apt-get", "upgrade", "--with-new-pkgs", *APT_OPTIONS]
    return [*env, "apt-get", "full-upgrade", *APT_OPTIONS]


def _data_copy_path(pre: int, path: str) -> str:
    return f"{SNAPSHOTS_DIR}/{pre}/data/{path.strip('/').replace('/', '%')}"


async def _snapshot_data(connector: Connector, facts: SnapshotFacts, pre: int) -> dict[str, str]:
    """Read-only copies of the data subvolumes (/var/lib/postgresql ...) beside snapshot ``pre``."""
    copies: dict[str, str] = {}
    subvolumes = [s.path for s in facts.subvolumes if not s.path.startswith(SNAPSHOTS_DIR)]
    if subvolumes:
        await connector.check(["mkdir", "-p", f"{SNAPSHOTS_DIR}/{pre}/data"])
    for path in subvolumes:
        copy = _data_copy_path(pre, path)
        await connector.check(["btrfs", "subvolume", "snapshot", "-r", path, copy])
        copies[path] = copy
    return copies


def role_units(roles: tuple[RoleInfo, ...], family: Family | None) -> list[str]:
    from fossp.catalog import load_catalog

    catalog = load_catalog()
    units: list[str] = []
    for role in roles:
        with contextlib.suppress(BadInput):
            units += catalog.role(role.role_id).units.get(family or Family.DEBIAN, [])
    return units


def _collected(run: _Run) -> Collected:
    assert run.collected is not None, "a restore-only run has no collected facts"
    return run.collected


async def _reboot(run: _Run) -> None:
    """Restart the host (``fossp lab restart`` for lab hosts) and connect again."""
    facts = run.snapfacts or await gather_snapshot_facts(run.connector)
    with contextlib.suppress(FosspError, OSError):
        await run.connector.close()
    if facts.container == LAB:
        from fossp.lab.hosts import restart

        await asyncio.to_thread(restart, [lab_name(run.spec.name)])
    elif facts.container:
        raise UpgradeFailed(f"{run.spec.name}: a {facts.container} container cannot be rebooted by FOSSP")
    else:
        await _reboot_machine(run)
    run.connector = await open_connector(run.spec, run.timeouts)
    if run.lock is not None:
        # /run/fossp (the lock) did not survive the reboot: take it again before going on.
        run.lock.connector = run.connector
        await run.lock.__aenter__()


async def _reboot_machine(run: _Run) -> None:
    """`systemctl reboot`, then wait (bounded by the host timeout) for sshd to answer with a new boot."""
    before = (await run.connector.run(["cat", "/proc/sys/kernel/random/boot_id"])).stdout.strip()
    connector = await open_connector(run.spec, run.timeouts)
    with contextlib.suppress(FosspError, OSError):
        await connector.run(["systemctl", "reboot"], timeout=10)
    with contextlib.suppress(FosspError, OSError):
        await connector.close()
    deadline = time.monotonic() + run.timeouts.host
    while time.monotonic() < deadline:
        await asyncio.sleep(5)
        try:
            probe = await open_connector(run.spec, run.timeouts)
        except (FosspError, OSError):
            continue
        boot = (await probe.run(["cat", "/proc/sys/kernel/random/boot_id"])).stdout.strip()
        await probe.close()
        if boot and boot != before:
            return
    raise UpgradeFailed(f"{run.spec.name}: did not come back within {run.timeouts.host:.0f} s of the reboot")


async def _verify(run: _Run) -> list[ProbeResult]:
    from fossp.catalog import load_catalog

    catalog = load_catalog()
    base = await gather_facts(run.connector)
    results: list[ProbeResult] = []
    for instance in parse_state(base).instances.values():
        role = catalog.role(instance.role_id)
        results += await verify_role(role, instance.settings, run.connector, retry=60)
    return results


# --------------------------------------------------------------------------- the steps


async def _prepare_source(run: _Run) -> SourceSwitch:
    collected = _collected(run)
    ctx, spec = collected.context, collected.spec
    if ctx.facts.base.family is not Family.DEBIAN or spec is None:
        raise BadInput(f"{run.spec.name}: upgrades run on the Debian family only (Fedora: report only)")
    if run.snapfacts is not None and run.snapfacts.container == LAB:
        from fossp.lab.paths import LabPaths
        from fossp.upgrade.archive import download

        dest = LabPaths.current().suites / spec.key
        run.say(f"{run.spec.name}: downloading {spec.key} packages into the lab's {dest}")
        await asyncio.to_thread(download, spec, ctx.facts.dpkg_status, collected.action, dest)
        return lab_source_switch(ctx.target, spec)
    return archive_source_switch(ctx.target, ctx.facts)


async def _download(run: _Run) -> None:
    """Sources switched, lists updated and every package fetched: nothing is applied yet."""
    run.switch = switch = await _prepare_source(run)
    for path, text in switch.files.items():
        await run.connector.write_file(path, text.encode(), 0o644)
    await _ok(run.connector, [*APT_ENV, "apt-get", "update", "-q"], "apt-get update", run.timeouts.packages)
    argv = _apt_action_argv(_collected(run).action)
    await _ok(run.connector, [*argv, "--download-only"], "the download", run.timeouts.packages)


async def _undo_download(run: _Run) -> None:
    """Put back the apt sources a failed download changed (the packages never landed)."""
    facts = _collected(run).context.facts
    for path in run.switch.files if run.switch else {}:
        old = facts.source_files.get(path)
        if old is None:
            await run.connector.run(["rm", "-f", "--", path])
        else:
            await run.connector.write_file(path, old.encode(), 0o644)
    await run.connector.run([*APT_ENV, "apt-get", "update", "-q"], timeout=run.timeouts.packages)


async def _packages(run: _Run) -> None:
    collected = _collected(run)
    if collected.context.target.level is Level.MAJOR:
        # The new release's apt first, as Debian's release notes advise, then everything.
        await _ok(run.connector, _apt_action_argv("upgrade"), "apt-get upgrade", run.timeouts.packages)
    await _ok(run.connector, _apt_action_argv(collected.action), "the package upgrade", run.timeouts.packages)


async def _migrations(run: _Run) -> None:
    facts = await gather_upgrade_facts(run.connector, await gather_facts(run.connector))
    for migration in _collected(run).context.migrations:
        if migration.role == "postgresql" and any(c.version == migration.new for c in facts.pg_clusters):
            run.outcome.migrations.append(f"{migration.role} {migration.old} -> {migration.new} (already done)")
            continue
        for argv in migration.commands:
            run.say(f"{run.spec.name}: {' '.join(argv)}")
            await _ok(run.connector, list(argv), f"migration of {migration.role}", run.timeouts.packages)
        run.outcome.migrations.append(f"{migration.role} {migration.old} -> {migration.new}")
    run.record = run.record.model_copy(update={"migrations": list(run.outcome.migrations)})


async def _post_report(run: _Run) -> Report:
    base = await gather_facts(run.connector)
    facts = await gather_upgrade_facts(run.connector, base)
    found = await run.connector.run(["sh", "-c", DIST_FILES_SCRIPT, "fossp", str(int(run.started))])
    dist_files = tuple(line for line in found.stdout.splitlines() if line.strip())
    collected = _collected(run)
    context = replace(collected.context, facts=facts, phase="post-upgrade", dist_files=dist_files)
    report = build_report(replace(collected, context=context), run.spec.name, run.outcome.run_id)
    return report.model_copy(update={"changes": upgrade_changes(collected.context.facts, facts)})


def upgrade_changes(before: UpgradeFacts, after: UpgradeFacts) -> dict[str, object]:
    """What the upgrade changed, from the facts before and after (pure)."""
    changes = compare_packages(before.base.packages, after.base.packages)
    return {
        "release": {"from": before.installed_release, "to": after.installed_release},
        "upgraded": len(changes.changed),
        "added": sorted(changes.added),
        "removed": sorted(changes.removed),
    }


async def _forward(run: _Run) -> None:
    try:
        await _download(run)
    except (FosspError, OSError) as error:
        with contextlib.suppress(FosspError, OSError):
            await _undo_download(run)
        raise NothingApplied(error.message if isinstance(error, FosspError) else str(error)) from None
    await run.step("packages")
    await _packages(run)
    await run.step("migrations")
    await _migrations(run)
    if _collected(run).context.target.reboot:
        await run.step("reboot")
        await _reboot(run)
    await run.step("verify")
    run.outcome.probes = await _verify(run)
    failed = [p for p in run.outcome.probes if p.ok is False]
    if failed:
        raise UpgradeFailed("; ".join(f"probe {p.role}/{p.name}: {p.output}" for p in failed))


async def _roll_back(run: _Run, failure: str) -> None:
    """Stop the roles, put the data copies back, restore the pre snapshot, restart, verify."""
    pre = run.record.pre_snapshot
    assert pre is not None
    with contextlib.suppress(FosspError, OSError):
        await run.step("rollback", failure=failure)
    try:
        await run.connector.run(["true"], timeout=15)
    except (FosspError, OSError):
        run.connector = await open_connector(run.spec, run.timeouts)
    if run.units:
        await run.connector.run(["systemctl", "stop", *run.units], timeout=run.timeouts.command)
    outcome = await restore_locked(run.connector, pre, run.outcome.run_id)
    failed_copy = f"{SNAPSHOTS_DIR}/{outcome.backup}/data"
    if run.record.data_snapshots:
        await run.connector.check(["mkdir", "-p", failed_copy])
    for path, copy in run.record.data_snapshots.items():
        aside = f"{failed_copy}/{path.strip('/').replace('/', '%')}"
        await run.connector.check(["mv", "-T", "--", path, aside])
        await run.connector.check(["btrfs", "subvolume", "snapshot", copy, path])
    run.say(f"{run.spec.name}: restored snapshot {pre}; the failed state is snapshot {outcome.backup}")
    await _reboot(run)  # a restored root takes effect at the next start, whatever the level
    run.outcome.probes = await _verify(run)
    final = run.record.at("done", finished=True, outcome="rolled-back", failure=failure)
    run.record = final
    await save_record(run.connector, final)


async def _run_steps(run: _Run, rollback: bool) -> None:
    try:
        await _forward(run)
    except NothingApplied as error:
        run.outcome.status, run.outcome.failure = "failed", f"{error.message} (nothing applied)"
        with contextlib.suppress(FosspError, OSError):
            await run.step("done", finished=True, outcome="nothing-applied", failure=run.outcome.failure)
        return
    except (FosspError, OSError) as error:
        failure = error.message if isinstance(error, FosspError) else str(error)
        run.outcome.failure = failure
        if not rollback or run.pre is None:
            run.outcome.status = "failed"
            with contextlib.suppress(FosspError, OSError):
                await save_record(
                    run.connector, run.record.model_copy(update={"failure": failure, "outcome": "failed"})
                )
            return
        run.say(f"{run.spec.name}: failed ({failure}); restoring snapshot {run.pre.number}")
        try:
            await _roll_back(run, failure)
        except (FosspError, OSError) as problem:
            why = problem.message if isinstance(problem, FosspError) else str(problem)
            run.outcome.status = "failed"
            run.outcome.failure = (
                f"{failure}; the rollback failed too: {why} (restore snapshot {run.pre.number} by hand)"
            )
            with contextlib.suppress(FosspError, OSError):
                await save_record(run.connector, run.record.model_copy(update={"failure": run.outcome.failure}))
            return
        run.outcome.status = "rolled-back"
        return
    run.outcome.post_report = await _post_report(run)
    if run.pre is not None:
        post = await snapshot_pair_post(
            run.connector, run.pre, f"after upgrade to {run.record.target}", run.outcome.run_id, important=True
        )
        run.outcome.post_snapshot = post.number
    await run.step("done", finished=True, outcome="upgraded", post_snapshot=run.outcome.post_snapshot)
    run.outcome.status = "upgraded"


async def _start(run: _Run, resume: UpgradeRecord | None) -> None:
    """Write the intent, then the snapshot pair's pre half and the data copies."""
    if resume is not None:
        run.record = resume
        run.snapfacts = await gather_snapshot_facts(run.connector)
        run.pre = None if resume.pre_snapshot is None else run.snapfacts.snapshot(resume.pre_snapshot)
        run.outcome.pre_snapshot = resume.pre_snapshot
        run.outcome.data_snapshots = dict(resume.data_snapshots)
        await _ok(run.connector, [*APT_ENV, "dpkg", "--configure", "-a", "--force-confdef", "--force-confold"], "dpkg")
        return
    await run.step("snapshot")
    run.snapfacts = await gather_snapshot_facts(run.connector)
    if not run.snapfacts.btrfs:
        return
    label = run.record.target
    run.pre = await take_snapshot(
        run.connector, "pre", f"before upgrade to {label}", run.outcome.run_id, important=True, facts=run.snapfacts
    )
    data = await _snapshot_data(run.connector, run.snapfacts, run.pre.number)
    run.outcome.pre_snapshot, run.outcome.data_snapshots = run.pre.number, data
    await run.step("download", pre_snapshot=run.pre.number, data_snapshots=data)


async def upgrade_host(
    connector: Connector, spec: HostSpec, request: CheckRequest, say: Say = quiet, run_id: str | None = None
) -> UpgradeOutcome:
    """The whole run on one host (see the module docstring); a failed step is in the outcome, not raised.

    ``connector`` is the caller's (closed by it); one opened again after a reboot is closed here.
    """
    started = time.perf_counter()
    run_id = run_id or new_run_id()
    outcome = UpgradeOutcome(spec.name, run_id, "")
    run: _Run | None = None
    try:
        earlier = UpgradeRecord.parse((await connector.run(["cat", "--", UPGRADE_RECORD])).stdout)
        if earlier is not None and not earlier.finished and earlier.source_release:
            request = replace(request, installed=earlier.source_release)
        collected = await collect(connector, request, say)
        ctx = collected.context
        resume = _resumable(earlier, ctx.target.label)
        if resume is not None:
            collected = replace(collected, context=replace(ctx, facts=replace(ctx.facts, record=None), resuming=True))
        report = build_report(collected, spec.name, run_id)
        outcome.target, outcome.pre_report = ctx.target.label, report
        if report.inhibited or report.errors:
            outcome.failure = "the report has inhibitors (see it with `fossp upgrade check`): nothing changed"
            return outcome
        if resume is None and ctx.prediction is not None and ctx.prediction.empty and not ctx.migrations:
            outcome.status = "nothing-to-do"
            return outcome
        record = UpgradeRecord(
            run_id=run_id,
            target=ctx.target.label,
            level=ctx.target.level.value,
            to=ctx.target.release.version,
            source_release=ctx.facts.installed_release,
            started=now(),
            updated=now(),
        )
        run = _Run(spec, connector.timeouts, connector, collected, record, outcome, say)
        run.units = role_units(ctx.roles, ctx.facts.base.family)
        run.lock = lock = HostLock(connector)
        async with lock:
            await _start(run, resume)
            if run.snapfacts is None:
                run.snapfacts = await gather_snapshot_facts(run.connector)
            await _run_steps(run, request.rollback)
    except FosspError as error:
        outcome.failure = outcome.failure or error.message
        outcome.status = "failed" if outcome.steps else "refused"
    finally:
        if run is not None and run.connector is not connector:
            with contextlib.suppress(FosspError, OSError):
                await run.connector.close()
        outcome.seconds = time.perf_counter() - started
    return outcome


def _resumable(record: UpgradeRecord | None, label: str) -> UpgradeRecord | None:
    """An unfinished run to the same target is finished rather than started again."""
    if record is None or record.finished or record.target != label:
        return None
    return record


def raise_for(outcomes: list[UpgradeOutcome]) -> None:
    bad = [o for o in outcomes if not o.ok]
    if bad:
        raise Finding("; ".join(f"{o.host}: {o.status}: {o.failure}" for o in bad))


__all__ = ["HostError", "UpgradeFailed", "UpgradeOutcome", "raise_for", "upgrade_host"]


async def unfinished_upgrade(connector: Connector) -> UpgradeRecord:
    """The upgrade `fossp upgrade restore` would undo; BadInput (nothing changed) if there is none."""
    facts = await gather_upgrade_facts(connector, await gather_facts(connector))
    record = UpgradeRecord.parse(facts.record)
    if record is None:
        raise BadInput(f"{connector.name}: no upgrade record: nothing to restore (see `fossp snapshot list`)")
    if record.finished:
        back = f"`fossp restore {record.pre_snapshot}` (it keeps the data subvolumes)" if record.pre_snapshot else ""
        raise BadInput(
            f"{connector.name}: upgrade {record.run_id} finished ({record.outcome}); nothing to restore"
            + (f"; to go back anyway: {back}" if back else "")
        )
    if record.pre_snapshot is None:
        raise BadInput(f"{connector.name}: upgrade {record.run_id} took no snapshot (root not BTRFS): restore by hand")
    return record


async def restore_upgrade(connector: Connector, spec: HostSpec, say: Say = quiet) -> UpgradeOutcome:
    """Undo an upgrade that did not finish: its pre snapshot and data copies back, restart, probes."""
    from fossp.upgrade.service import deployed_roles

    started = time.perf_counter()
    record = await unfinished_upgrade(connector)
    facts = await gather_upgrade_facts(connector, await gather_facts(connector))
    outcome = UpgradeOutcome(spec.name, record.run_id, record.target, pre_snapshot=record.pre_snapshot)
    outcome.data_snapshots = dict(record.data_snapshots)
    run = _Run(spec, connector.timeouts, connector, None, record, outcome, say)
    run.units = role_units(deployed_roles(facts), facts.base.family)
    run.lock = lock = HostLock(connector)
    try:
        async with lock:
            run.snapfacts = await gather_snapshot_facts(connector)
            await _roll_back(run, record.failure or "restored by `fossp upgrade restore`")
        outcome.status = "rolled-back"
    finally:
        if run.connector is not connector:
            with contextlib.suppress(FosspError, OSError):
                await run.connector.close()
        outcome.seconds = time.perf_counter() - started
    return outcome
