"""The upgrade checks: pure functions of the facts and the release data.

Each check has a stable name (its report key is derived from it), a title, topics and
whether its action belongs before or after the upgrade. It returns a Finding, or None
when it passed; :func:`run_checks` turns findings into Leapp-style entries and gives
every check that ran a status. A check that raises is reported with status ``error``
rather than stopping the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from fossp.lifecycle.version import Level
from fossp.upgrade.facts import UpgradeFacts
from fossp.upgrade.migrations import PlannedMigration
from fossp.upgrade.model import ConfigCheck, EventKind, PackageEvent, Prediction, ReleaseInfo
from fossp.upgrade.news import NewsItem
from fossp.upgrade.releases import Target
from fossp.upgrade.report import (
    CheckOutcome,
    CheckStatus,
    Detail,
    Entry,
    External,
    RelatedResource,
    Remediation,
    Severity,
    When,
    check_key,
    entry_id,
)

#: Mirrors of the family's own archive (a host name, or any host under a domain with a leading dot).
OFFICIAL_HOSTS = ("deb.debian.org", "security.debian.org", ".debian.org")
#: The lab's local copies of the archive.
OFFICIAL_FILES = ("file:/srv/fossp-repo", "file:/srv/fossp-suites/")
#: Space kept free beyond the download and the new files (the snapshot keeps the old ones).
SPACE_MARGIN = 512 * 1024 * 1024


@dataclass(frozen=True)
class RoleInfo:
    """A role deployed on the host, as the checks need it."""

    name: str
    role_id: str
    support_end: date | None = None
    packages: tuple[str, ...] = ()
    units: tuple[str, ...] = ()  # the family's units, placeholders filled


@dataclass(frozen=True)
class CheckContext:
    """Everything the checks read; collected once before any check runs."""

    facts: UpgradeFacts
    target: Target
    roles: tuple[RoleInfo, ...]
    events: tuple[PackageEvent, ...]
    prediction: Prediction | None
    prediction_error: str = ""
    migrations: tuple[PlannedMigration, ...] = ()
    config_checks: tuple[ConfigCheck, ...] = ()
    archive: tuple[ReleaseInfo, ...] = ()
    snapshot_capable: bool = True  # a BTRFS root FOSSP can snapshot and restore
    rollback_problem: str = ""  # why not, when the root is BTRFS but a restore would be refused
    rollback: bool = True
    phase: str = "pre-upgrade"
    today: date = field(default_factory=date.today)
    dist_files: tuple[str, ...] = ()  # post-upgrade: *.dpkg-dist files the upgrade left
    news: tuple[NewsItem, ...] = ()  # NEWS.Debian entries of the new packages, newer than the installed ones
    news_error: str = ""
    resuming: bool = False  # finishing a killed run: its dpkg state and stale lock are repaired, not blockers

    @property
    def pre(self) -> bool:
        return self.phase == "pre-upgrade"

    @property
    def role_packages(self) -> set[str]:
        return {p for role in self.roles for p in role.packages}


@dataclass(frozen=True)
class Finding:
    summary: str
    severity: Severity
    inhibitor: bool = False
    remediations: tuple[Remediation, ...] = ()
    related: tuple[RelatedResource, ...] = ()
    external: tuple[External, ...] = ()
    when: When | None = None  # overrides the check's


@dataclass(frozen=True)
class Check:
    name: str
    title: str
    topics: tuple[str, ...]
    when: When
    applies: Callable[[CheckContext], bool]
    run: Callable[[CheckContext], Finding | None]


CHECKS: list[Check] = []


def check(
    name: str,
    title: str,
    topics: tuple[str, ...],
    when: When = "before",
    applies: Callable[[CheckContext], bool] = bool,
) -> Callable[[Callable[[CheckContext], Finding | None]], Callable[[CheckContext], Finding | None]]:
    def register(function: Callable[[CheckContext], Finding | None]) -> Callable[[CheckContext], Finding | None]:
        CHECKS.append(Check(name, title, topics, when, applies, function))
        return function

    return register


def _hint(text: str) -> Remediation:
    return Remediation(type="hint", context=text)


def _command(*argv: str) -> Remediation:
    return Remediation(type="command", context=list(argv))


def _packages(names: list[str]) -> tuple[RelatedResource, ...]:
    return tuple(RelatedResource(scheme="package", title=name) for name in names)


def _listing(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def official_source(uri: str) -> bool:
    """Debian's archive or a mirror under debian.org, or the lab's copy of it."""
    from urllib.parse import urlsplit

    if uri.startswith("file:"):
        return any(uri == f or uri.startswith(f.rstrip("/") + "/") or uri == f.rstrip("/") for f in OFFICIAL_FILES)
    host = (urlsplit(uri).hostname or "").lower()
    return any(host == name or (name.startswith(".") and host.endswith(name)) for name in OFFICIAL_HOSTS)


def _major(ctx: CheckContext) -> bool:
    return ctx.target.level is Level.MAJOR


def _pre(ctx: CheckContext) -> bool:
    return ctx.pre


def _pre_major(ctx: CheckContext) -> bool:
    return ctx.pre and _major(ctx)


def _pre_config(ctx: CheckContext) -> bool:
    return ctx.pre and bool(ctx.config_checks)


def _events(ctx: CheckContext, *kinds: EventKind) -> list[PackageEvent]:
    return [e for e in ctx.events if e.kind in kinds]


# --------------------------------------------------------------------------- the host


@check("host.unfinished-work", "An interrupted package or FOSSP run on the host", ("packages",), applies=_pre)
def unfinished_work(ctx: CheckContext) -> Finding | None:
    base = ctx.facts.base
    if ctx.resuming:
        return None
    problems = []
    if base.dpkg_interrupted:
        problems.append("dpkg stopped midway (packages half installed)")
    if base.package_managers:
        problems.append("a package manager runs now: " + ", ".join(f"{n} (pid {p})" for p, n in base.package_managers))
    if base.lock_owner:
        problems.append(f"a FOSSP run holds the host lock ({base.lock_owner})")
    if not problems:
        return None
    return Finding(
        "; ".join(problems) + ". An upgrade on top of unfinished work cannot be predicted.",
        Severity.HIGH,
        inhibitor=True,
        remediations=(_hint("let the running work finish, or run `fossp deploy` to finish an interrupted run"),),
    )


@check("host.upgrade-in-progress", "An earlier upgrade did not finish", ("upgrade",), applies=_pre)
def upgrade_in_progress(ctx: CheckContext) -> Finding | None:
    from fossp.upgrade.record import UpgradeRecord

    record = UpgradeRecord.parse(ctx.facts.record)
    if record is None or not record.pending:
        return None
    if record.step == "rollback":
        hint = "its rollback did not finish: complete it with `fossp upgrade restore`"
    else:
        hint = f"finish it with `{record.command or 'fossp upgrade run'}` or go back with `fossp upgrade restore`"
    return Finding(
        f"upgrade run {record.run_id} to {record.target} stopped at step '{record.step}' ({record.updated}).",
        Severity.HIGH,
        inhibitor=True,
        remediations=(_hint(hint),),
    )


@check("host.reboot-pending", "A reboot is already pending", ("boot",))
def reboot_pending(ctx: CheckContext) -> Finding | None:
    if not ctx.facts.reboot_required:
        return None
    named = f" (for {_listing(list(ctx.facts.reboot_packages))})" if ctx.facts.reboot_packages else ""
    return Finding(
        f"The host asks for a reboot{named}: the running system is not the installed one.",
        Severity.MEDIUM,
        remediations=(_hint("reboot the host and check it comes back before upgrading"),),
        related=_packages(list(ctx.facts.reboot_packages)),
    )


@check("filesystem.rollback", "Rollback needs a BTRFS root", ("filesystem", "upgrade"), applies=_pre)
def rollback_possible(ctx: CheckContext) -> Finding | None:
    if ctx.snapshot_capable:
        return None
    fs = ctx.facts.base.root_fs or "unknown"
    why = ctx.rollback_problem or f"the root file system is {fs}, not BTRFS: FOSSP cannot snapshot it"
    return Finding(
        f"A failed upgrade could not be rolled back: {why}.",
        Severity.HIGH,
        inhibitor=ctx.rollback,
        remediations=(_hint("take a full backup and run with --no-rollback, or move the root to BTRFS"),),
    )


@check(
    "filesystem.space",
    "Space for the download and the snapshot",
    ("filesystem",),
    applies=lambda c: c.pre and c.prediction is not None,
)
def space(ctx: CheckContext) -> Finding | None:
    assert ctx.prediction is not None  # applies only with a prediction
    download = ctx.prediction.download_bytes
    # The snapshot keeps every replaced file, so the new files take new space in full: about
    # twice the download unpacked plus the growth apt reports, on /; the .debs where apt keeps them.
    new_files = 2 * download + max(ctx.prediction.installed_size_delta_kib, 0) * 1024
    if _same_filesystem(ctx):
        wanted = {"/": new_files + download + SPACE_MARGIN}
    else:
        wanted = {"/": new_files + SPACE_MARGIN, "/var/cache/apt": download + SPACE_MARGIN}
    short = []
    for path, needed in wanted.items():
        available = ctx.facts.available(path)
        if available is not None and available < needed:
            short.append(f"{path}: {available // 2**20} MiB free, about {needed // 2**20} MiB needed")
    if not short:
        return None
    return Finding(
        "; ".join(short) + " (the download, the new files kept beside the snapshot's old ones, and a margin).",
        Severity.HIGH,
        inhibitor=True,
        remediations=(_hint("free space (old snapshots: `fossp snapshot cleanup`), then check again"),),
    )


def _same_filesystem(ctx: CheckContext) -> bool:
    """The download and the new files share one file system (no mount between / and /var/cache/apt)."""
    mounts = {f.mount for f in ctx.facts.filesystems}
    return not mounts & {"/var", "/var/cache", "/var/cache/apt"}


def _predicted(ctx: CheckContext) -> bool:
    """Checks of apt's answer: the Debian family before the upgrade (Fedora has no simulation here)."""
    return ctx.pre and (ctx.prediction is not None or bool(ctx.prediction_error))


