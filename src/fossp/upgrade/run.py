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
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fossp.catalog.schema import Family
from fossp.engine.backends import APT_ENV, APT_OPTIONS
from fossp.engine.probes import ProbeResult, verify_role
from fossp.engine.recovery import wait_for_package_managers
from fossp.engine.restore import check_restorable, lab_name, restore_locked, restore_method
from fossp.engine.snapshot import (
    SNAPSHOTS_DIR,
    Snapshot,
    SnapshotFacts,
    check_free_space,
    compare_packages,
    gather_snapshot_facts,
    snapshot_pair_post,
    take_snapshot,
)
from fossp.engine.state import HostLock, new_run_id, now, parse_state
from fossp.errors import BadInput, FosspError
from fossp.hosts.connector import Connector, open_connector
from fossp.hosts.facts import gather_facts
from fossp.hosts.inventory import HostSpec
from fossp.hosts.timeouts import Timeouts
from fossp.lifecycle.version import Level
from fossp.upgrade.checks import RoleInfo
from fossp.upgrade.facts import UPGRADE_RECORD, PgCluster, UpgradeFacts, gather_upgrade_facts, parse_pg_clusters
from fossp.upgrade.migrations import PlannedMigration
from fossp.upgrade.record import UpgradeRecord, save_record
from fossp.upgrade.report import Report
from fossp.upgrade.service import CheckRequest, Collected, build_report, collect, quiet
from fossp.upgrade.sources import SourceSwitch, archive_source_switch, lab_source_switch

Say = Callable[[str], None]
LAB = "fossp-lab"
#: How long a rebooting machine may take to answer SSH again.
REBOOT_WAIT = 900.0
DIST_FILES_SCRIPT = r'find /etc -xdev \( -name "*.dpkg-dist" -o -name "*.dpkg-old" \) -newermt "@$1" 2>/dev/null | sort'


class UpgradeFailed(FosspError):
    """A step failed; the message names the step and what the host said."""

    code = "upgrade_failed"


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
    backup_snapshot: int | None = None  # a rollback's "before restore" snapshot: the failed state
    notes: list[str] = field(default_factory=list)
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
            "backup_snapshot": self.backup_snapshot,
            "data_snapshots": self.data_snapshots,
            "notes": self.notes,
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
    resumed_at: str = ""  # the step a killed run had reached (resuming it)
    host_sources: bool = False  # a lab host upgraded from its own apt sources
    conffiles: str = "keep"  # CONFFILE_FLAGS
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


#: `--conffiles`: keep the administrator's changed files (the new ones land beside as
#: .dpkg-dist), or take the maintainers' (the administrator's are kept as .dpkg-old).
CONFFILE_FLAGS = {"keep": "--force-confold", "new": "--force-confnew"}


def _apt_options(conffiles: str) -> list[str]:
    flag = CONFFILE_FLAGS[conffiles]
    return [f"Dpkg::Options::={flag}" if o == "Dpkg::Options::=--force-confold" else o for o in APT_OPTIONS]


def _apt_action_argv(action: str | tuple[str, ...], conffiles: str = "keep") -> list[str]:
    env, options = [*APT_ENV, "APT_LISTCHANGES_FRONTEND=none"], _apt_options(conffiles)
    if isinstance(action, tuple):
        return [*env, "apt-get", "install", "--only-upgrade", "--no-install-recommends", *options, *action]
    if action == "upgrade":
        return [*env, "apt-get", "upgrade", "--with-new-pkgs", *options]
    if action == "minimal":
        return [*env, "apt-get", "upgrade", "--without-new-pkgs", *options]
    return [*env, "apt-get", "full-upgrade", *options]


def _data_copy_path(pre: int, path: str) -> str:
    return f"{SNAPSHOTS_DIR}/{pre}/data/{path.strip('/').replace('/', '%')}"


async def _quiet_copies(run: _Run, facts: SnapshotFacts, pre: int) -> dict[str, str]:
    """The data copies, taken with the roles' services stopped for the moment it takes: a
    database put back by a rollback then starts from a clean shutdown, never from crash
    recovery of a copy taken mid-write (a WAL page half on disk was once seen to make
    PostgreSQL refuse to start). The services start again before the packages change."""
    if run.units:
        await run.connector.check(["systemctl", "stop", *run.units], timeout=run.timeouts.command)
    try:
        return await _snapshot_data(run.connector, facts, pre)
    finally:
        if run.units:
            await run.connector.check(["systemctl", "start", *run.units], timeout=run.timeouts.command)


