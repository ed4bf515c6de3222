"""OS releases and upgrade targets: what `--to` and `--level` mean for a host.

FOSSP's release levels map onto the family's own releases:

- a **major release** is the next OS release (Debian 12 -> 13), upgraded as a group, then
  a reboot and the roles' data migrations; no downgrade, no skipped release;
- a **service pack** is the installed release brought to its newest point release with
  its security and stable updates, applied as a group (Debian 12.x -> 12.y);
- an **interim fix** is a named set of package updates within the installed release
  (``--package openssl``: the binaries of that source package and nothing else).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fossp.catalog.loader import DATA_DIR, parse_model, read_yaml
from fossp.errors import BadInput
from fossp.lifecycle.version import Level
from fossp.upgrade.model import AptSource, SuiteSpec

PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,99}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceData(_Strict):
    uri: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    suites: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]] = Field(min_length=1)
    components: list[str] = ["main"]


class OsRelease(_Strict):
    """One release of a family, with its support dates and its apt sources."""

    version: Annotated[str, StringConstraints(pattern=r"^\d+$")]
    codename: str
    released: date | None = None  # None: not released yet (testing)
    security_end: date | None = None
    lts_end: date | None = None
    sources: list[SourceData] = Field(min_length=1)
    source: str

    @property
    def major(self) -> int:
        return int(self.version)

    def spec(self, family: str) -> SuiteSpec:
        sources = tuple(AptSource(s.uri, tuple(s.suites), tuple(s.components)) for s in self.sources)
        return SuiteSpec(key=f"{family}-{self.version}", sources=sources)


class FamilyReleases(_Strict):
    family: str
    releases: list[OsRelease] = Field(min_length=1)

    def find(self, text: str) -> OsRelease | None:
        """A release by version (``13``), codename (``trixie``) or ``debian-13``."""
        name = text.strip().lower().removeprefix(f"{self.family}-").removeprefix(f"{self.family} ")
        major = name.split(".")[0]
        return next((r for r in self.releases if major in (r.version, r.codename)), None)


def _fedora_releases() -> FamilyReleases:
    """Fedora's releases come from the recorded data (recorded.py); its archive is not reachable here."""
    from fossp.upgrade.recorded import fedora_releases

    mirror = "https://dl.fedoraproject.org/pub/fedora/linux/releases/{}/Everything/x86_64/os/"
    releases = [
        OsRelease(
            version=str(r.major),
            codename=f"f{r.major}",
            released=r.released,
            security_end=r.eol,
            sources=[SourceData(uri=mirror.format(r.major), suites=["fedora"])],
            source=r.source,
        )
        for r in fedora_releases()
    ]
    return FamilyReleases(family="fedora", releases=releases)


@cache
def family_releases(family: str) -> FamilyReleases:
    if family == "fedora":
        return _fedora_releases()
    path = DATA_DIR / "upgrade" / f"{family}.yaml"
    if not path.exists():
        raise BadInput(f"upgrades: no release data for the {family} family (have: debian)")
    return parse_model(FamilyReleases, read_yaml(path), path.name)


@dataclass(frozen=True)
class Target:
    """Where an upgrade goes: the release, the level, and for an interim fix its packages."""

    family: str
    current: OsRelease
    release: OsRelease
    level: Level
    point: str | None = None  # a service pack's wanted point release ("12.16"), None: the newest
    packages: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        if self.level is Level.INTERIM_FIX:
            return f"{self.family} {self.release.version} interim fix ({', '.join(self.packages)})"
        if self.level is Level.SERVICE_PACK:
            return f"{self.family} {self.point or self.release.version} service pack"
        return f"{self.family} {self.release.version} ({self.release.codename})"

    @property
    def reboot(self) -> bool:
        return self.level is Level.MAJOR

    def summary(self) -> dict[str, object]:
        return {
            "family": self.family,
            "from": self.current.version,
            "to": self.release.version,
            "codename": self.release.codename,
            "level": self.level.value,
            "point": self.point,
            "packages": list(self.packages),
            "reboot": self.reboot,
            "label": self.label,
        }


def _level(text: str | None) -> Level | None:
    if text is None:
        return None
    try:
        return Level(text)
    except ValueError:
        names = ", ".join(level.value for level in Level)
        raise BadInput(f"--level {text!r}: not a release level (choose {names})") from None


def _packages(names: list[str]) -> tuple[str, ...]:
    for name in names:
        if not PACKAGE_NAME.fullmatch(name):
            raise BadInput(f"--package {name!r}: not a package name")
    return tuple(dict.fromkeys(names))


def resolve_target(
    family: str, installed: str, to: str | None, level: str | None = None, packages: list[str] | None = None
) -> Target:
    """Judge ``--to``/``--level``/``--package`` against the installed release (BadInput if wrong)."""
    data = family_releases(family)
    current = data.find(installed)
    if current is None:
        raise BadInput(f"upgrades: the installed release {family} {installed!r} is not in the release data")
    wanted_level = _level(level)
    names = _packages(packages or [])
    release = _wanted_release(data, current, to, wanted_level)
    derived = _derived_level(current, release, names)
    if wanted_level is not None and wanted_level is not derived:
        raise BadInput(f"--level {wanted_level.value} does not match --to {to!r}: that is a {derived.value}")
    if derived is Level.MAJOR and to is not None and "." in to:
        raise BadInput(f"--to {to!r}: a major release is named by its number alone (--to {release.version})")
    if names and derived is not Level.INTERIM_FIX:
        raise BadInput("--package names an interim fix: it stays within the installed release")
    point = _point(to, current, installed) if derived is Level.SERVICE_PACK else None
    return Target(family, current, release, derived, point, names)


def _wanted_release(data: FamilyReleases, current: OsRelease, to: str | None, level: Level | None) -> OsRelease:
    if to is None:
        if level is None:
            raise BadInput("say where to go: --to RELEASE or --level major|service-pack|interim-fix")
        if level is not Level.MAJOR:
            return current
        following = [r for r in data.releases if r.major == current.major + 1]
        if not following or following[0].released is None:
            raise BadInput(f"no major release after {data.family} {current.version} in the release data")
        return following[0]
    release = data.find(to)
    if release is None:
        known = ", ".join(f"{r.version} ({r.codename})" for r in data.releases)
        raise BadInput(f"--to {to!r}: unknown {data.family} release (known: {known})")
    if release.major < current.major:
        raise BadInput(f"--to {to!r}: a downgrade from {data.family} {current.version}; restore a snapshot instead")
    if release.released is None:
        raise BadInput(f"--to {to!r}: {data.family} {release.version} ({release.codename}) is not released yet")
    if release.major > current.major + 1:
        raise BadInput(f"--to {to!r}: skips a major release; upgrade to {data.family} {current.major + 1} first")
    return release


def _derived_level(current: OsRelease, release: OsRelease, packages: tuple[str, ...]) -> Level:
    if release.major > current.major:
        return Level.MAJOR
    return Level.INTERIM_FIX if packages else Level.SERVICE_PACK


def _point(to: str | None, current: OsRelease, installed: str) -> str | None:
    """``12.16`` as a service pack: never below the installed point release."""
    if to is None or "." not in to:
        return None
    wanted = re.split(r"[\s-]", to.strip().lower())[-1]
    if not re.fullmatch(rf"{current.version}\.\d+", wanted):
        raise BadInput(f"--to {to!r}: a point release is written {current.version}.N")
    if "." in installed and int(wanted.split(".")[1]) < int(installed.split(".")[1]):
        raise BadInput(f"--to {to!r}: a downgrade from {installed}; restore a snapshot instead")
    return wanted