# --------------------------------------------------------------------------- packages and sources


@check("packages.resolvable", "The package manager can resolve the upgrade", ("packages",), applies=_predicted)
def resolvable(ctx: CheckContext) -> Finding | None:
    if ctx.prediction_error:
        return Finding(
            f"Simulating the upgrade against the host's packages failed: {ctx.prediction_error}",
            Severity.HIGH,
            inhibitor=True,
            remediations=(_hint("fix the named packages (or their sources) and check again"),),
        )
    if ctx.prediction is not None and ctx.prediction.kept_back:
        kept = list(ctx.prediction.kept_back)
        return Finding(
            f"These packages would be kept back at their old version: {_listing(kept)}.",
            Severity.MEDIUM,
            inhibitor=_major(ctx),
            remediations=(_hint("find what holds them (apt-cache policy, held or pinned packages)"),),
            related=_packages(kept),
        )
    return None


@check("packages.held", "Held packages", ("packages",), applies=_pre)
def held(ctx: CheckContext) -> Finding | None:
    from fossp.upgrade.archive import parse_dpkg_status

    status = parse_dpkg_status(ctx.facts.dpkg_status.decode("utf-8", "replace"))
    names = sorted(name for name, fields in status.items() if str(fields.get("Status", "")).startswith("hold "))
    if not names:
        return None
    return Finding(
        f"Held packages do not move with the others: {_listing(names)}.",
        Severity.HIGH if _major(ctx) else Severity.MEDIUM,
        inhibitor=_major(ctx),
        remediations=(_command("apt-mark", "unhold", *names),),
        related=_packages(names),
    )