async def _snapshot_data(connector: Connector, facts: SnapshotFacts, pre: int) -> dict[str, str]:
    """Read-only copies of the data subvolumes (/var/lib/postgresql ...) beside snapshot ``pre``."""
    copies: dict[str, str] = {}
    subvolumes = [s.path for s in facts.subvolumes if not s.path.startswith(SNAPSHOTS_DIR)]
    if subvolumes:
        await connector.check(["mkdir", "-p", f"{SNAPSHOTS_DIR}/{pre}/data"])
    for path in subvolumes:
        copy = _data_copy_path(pre, path)
        # A copy a killed run made already is from the same moment (before the packages): kept.
        script = '[ -e "$2" ] || btrfs subvolume snapshot -r "$1" "$2"'
        await connector.check(["sh", "-c", script, "fossp-copy", path, copy])
        copies[path] = copy
    return copies


def role_units(roles: tuple[RoleInfo, ...]) -> list[str]:
    """The deployed roles' units (of the host's family, as ``deployed_roles`` read them)."""
    return [unit for role in roles for unit in role.units]


def _collected(run: _Run) -> Collected:
    assert run.collected is not None, "a restore-only run has no collected facts"
    return run.collected


async def _reboot(run: _Run) -> None:
    """Restart the host (``fossp lab restart`` for lab hosts) and connect again."""
    facts = run.snapfacts or await gather_snapshot_facts(run.connector)
    if facts.container and facts.container != LAB:
        raise UpgradeFailed(f"{run.spec.name}: a {facts.container} container cannot be rebooted by FOSSP")
    boot = await _boot_id(run.connector)
    with contextlib.suppress(FosspError, OSError):
        await run.connector.close()
    if facts.container == LAB:
        from fossp.lab.hosts import restart

        await asyncio.to_thread(restart, [lab_name(run.spec.name)])
        run.connector = await open_connector(run.spec, run.timeouts)
    else:
        run.connector = await _reboot_machine(run, boot)
    if run.lock is not None:
        # /run/fossp (the lock) did not survive the reboot: take it again before going on.
        run.lock.connector = run.connector
        await run.lock.__aenter__()


async def _boot_id(connector: Connector) -> str:
    return (await connector.check(["cat", "/proc/sys/kernel/random/boot_id"])).stdout.strip()


async def _reboot_machine(run: _Run, before: str) -> Connector:
    """`systemctl reboot`, then wait (bounded by REBOOT_WAIT) for sshd to answer from a new boot."""
    if run.spec.connection == "local":
        raise UpgradeFailed(f"{run.spec.name}: FOSSP does not reboot the machine it runs on; reboot it yourself")
    connector = await open_connector(run.spec, run.timeouts)
    with contextlib.suppress(FosspError, OSError):
        await connector.run(["systemctl", "reboot"], timeout=10)
    with contextlib.suppress(FosspError, OSError):
        await connector.close()
    deadline = time.monotonic() + REBOOT_WAIT
    while time.monotonic() < deadline:
        await asyncio.sleep(5)
        try:
            probe = await open_connector(run.spec, run.timeouts)
        except (FosspError, OSError):
            continue
        try:
            if await _boot_id(probe) not in ("", before):
                return probe
        except (FosspError, OSError):
            pass  # sshd answered while the old system was still going down
        with contextlib.suppress(FosspError, OSError):
            await probe.close()
    raise UpgradeFailed(f"{run.spec.name}: did not come back within {REBOOT_WAIT:.0f} s of the reboot")


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
    if run.snapfacts is not None and run.snapfacts.container == LAB and not run.host_sources:
        from fossp.lab.paths import LabPaths
        from fossp.upgrade.archive import download

        dest = LabPaths.current().suites / spec.key
        run.say(f"{run.spec.name}: downloading {spec.key} packages into the lab's {dest}")
        await asyncio.to_thread(download, spec, ctx.facts.dpkg_status, collected.action, dest)
        return lab_source_switch(ctx.target, spec)
    switch = archive_source_switch(ctx.target, ctx.facts)
    if ctx.target.level is Level.MAJOR and not switch.files:
        raise UpgradeFailed(
            f"{run.spec.name}: no apt source names {ctx.target.current.codename}: FOSSP cannot point the host "
            f"at {ctx.target.release.codename} (sources that say 'stable' or 'oldstable' must name the release)"
        )
    return switch


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
        # Debian's release notes: a minimal upgrade first (nothing new, nothing removed), then all.
        minimal = _apt_action_argv("minimal", run.conffiles)
        await _ok(run.connector, minimal, "the minimal upgrade", run.timeouts.packages)
    argv = _apt_action_argv(collected.action, run.conffiles)
    await _ok(run.connector, argv, "the package upgrade", run.timeouts.packages)
    if collected.context.target.level is Level.MAJOR:
        reached = (await run.connector.check(["cat", "/etc/debian_version"])).stdout.strip()
        if reached.split(".")[0] != collected.context.target.release.version:
            raise UpgradeFailed(
                f"{run.spec.name}: the package upgrade left the host on {reached}, not "
                f"{collected.context.target.label} (do its apt sources name the release?)"
            )


