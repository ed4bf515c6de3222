"""Collect everything once, then run the checks: the report for one host.

Round trips: the deploy facts and the upgrade facts (two scripts), plus a tar of the
roles' config folders when a config checker will try them. Everything else happens
on the controller: the target release's archive metadata (cached), the simulated
upgrade against the host's own dpkg status, and the config checks in a scratch root.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fossp.catalog.schema import Family
from fossp.engine.state import new_run_id, parse_state
from fossp.errors import BadInput, FosspError
from fossp.hosts.connector import Connector
from fossp.hosts.facts import gather_facts
from fossp.lifecycle.version import Level
from fossp.upgrade.archive import Action
from fossp.upgrade.checks import CheckContext, RoleInfo, run_checks
from fossp.upgrade.facts import UpgradeFacts, gather_upgrade_facts
from fossp.upgrade.migrations import plan_migrations
from fossp.upgrade.model import ArchiveIndex, PackageEvent, Prediction, ReleaseInfo, SuiteSpec
from fossp.upgrade.news import NewsItem
from fossp.upgrade.releases import Target, resolve_target
from fossp.upgrade.report import Report, now_stamp

Say = Callable[[str], None]


def quiet(_: str) -> None:
    """Default progress reporter."""


@dataclass(frozen=True)
class CheckRequest:
    """What the administrator asked: ``--to``, ``--level``, ``--package`` and the check options."""

    to: str | None = None
    level: str | None = None
    packages: tuple[str, ...] = ()
    rollback: bool = True
    config_checks: bool = True
    refresh: bool = False
    #: Judge the target from this release instead of the host's (finishing a run that began there).
    installed: str | None = None
    #: Upgrade a lab host from its own apt sources, as any other host (not the lab's suite repository).
    host_sources: bool = False
    #: Changed configuration files: "keep" the administrator's, or take the "new" ones.
    conffiles: str = "keep"


@dataclass(frozen=True)
class Collected:
    """The facts and release data of one host: what the checks and the run both use."""

    context: CheckContext
    action: Action
    spec: SuiteSpec | None


def deployed_roles(facts: UpgradeFacts) -> tuple[RoleInfo, ...]:
    from fossp.catalog import load_catalog

    catalog = load_catalog()
    family = facts.base.family or Family.DEBIAN
    roles = []
    for instance in parse_state(facts.base).instances.values():
        try:
            role = catalog.role(instance.role_id)
        except BadInput:
            roles.append(RoleInfo(instance.role_name, instance.role_id))
            continue
        packages = role.packages.get(family)
        roles.append(
            RoleInfo(
                role.name,
                role.id,
                role.lifecycle.support_end,
                tuple(packages.packages) if packages else (),
                tuple(role.units_for(family, instance.settings)),
            )
        )
    return tuple(sorted(roles, key=lambda r: r.name))


def upgrade_action(target: Target, facts: UpgradeFacts, index: ArchiveIndex | None) -> Action:
    """apt's action: full-upgrade (major), upgrade (service pack), or only these packages (fix)."""
    if target.level is Level.MAJOR:
        return "full-upgrade"
    if target.level is Level.SERVICE_PACK:
        return "upgrade"
    return fix_packages(target.packages, facts, index)


def fix_packages(names: tuple[str, ...], facts: UpgradeFacts, index: ArchiveIndex | None) -> tuple[str, ...]:
    """The installed binaries an interim fix names: by binary name or by their source package."""
    from fossp.upgrade.archive import parse_dpkg_status

    status = parse_dpkg_status(facts.dpkg_status.decode("utf-8", "replace"))
    chosen = []
    for name, fields in sorted(status.items()):
        source = str(fields.get("Source") or name).split()[0]
        record = index.packages.get(name) if index else None
        if name in names or source in names or (record is not None and record.source in names):
            chosen.append(name)
    if not chosen:
        raise BadInput(f"--package {', '.join(names)}: no installed package is, or is built from, that name")
    return tuple(chosen)