@check("packages.foreign", "Packages from no known archive", ("packages",), applies=lambda c: c.pre)
def foreign(ctx: CheckContext) -> Finding | None:
    names = [e.package for e in _events(ctx, EventKind.FOREIGN)]
    if not names:
        return None
    return Finding(
        f"Installed but in neither the installed nor the target release: {_listing(names)} (built locally or "
        "from a third party); the upgrade keeps them as they are and they may break.",
        Severity.MEDIUM if set(names) & ctx.role_packages else Severity.LOW,
        remediations=(_hint("get versions built for the target release from their vendor"),),
        related=_packages(names),
    )


@check("repositories.third-party", "Third-party package sources", ("repository",), applies=_pre)
def third_party(ctx: CheckContext) -> Finding | None:
    others = sorted({s.uri for s in ctx.facts.sources if not official_source(s.uri)})
    if not others:
        return None
    files = sorted({s.file for s in ctx.facts.sources if s.uri in others})
    return Finding(
        f"Sources outside the {ctx.target.family} archive: {_listing(others)} (in {', '.join(files)}). "
        "They may have no packages for the target release, or conflicting ones.",
        Severity.MEDIUM if _major(ctx) else Severity.LOW,
        remediations=(_hint("check each vendor supports the target release; disable the others for the upgrade"),),
        related=tuple(RelatedResource(scheme="file", title=f) for f in files),
    )