PG_DONE = "done"
PG_BEGUN = "begun"


async def _migrations(run: _Run) -> None:
    """Each data migration, write-ahead per cluster: begun is recorded first, done after checking."""
    for migration in _collected(run).context.migrations:
        if migration.role == "postgresql":
            await _migrate_postgresql(run, migration)
        else:
            for argv in migration.commands:
                run.say(f"{run.spec.name}: {' '.join(argv)}")
                await _ok(run.connector, list(argv), f"migration of {migration.role}", run.timeouts.packages)
        run.outcome.migrations.append(f"{migration.role} {migration.old} -> {migration.new}")
    await _save(run, migrations=list(run.outcome.migrations))


async def _clusters(run: _Run) -> dict[tuple[str, str], PgCluster]:
    listed = await run.connector.check(["pg_lsclusters", "--no-header"])
    return {(c.version, c.name): c for c in parse_pg_clusters(listed.stdout)}


async def _migrate_postgresql(run: _Run, migration: PlannedMigration) -> None:
    """pg_upgradecluster per cluster. A cluster of the new version that a killed run began is
    dropped and made again; one FOSSP did not begin is never touched (the run stops)."""
    for cluster in migration.clusters:
        key = f"postgresql {migration.old}/{cluster}"
        state = run.record.migration_steps.get(key)
        if state == PG_DONE:
            continue
        existing = (await _clusters(run)).get((migration.new, cluster))
        if existing is not None and state != PG_BEGUN:
            raise UpgradeFailed(
                f"{run.spec.name}: PostgreSQL cluster {migration.new}/{cluster} exists and FOSSP did not make it; "
                "move it aside, then run again"
            )
        if existing is not None:
            await _ok(run.connector, ["pg_dropcluster", "--stop", migration.new, cluster], "drop a half-made cluster")
        await _save(run, migration_steps={**run.record.migration_steps, key: PG_BEGUN})
        for argv in (argv for argv in migration.commands if cluster in argv):
            run.say(f"{run.spec.name}: {' '.join(argv)}")
            await _ok(run.connector, list(argv), f"migration of PostgreSQL {cluster}", run.timeouts.packages)
        moved = (await _clusters(run)).get((migration.new, cluster))
        if moved is None or moved.status != "online":
            raise UpgradeFailed(f"{run.spec.name}: PostgreSQL {migration.new}/{cluster} is not online after the move")
        await _save(run, migration_steps={**run.record.migration_steps, key: PG_DONE})


async def _save(run: _Run, **changes: Any) -> None:
    run.record = run.record.model_copy(update=changes)
    await save_record(run.connector, run.record)


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


#: Steps after which packages may have changed: a failure there is rolled back, never "nothing applied".
APPLYING = ("packages", "migrations", "reboot", "verify")


async def _forward(run: _Run) -> None:
    if run.resumed_at not in APPLYING:
        try:
            await _download(run)
        except (FosspError, OSError) as error:
            with contextlib.suppress(FosspError, OSError):
                await _undo_download(run)
            raise NothingApplied(error.message if isinstance(error, FosspError) else str(error)) from None
        if run.pre is not None and run.snapfacts is not None:
            # The data copies are taken last before the packages change, so the fewest writes go aside.
            data = await _quiet_copies(run, run.snapfacts, run.pre.number)
            run.outcome.data_snapshots = data
            await run.step("packages", data_snapshots=data)
        else:
            await run.step("packages")
    else:
        await _download(run)  # a resumed run: sources and packages again (apt fetches only what is missing)
    if run.resumed_at not in ("migrations", "reboot", "verify"):
        await _packages(run)
        await run.step("migrations")
    await _migrations(run)
    if _collected(run).context.target.reboot and run.resumed_at != "verify":
        await run.step("reboot")
        await _reboot(run)
    await run.step("verify")
    run.outcome.probes = await _verify(run)
    failed = [p for p in run.outcome.probes if p.ok is False]
    if failed:
        raise UpgradeFailed("; ".join(f"probe {p.role}/{p.name}: {p.output}" for p in failed))