def _debian_release_data(
    target: Target, facts: UpgradeFacts, refresh: bool, say: Say
) -> tuple[SuiteSpec, ArchiveIndex, list[PackageEvent], Prediction | None, str, Action]:
    from fossp.upgrade import archive, events

    spec = target.release.spec("debian")
    say(f"{facts.base.host}: archive metadata of {spec.key}")
    index = archive.ensure_index(spec, refresh=refresh, report=say)
    current = (
        index
        if target.level is not Level.MAJOR
        else archive.ensure_index(target.current.spec("debian"), refresh=refresh, report=say)
    )
    installed = facts.base.packages
    action = upgrade_action(target, facts, index)
    if isinstance(action, tuple):
        installed = {name: installed[name] for name in action if name in installed}
    found = events.package_events(installed, index, current, source_label=spec.key)
    try:
        prediction: Prediction | None = archive.simulate(spec, facts.dpkg_status, action, index=index)
        error = ""
    except FosspError as failure:
        prediction, error = None, failure.message
    return spec, index, found, prediction, error, action


#: Platform packages whose upgrade notes every server's administrator should read.
PLATFORM_NEWS = ("openssh-server", "openssh-client", "systemd", "apt", "sudo", "libc6", "base-files")


def news_packages(roles: tuple[RoleInfo, ...], facts: UpgradeFacts, index: ArchiveIndex) -> dict[str, str]:
    """The installed packages whose NEWS.Debian matters: the roles' (with their sibling binaries
    of the same source, e.g. nginx-common beside nginx) and the platform's."""
    installed = facts.base.packages
    role_packages = {p for role in roles for p in role.packages}
    sources = {index.packages[p].source for p in role_packages if p in index.packages}
    wanted = {p for p in installed if p in role_packages or p in PLATFORM_NEWS}
    wanted |= {p for p in installed if p in index.packages and index.packages[p].source in sources}
    return {name: installed[name] for name in sorted(wanted)}


def _news(
    spec: SuiteSpec, roles: tuple[RoleInfo, ...], facts: UpgradeFacts, index: ArchiveIndex, say: Say
) -> tuple[tuple[NewsItem, ...], str]:
    """The roles' and platform's upgrade notes; a failed download is reported, never fatal."""
    from fossp.upgrade import news

    try:
        return tuple(news.fetch_news(spec, news_packages(roles, facts, index), say, index=index)), ""
    except FosspError as error:
        return (), error.message


def _fedora_release_data(target: Target, facts: UpgradeFacts) -> list[PackageEvent]:
    from fossp.upgrade.recorded import recorded_events

    if target.level is not Level.MAJOR:
        return []
    return recorded_events(facts.base.packages, target.current.version, target.release.version)


async def _config_checks(
    connector: Connector, spec: SuiteSpec, roles: tuple[RoleInfo, ...], family: str, say: Say
) -> tuple[object, ...]:
    from fossp.upgrade import scratch

    names = [r.name for r in roles]
    folders = scratch.config_folders(names, family)
    if not folders:
        return ()
    with tempfile.TemporaryDirectory(prefix="fossp-config-") as folder:
        path = Path(folder) / "config.tar"
        with path.open("wb") as sink:  # the connector closes it when the stream ends
            result = await connector.run_to_file(scratch.host_tar_argv(folders), sink)
        if not result.ok:
            raise FosspError(f"{connector.name}: cannot read the roles' configuration: {result.describe()}")
        tar = path.read_bytes()
    say(f"{connector.name}: trying the configuration of {', '.join(names)} with {spec.key}")
    return tuple(await asyncio.to_thread(scratch.run_config_checks, spec, names, family, tar, say))