@check("packages.removed", "Packages the target release no longer has", ("packages",), applies=_major)
def removed(ctx: CheckContext) -> Finding | None:
    from fossp.upgrade.events import is_library

    # After the upgrade, only what apt left installed is still to remove.
    every = [e.package for e in _events(ctx, EventKind.REMOVED) if ctx.pre or e.package in ctx.facts.base.packages]
    names = [name for name in every if not is_library(name)]
    if not names:
        if not every:
            return None
        return Finding(
            f"Old libraries nothing needs after the upgrade: {_listing(every)}.",
            Severity.INFO,
            remediations=(_command("apt-get", "autoremove"),),
            related=_packages(every),
            when="after",
        )
    roles = sorted(set(names) & ctx.role_packages)
    summary = f"Gone from {ctx.target.label} with nothing replacing them: {_listing(names)}."
    if roles:
        summary += f" Role packages among them: {', '.join(roles)}."
    return Finding(
        summary,
        Severity.HIGH if roles else Severity.LOW,
        remediations=(_hint("they stay installed but get no updates; remove them after the upgrade"),),
        related=_packages(names),
        when="after",
    )


@check("packages.replaced", "Packages renamed, replaced, split or merged", ("packages",), "none", applies=_pre_major)
def replaced(ctx: CheckContext) -> Finding | None:
    kinds = (EventKind.RENAMED, EventKind.REPLACED, EventKind.SPLIT, EventKind.MERGED)
    found = _events(ctx, *kinds)
    if not found:
        return None
    moves = [f"{e.package} -> {', '.join(e.replacements) or '?'} ({e.kind.value})" for e in found]
    return Finding(
        f"The upgrade replaces these packages (apt follows the archive's Replaces): {_listing(moves, 8)}.",
        Severity.INFO,
        related=_packages([e.package for e in found]),
    )


@check("packages.major-versions", "Software moving to a new major version", ("packages",), "none", applies=_pre_major)
def major_versions(ctx: CheckContext) -> Finding | None:
    from fossp.upgrade.events import is_library

    migrated = {m.role for m in ctx.migrations}
    found = [e for e in _events(ctx, EventKind.MAJOR_VERSION) if not is_library(e.package)]
    found = [e for e in found if not any(e.package.startswith(f"{role}-") for role in migrated)]
    if not found:
        return None
    moves = [f"{e.package} {e.old_major} -> {e.new_major}" for e in found]
    return Finding(
        f"New major versions: {_listing(moves, 8)}. Programs of your own that use them may need changes.",
        Severity.INFO,
        related=_packages([e.package for e in found]),
    )


# --------------------------------------------------------------------------- roles


@check("roles.migrations", "Role data that must move to the new major version", ("databases",), "after")
def role_migrations(ctx: CheckContext) -> Finding | None:
    if not ctx.migrations:
        return None
    parts = [f"{m.role} {m.old} -> {m.new}" for m in ctx.migrations]
    remediations = [_command(*argv) for m in ctx.migrations for argv in m.commands]
    if not ctx.pre:
        remediations = [_command(*argv) for m in ctx.migrations for argv in m.after]
        return Finding(
            f"Migrated: {', '.join(parts)}. The old data is kept until you remove it: "
            + "; ".join(" ".join(argv) for m in ctx.migrations for argv in m.after)
            + ".",
            Severity.LOW,
            remediations=tuple(remediations),
        )
    return Finding(
        f"{', '.join(parts)}: {ctx.migrations[0].why} `fossp upgrade run` does this after the package upgrade "
        "with the commands below; the old data stays until you remove it.",
        Severity.MEDIUM,
        remediations=tuple(remediations),
        external=tuple(External(url=m.source, title=f"{m.role} upgrade") for m in ctx.migrations),
        related=tuple(RelatedResource(scheme="role", title=m.role) for m in ctx.migrations),
    )


