"""Types shared by the upgrade stages: archive metadata, predictions, package events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class AptSource:
    """One deb822 source: a mirror, its suites and components."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...] = ("main",)


@dataclass(frozen=True)
class SuiteSpec:
    """The apt sources of one release, e.g. ``debian-13``: bookworm or trixie and its updates."""

    key: str  # stable folder name: debian-12, debian-13
    sources: tuple[AptSource, ...]
    architecture: str = "amd64"


@dataclass(frozen=True)
class PackageRecord:
    """One binary package of an archive index (the newest version when several exist)."""

    name: str
    version: str
    source: str  # source package name (the binary's own name when the index has none)
    source_version: str
    suite: str  # the suite (Release "Suite") the record came from: trixie, bookworm-security
    depends: tuple[str, ...] = ()  # alternatives kept as written: "libc6 (>= 2.36) | libc6.1"
    pre_depends: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()  # names only, versions dropped
    replaces: tuple[str, ...] = ()  # names only
    conflicts: tuple[str, ...] = ()  # Conflicts and Breaks, names only
    size: int = 0  # bytes of the .deb
    installed_size: int = 0  # KiB, as in the index
    section: str = ""
    priority: str = ""
    summary: str = ""  # the first line of Description

    @property
    def transitional(self) -> bool:
        """Debian marks renamed packages with an empty 'transitional' package."""
        text = self.summary.lower()
        return "transitional" in text or "dummy package" in text


@dataclass(frozen=True)
class ReleaseInfo:
    """A suite's Release file: what the archive says it serves."""

    suite: str
    codename: str
    version: str  # "13", "12.15", "" for updates suites without one
    date: str  # as written in Release, RFC 2822
    origin: str = ""
    label: str = ""


@dataclass(frozen=True)
class ArchiveIndex:
    """Everything a release's archive offers, newest version per package name."""

    key: str
    packages: dict[str, PackageRecord]
    releases: tuple[ReleaseInfo, ...]
    fetched_at: str  # ISO 8601 UTC of the `apt-get update` that produced it

    def providers(self, name: str) -> list[PackageRecord]:
        """Packages that provide ``name`` (the package itself excluded)."""
        return [record for record in self.packages.values() if name in record.provides]


@dataclass(frozen=True)
class Prediction:
    """What apt says an upgrade would do, simulated on the controller against the host's dpkg status."""

    upgraded: tuple[tuple[str, str, str], ...] = ()  # (name, installed version, new version)
    installed: tuple[tuple[str, str], ...] = ()  # (name, version): new packages
    removed: tuple[str, ...] = ()
    kept_back: tuple[str, ...] = ()  # "The following packages have been kept back"
    download_bytes: int = 0
    installed_size_delta_kib: int = 0  # target Installed-Size minus current (an estimate)

    @property
    def empty(self) -> bool:
        return not (self.upgraded or self.installed or self.removed)


class EventKind(StrEnum):
    """How a package installed on the host fares in the target release."""

    UPGRADED = "upgraded"  # same name, newer version
    REMOVED = "removed"  # gone from the target, nothing takes its place
    RENAMED = "renamed"  # the target's package of that name is transitional: replacement in `replacements`
    REPLACED = "replaced"  # gone, and target packages Replace it (and Provide or Conflict with it)
    SPLIT = "split"  # replaced by several packages
    MERGED = "merged"  # several installed packages replaced by one
    MAJOR_VERSION = "major-version"  # versioned name moves: postgresql-15 -> postgresql-17
    DOWNGRADED = "downgraded"  # the target has an older version than installed
    FOREIGN = "foreign"  # in neither the current nor the target archive (local or third-party)


@dataclass(frozen=True)
class PackageEvent:
    """One installed package's fate, with the evidence from the archive metadata."""

    kind: EventKind
    package: str
    installed_version: str
    target_version: str | None = None
    replacements: tuple[str, ...] = ()
    old_major: str | None = None  # MAJOR_VERSION only: "15"
    new_major: str | None = None  # "17"
    evidence: str = ""  # one line: which field of which index says so
    source: str = ""  # where the data came from (archive suite, or a recorded file and date)


@dataclass(frozen=True)
class ConfigCheck:
    """A role's configuration tried with the target release's own checker."""

    role: str
    command: tuple[str, ...]
    ok: bool
    output: str = ""
    skipped: str = ""  # why it could not run (then ok is False and output empty)