SWAP_SCRIPT = r"""
p=$1 c=$2 a=$3
if [ ! -e "$p.fossp-new" ] && [ ! -e "$a" ]; then btrfs subvolume snapshot "$c" "$p.fossp-new" >&2 || exit 1; fi
if [ -e "$p.fossp-new" ]; then
  if [ -e "$p" ] && [ ! -e "$a" ]; then mv -T -- "$p" "$a" || exit 1; fi
  mv -T -- "$p.fossp-new" "$p" || exit 1
fi
"""


def aside_path(path: str, run_id: str) -> str:
    """Where a rolled-back data subvolume is kept: beside it (a rename, never a copy)."""
    return f"{path}.fossp-failed-{run_id}"


async def _rollback_ready(run: _Run, pre: int) -> None:
    """Everything a rollback needs, checked before anything stops (UpgradeFailed if not)."""
    facts = await gather_snapshot_facts(run.connector)
    try:
        check_restorable(facts, pre)
        restore_method(facts)
        check_free_space(facts)
    except FosspError as problem:
        raise UpgradeFailed(f"{run.spec.name}: cannot restore snapshot {pre}: {problem.message}") from None
    for path, copy in run.record.data_snapshots.items():
        if path in run.record.data_restored:
            continue
        found = await run.connector.run(["test", "-d", copy])
        if not found.ok:
            raise UpgradeFailed(f"{run.spec.name}: the data copy {copy} of {path} is missing; nothing restored")


async def _ensure_connected(run: _Run) -> None:
    try:
        await run.connector.run(["true"], timeout=15)
    except (FosspError, OSError):
        run.connector = await open_connector(run.spec, run.timeouts)
        if run.lock is not None:
            run.lock.connector = run.connector
            await run.lock.__aenter__()


async def _roll_back(run: _Run, failure: str) -> None:
    """Check it can, stop the roles, restore the root snapshot, put the data copies back, restart, verify."""
    pre = run.record.pre_snapshot
    assert pre is not None
    await _ensure_connected(run)
    await run.step("rollback", failure=failure)
    await _rollback_ready(run, pre)
    if run.units:
        await run.connector.run(["systemctl", "stop", *run.units], timeout=run.timeouts.command)
    outcome = await restore_locked(run.connector, pre, run.outcome.run_id)
    run.outcome.backup_snapshot = outcome.backup
    for path, copy in run.record.data_snapshots.items():
        if path in run.record.data_restored:
            continue
        aside = aside_path(path, run.outcome.run_id)
        await run.connector.check(["sh", "-c", SWAP_SCRIPT, "fossp-swap", path, copy, aside])
        await _save(run, data_restored=[*run.record.data_restored, path])
    run.say(f"{run.spec.name}: restored snapshot {pre}; the failed state is snapshot {outcome.backup}")
    await _reboot(run)  # a restored root takes effect at the next start, whatever the level
    run.outcome.probes = await _verify(run)
    unhealthy = [p for p in run.outcome.probes if p.ok is False]
    final = run.record.at("done", finished=True, outcome="rolled-back", failure=failure)
    run.record = final
    await save_record(run.connector, final)
    if unhealthy:
        run.outcome.failure += "; after the rollback: " + "; ".join(
            f"probe {p.role}/{p.name}: {p.output}" for p in unhealthy
        )
        raise StillUnhealthy(run.outcome.failure)


class StillUnhealthy(UpgradeFailed):
    """The rollback finished, but a role's probe still fails."""