@check("roles.isc-dhcp", "ISC DHCP is deprecated: move to Kea", ("network",))
def isc_dhcp(ctx: CheckContext) -> Finding | None:
    installed = ctx.facts.base.packages
    if "isc-dhcp-server" not in installed and "dhcp-server" not in installed:
        return None
    gone = any(e.package in ("isc-dhcp-server", "dhcp-server") and e.kind is EventKind.REMOVED for e in ctx.events)
    return Finding(
        f"ISC DHCP reached its end of life in 2022; its successor is Kea (role {_kea_id()})."
        + (" The target release no longer ships it." if gone else ""),
        Severity.HIGH if gone else Severity.MEDIUM,
        inhibitor=gone,
        remediations=(_hint("deploy the kea role with the same subnets, check it, then decommission isc-dhcp"),),
        external=(External(url="https://www.isc.org/dhcp/", title="ISC DHCP end of life"),),
    )


def _kea_id() -> str:
    from fossp.catalog import load_catalog

    return load_catalog().role("kea").id


@check("roles.support-end", "Roles past their support end", ("roles",))
def support_end(ctx: CheckContext) -> Finding | None:
    past = [r for r in ctx.roles if r.support_end is not None and r.support_end < ctx.today]
    if not past:
        return None
    names = [f"{r.name} ({r.role_id}, {r.support_end})" for r in past]
    return Finding(
        f"Deployed roles past their support end: {', '.join(names)}.",
        Severity.MEDIUM,
        remediations=(_hint("plan their replacement (`fossp recommend`) before relying on them after the upgrade"),),
        related=tuple(RelatedResource(scheme="role", title=r.name) for r in past),
    )


@check("roles.config", "Role configuration the new version refuses", ("services",), applies=_pre_config)
def config(ctx: CheckContext) -> Finding | None:
    failed = [c for c in ctx.config_checks if not c.ok and not c.skipped]
    skipped = [c for c in ctx.config_checks if c.skipped]
    if failed:
        lines = [f"{c.role}: `{' '.join(c.command)}` says: {c.output.strip()[-400:]}" for c in failed]
        return Finding(
            "The target release's own checker refuses this configuration, so the service would not start after "
            "the upgrade. " + " | ".join(lines),
            Severity.HIGH,
            inhibitor=True,
            remediations=(_hint("change the named settings to a form the new version accepts, then check again"),),
            related=tuple(RelatedResource(scheme="role", title=c.role) for c in failed),
        )
    if skipped:
        why = "; ".join(f"{c.role}: {c.skipped}" for c in skipped)
        return Finding(f"Could not try the configuration with the new version: {why}.", Severity.LOW)
    return None


@check("packages.news", "Upgrade notes of the new packages (NEWS.Debian)", ("packages",), applies=_pre_major)
def news(ctx: CheckContext) -> Finding | None:
    if ctx.news_error:
        return Finding(f"Could not read the new packages' upgrade notes: {ctx.news_error}", Severity.LOW)
    if not ctx.news:
        return None
    named = sorted({f"{item.package} {item.version}" for item in ctx.news})
    return Finding(
        f"The maintainers wrote {len(ctx.news)} upgrade note(s) for what this host runs: {_listing(named)}. "
        "Read them (below) before the upgrade; apt-listchanges shows the same.",
        Severity.INFO,
        remediations=tuple(_hint(f"{item.package} {item.version}: {item.text}") for item in ctx.news),
        related=_packages(sorted({item.package for item in ctx.news})),
    )


# --------------------------------------------------------------------------- the level