async def collect(
    connector: Connector, request: CheckRequest, say: Say = quiet, phase: str = "pre-upgrade"
) -> Collected:
    """One host's facts and release data, and the context every check reads."""
    base = await gather_facts(connector)
    facts = await gather_upgrade_facts(connector, base)
    if base.family is None:
        raise BadInput(f"{connector.name}: OS {base.os.id!r} is in no family FOSSP upgrades (debian, fedora)")
    family = base.family.value
    installed = request.installed or facts.installed_release
    target = resolve_target(family, installed, request.to, request.level, list(request.packages))
    roles = deployed_roles(facts)
    spec: SuiteSpec | None = None
    prediction: Prediction | None = None
    error = ""
    archive_info: tuple[ReleaseInfo, ...] = ()
    action: Action = "full-upgrade"
    notes: tuple[NewsItem, ...] = ()
    notes_error = ""
    if base.family is Family.DEBIAN:
        debian, index, found, prediction, error, action = await asyncio.to_thread(
            _debian_release_data, target, facts, request.refresh, say
        )
        spec, archive_info = debian, index.releases
        if target.level is Level.MAJOR and phase == "pre-upgrade":
            notes, notes_error = await asyncio.to_thread(_news, debian, roles, facts, index, say)
    else:
        found = _fedora_release_data(target, facts)
    migrations = plan_migrations({r.name for r in roles}, family, found, facts)
    problem = await rollback_problem(connector) if base.root_fs == "btrfs" and phase == "pre-upgrade" else ""
    config: tuple[object, ...] = ()
    if request.config_checks and spec is not None and target.level is Level.MAJOR and phase == "pre-upgrade":
        config = await _config_checks(connector, spec, roles, family, say)
    context = CheckContext(
        facts=facts,
        target=target,
        roles=roles,
        events=tuple(found),
        prediction=prediction,
        prediction_error=error,
        migrations=tuple(migrations),
        config_checks=config,  # type: ignore[arg-type]
        archive=archive_info,
        snapshot_capable=base.root_fs == "btrfs" and not problem,
        rollback_problem=problem,
        rollback=request.rollback,
        phase=phase,
        news=notes,
        news_error=notes_error,
    )
    return Collected(context, action, spec)


async def rollback_problem(connector: Connector) -> str:
    """Why a restore of this BTRFS host would be refused ("" when it would work): asked before
    the upgrade changes anything, never found out during a rollback."""
    from fossp.engine.restore import restore_method
    from fossp.engine.snapshot import gather_snapshot_facts

    facts = await gather_snapshot_facts(connector)
    try:
        restore_method(facts)
    except BadInput as refusal:
        return refusal.message.removesuffix("; nothing changed")
    paths = [s.path for s in facts.subvolumes if not s.path.startswith("/.snapshots")]
    if paths:
        script = 'for p; do mountpoint -q "$p" && echo "$p"; done; true'
        mounted = (await connector.run(["sh", "-c", script, "fossp-mounts", *paths])).stdout.split()
        if mounted:
            return f"data subvolume(s) {', '.join(mounted)} are mounted on their own, so they cannot be swapped back"
    return ""


def build_report(collected: Collected, host: str, run_id: str | None = None) -> Report:
    """Run every check on the collected facts and join their output into the report (pure)."""
    started = time.perf_counter()
    ctx = collected.context
    run_id = run_id or new_run_id()
    checks, entries = run_checks(ctx, now_stamp())
    prediction = ctx.prediction
    return Report(
        run_id=run_id,
        leapp_run_id=run_id,
        hostname=ctx.facts.base.hostname or host,
        host=host,
        generated_at=now_stamp(),
        phase="post-upgrade" if not ctx.pre else "pre-upgrade",
        target={**ctx.target.summary(), "installed": ctx.facts.installed_release},
        fossp=ctx.facts.base.os.fossp(),
        checks=checks,
        entries=entries,
        prediction=prediction_summary(prediction, ctx.migrations),
        facts_seconds=round(ctx.facts.base.seconds + ctx.facts.seconds, 3),
        checks_seconds=round(time.perf_counter() - started, 4),
    )


def prediction_summary(prediction: Prediction | None, migrations: tuple[object, ...] = ()) -> dict[str, object]:
    if prediction is None:
        return {}
    return {
        "upgraded": len(prediction.upgraded),
        "installed": len(prediction.installed),
        "removed": len(prediction.removed),
        "kept_back": list(prediction.kept_back),
        "download_bytes": prediction.download_bytes,
        "installed_size_delta_kib": prediction.installed_size_delta_kib,
        "removed_packages": list(prediction.removed),
        "migrations": [m.summary() for m in migrations],  # type: ignore[attr-defined]
    }


async def check_host(connector: Connector, request: CheckRequest, say: Say = quiet) -> Report:
    collected = await collect(connector, request, say)
    return build_report(collected, connector.name)