async def _fail(run: _Run, failure: str, rollback: bool) -> None:
    run.outcome.failure = failure
    if not rollback or run.record.pre_snapshot is None:
        run.outcome.status = "failed"
        with contextlib.suppress(FosspError, OSError):
            await _save(run, failure=failure, outcome="failed")
        return
    run.say(f"{run.spec.name}: failed ({failure}); restoring snapshot {run.record.pre_snapshot}")
    try:
        await _roll_back(run, failure)
    except StillUnhealthy:
        run.outcome.status = "rolled-back-unhealthy"
        return
    except (FosspError, OSError) as problem:
        why = problem.message if isinstance(problem, FosspError) else str(problem)
        run.outcome.status = "failed"
        run.outcome.failure = f"{failure}; the rollback failed too: {why} (then: `fossp upgrade restore`)"
        with contextlib.suppress(FosspError, OSError):
            await _save(run, failure=run.outcome.failure)
        return
    run.outcome.status = "rolled-back"


async def _run_steps(run: _Run, rollback: bool) -> None:
    try:
        await _forward(run)
    except NothingApplied as error:
        run.outcome.status, run.outcome.failure = "failed", f"{error.message} (nothing applied)"
        with contextlib.suppress(FosspError, OSError):
            await run.step("done", finished=True, outcome="nothing-applied", failure=run.outcome.failure)
        return
    except (FosspError, OSError) as error:
        await _fail(run, error.message if isinstance(error, FosspError) else str(error), rollback)
        return
    await run.step("done", finished=True, outcome="upgraded")
    run.outcome.status = "upgraded"
    try:  # the upgrade is done and verified: what follows only reports on it
        run.outcome.post_report = await _post_report(run)
        if run.pre is not None:
            label = f"after upgrade to {run.record.target}"
            post = await snapshot_pair_post(run.connector, run.pre, label, run.outcome.run_id, important=True)
            run.outcome.post_snapshot = post.number
            await _save(run, post_snapshot=post.number)
    except (FosspError, OSError) as error:
        run.outcome.notes.append(f"after the upgrade: {error.message if isinstance(error, FosspError) else error}")


async def _start(run: _Run, resume: UpgradeRecord | None) -> None:
    """Write the intent, then the snapshot pair's pre half; or pick up a run that stopped."""
    run.snapfacts = await gather_snapshot_facts(run.connector)
    if resume is not None:
        run.record, run.resumed_at = resume, resume.step
        run.pre = None if resume.pre_snapshot is None else run.snapfacts.snapshot(resume.pre_snapshot)
        run.outcome.pre_snapshot = resume.pre_snapshot
        run.outcome.data_snapshots = dict(resume.data_snapshots)
        base = await wait_for_package_managers(run.connector, await gather_facts(run.connector), run.say)
        if base.dpkg_interrupted:
            repair = [*APT_ENV, "dpkg", "--configure", "-a", "--force-confdef", CONFFILE_FLAGS[run.conffiles]]
            await _ok(run.connector, repair, "dpkg --configure -a", run.timeouts.packages)
        return
    await run.step("snapshot")
    if not run.snapfacts.btrfs:
        await run.step("download")
        return
    label = run.record.target
    run.pre = await take_snapshot(
        run.connector, "pre", f"before upgrade to {label}", run.outcome.run_id, important=True, facts=run.snapfacts
    )
    run.outcome.pre_snapshot = run.pre.number
    await run.step("download", pre_snapshot=run.pre.number)


def finish_command(request: CheckRequest) -> str:
    """The command line that finishes a run of ``request`` (the record and the notes print it)."""
    parts = ["fossp", "upgrade", "run"]
    if request.to:
        parts += ["--to", request.to]
    if request.level:
        parts += ["--level", request.level]
    for name in request.packages:
        parts += ["--package", name]
    return " ".join(shlex.quote(part) for part in parts)