@check("level.reboot", "A major release needs a reboot", ("boot",), "after", applies=_pre_major)
def reboot(ctx: CheckContext) -> Finding | None:
    return Finding(
        "The new kernel, C library and systemd take effect at the next boot; `fossp upgrade run` reboots the host "
        "and checks every role's probes after it.",
        Severity.INFO,
    )


@check("level.point-release", "The archive serves the point release asked for", ("repository",), applies=_pre)
def point_release(ctx: CheckContext) -> Finding | None:
    wanted = ctx.target.point
    served = [r.version for r in ctx.archive if r.version and "." in r.version]
    if wanted is None or not served:
        return None
    newest = max(served, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit()))
    if wanted == newest:
        return None
    return Finding(
        f"{wanted} is not what the archive serves ({newest}): a service pack brings the newest point release.",
        Severity.HIGH,
        inhibitor=True,
        remediations=(_hint(f"upgrade to {newest} (--to {newest.split('.')[0]})"),),
    )


@check(
    "after.config-files",
    "Configuration files the upgrade did not overwrite",
    ("services",),
    "after",
    applies=lambda c: not c.pre,
)
def kept_config(ctx: CheckContext) -> Finding | None:
    if ctx.pre or not ctx.dist_files:
        return None
    files = list(ctx.dist_files)
    kept = [f for f in files if f.endswith(".dpkg-dist")]
    replaced = [f for f in files if f.endswith(".dpkg-old")]
    parts = [f"your changes were kept, the new versions are beside them: {_listing(kept)}"] if kept else []
    parts += [f"the new versions are in place, yours are beside them: {_listing(replaced)}"] if replaced else []
    return Finding(
        "; ".join(parts).capitalize() + ".",
        Severity.LOW,
        remediations=(_hint("compare each pair (.dpkg-dist or .dpkg-old beside the file) and merge what you want"),),
        related=tuple(RelatedResource(scheme="file", title=f) for f in files),
    )


# --------------------------------------------------------------------------- running them


def _entry(ctx: CheckContext, item: Check, finding: Finding, stamp: str, status: CheckStatus) -> Entry:
    groups = (["inhibitor"] if finding.inhibitor else []) + (["error"] if status is CheckStatus.ERROR else [])
    fields: dict[str, object] = {
        "title": item.title,
        "summary": finding.summary,
        "severity": finding.severity,
        "key": check_key(item.name),
        "groups": [*groups, *item.topics],
        "detail": Detail(
            remediations=list(finding.remediations),
            external=list(finding.external),
            related_resources=list(finding.related),
        ),
        "hostname": ctx.facts.base.hostname or ctx.facts.base.host,
        "timeStamp": stamp,
        "actor": f"fossp.{item.name}",
        "status": status,
        "when": finding.when or item.when,
    }
    return Entry(id=entry_id(fields), **fields)


def _status(finding: Finding | None) -> CheckStatus:
    if finding is None:
        return CheckStatus.PASSED
    if finding.inhibitor:
        return CheckStatus.INHIBITOR
    return CheckStatus.NEEDS_ACTION if finding.severity is not Severity.INFO else CheckStatus.PASSED


def run_checks(ctx: CheckContext, stamp: str) -> tuple[list[CheckOutcome], list[Entry]]:
    """Every check, in registration order: its outcome, and an entry for each finding."""
    outcomes: list[CheckOutcome] = []
    entries: list[Entry] = []
    for item in CHECKS:
        if not item.applies(ctx):
            outcomes.append(
                CheckOutcome(
                    name=item.name,
                    key=check_key(item.name),
                    title=item.title,
                    status=CheckStatus.NOT_APPLICABLE,
                    when=item.when,
                )
            )
            continue
        try:
            finding = item.run(ctx)
            status = _status(finding)
        except Exception as error:
            finding = Finding(f"the check failed: {type(error).__name__}: {error}", Severity.HIGH)
            status = CheckStatus.ERROR
        message = finding.summary if finding else ""
        outcomes.append(
            CheckOutcome(
                name=item.name,
                key=check_key(item.name),
                title=item.title,
                status=status,
                when=(finding.when if finding and finding.when else item.when),
                message=message,
            )
        )
        if finding is not None:
            entries.append(_entry(ctx, item, finding, stamp, status))
    return outcomes, entries