async def upgrade_host(
    connector: Connector, spec: HostSpec, request: CheckRequest, say: Say = quiet, run_id: str | None = None
) -> UpgradeOutcome:
    """The whole run on one host (see the module docstring); a failed step is in the outcome.

    Bad input (a downgrade, a package no host has, a family FOSSP only reports on) is raised
    before anything changes. ``connector`` is the caller's; one opened after a reboot is closed here.
    """
    started = time.perf_counter()
    run_id = run_id or new_run_id()
    outcome = UpgradeOutcome(spec.name, run_id, "")
    run: _Run | None = None
    try:
        earlier = UpgradeRecord.parse((await connector.run(["cat", "--", UPGRADE_RECORD])).stdout)
        if earlier is not None and earlier.pending and earlier.step == "rollback":
            raise BadInput(
                f"{spec.name}: the rollback of upgrade {earlier.run_id} did not finish: run `fossp upgrade restore`"
            )
        if earlier is not None and earlier.pending and earlier.source_release:
            request = replace(request, installed=earlier.source_release)
        collected = await collect(connector, request, say)
        ctx = collected.context
        if ctx.facts.base.family is not Family.DEBIAN:
            raise BadInput(f"{spec.name}: `upgrade run` upgrades the Debian family; for this host use the report")
        resume = _resumable(earlier, ctx.target.label)
        if resume is not None:
            collected = replace(collected, context=replace(ctx, facts=replace(ctx.facts, record=None), resuming=True))
        report = build_report(collected, spec.name, run_id)
        outcome.target, outcome.pre_report = ctx.target.label, report
        if report.inhibited or report.errors:
            what = "inhibitors" if report.inhibited else "checks that could not run"
            outcome.failure = f"the report has {what} (see it with `fossp upgrade check`): nothing changed"
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
            command=finish_command(request),
            started=now(),
            updated=now(),
        )
        run = _Run(spec, connector.timeouts, connector, collected, record, outcome, say)
        run.units = role_units(ctx.roles)
        run.host_sources, run.conffiles = request.host_sources, request.conffiles
        run.lock = lock = HostLock(connector)
        async with lock:
            await _start(run, resume)
            await _run_steps(run, request.rollback)
    except BadInput:
        if outcome.steps:
            raise UpgradeFailed(f"{spec.name}: refused after the run began") from None
        raise
    except FosspError as error:
        outcome.failure = outcome.failure or error.message
        outcome.status = "failed" if outcome.steps else "refused"
        if run is not None and run.record.step == "snapshot":
            with contextlib.suppress(FosspError, OSError):
                await run.step("snapshot", finished=True, outcome="nothing-applied", failure=error.message)
    finally:
        if run is not None and run.connector is not connector:
            with contextlib.suppress(FosspError, OSError):
                await run.connector.close()
        outcome.seconds = time.perf_counter() - started
    return outcome


def _resumable(record: UpgradeRecord | None, label: str) -> UpgradeRecord | None:
    """An unfinished run to the same target that changed the host is finished, not started again."""
    if record is None or not record.pending or record.target != label:
        return None
    return record


async def unfinished_upgrade(connector: Connector) -> UpgradeRecord:
    """The upgrade `fossp upgrade restore` would undo; BadInput (nothing changed) if there is none."""
    return (await _unfinished(connector))[0]


async def _unfinished(connector: Connector) -> tuple[UpgradeRecord, UpgradeFacts]:
    facts = await gather_upgrade_facts(connector, await gather_facts(connector))
    record = UpgradeRecord.parse(facts.record)
    if record is None:
        raise BadInput(f"{connector.name}: no upgrade record: nothing to restore (see `fossp snapshot list`)")
    if not record.pending:
        back = ""
        if record.pre_snapshot and record.outcome == "upgraded":
            back = (
                f"; `fossp restore {record.pre_snapshot}` brings back the system but keeps the data as migrated "
                "(restore the data copies beside that snapshot by hand)"
            )
        ended = record.outcome or record.step
        raise BadInput(f"{connector.name}: upgrade {record.run_id} ended ({ended}): nothing to restore{back}")
    if record.pre_snapshot is None:
        raise BadInput(f"{connector.name}: upgrade {record.run_id} took no snapshot (root not BTRFS): restore by hand")
    return record, facts


async def restore_upgrade(connector: Connector, spec: HostSpec, say: Say = quiet) -> UpgradeOutcome:
    """Undo an upgrade that did not finish: its pre snapshot and data copies back, restart, probes."""
    from fossp.upgrade.service import deployed_roles

    started = time.perf_counter()
    record, facts = await _unfinished(connector)
    outcome = UpgradeOutcome(spec.name, record.run_id, record.target, pre_snapshot=record.pre_snapshot)
    outcome.data_snapshots = dict(record.data_snapshots)
    run = _Run(spec, connector.timeouts, connector, None, record, outcome, say)
    run.units = role_units(deployed_roles(facts))
    run.lock = lock = HostLock(connector)
    try:
        async with lock:
            run.snapfacts = await gather_snapshot_facts(connector)
            try:
                await _roll_back(run, record.failure or "restored by `fossp upgrade restore`")
                outcome.status = "rolled-back"
            except StillUnhealthy:
                outcome.status = "rolled-back-unhealthy"
    finally:
        if run.connector is not connector:
            with contextlib.suppress(FosspError, OSError):
                await run.connector.close()
        outcome.seconds = time.perf_counter() - started
    return outcome
