"""Fedora package events between releases, recorded from Fedora's own pages.

FOSSP computes the Debian family's events from the archive metadata. Fedora mirrors are out
of reach, so the Fedora family's events are a data file (``data/upgrade/fedora.yaml``)
recorded by hand from Fedora's Change pages, release notes and package pages; each entry
names its source URL and the date it was recorded. This module validates that file and turns
it into :class:`~fossp.upgrade.model.PackageEvent` objects for the packages a host has
installed. It is pure: no network, no host access.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from fossp.catalog.loader import DATA_DIR, CatalogError, parse_model, read_yaml
from fossp.errors import BadInput
from fossp.upgrade.model import EventKind, PackageEvent

FEDORA_DATA = DATA_DIR / "upgrade" / "fedora.yaml"

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
PackageName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")]
ReleaseNumber = Annotated[str, StringConstraints(pattern=r"^\d+$")]
Series = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)*$")]  # "16", "10.11", "3.13"
Line = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

# Kinds that name what takes the package's place, and kinds that must not.
_NEEDS_REPLACEMENTS = {EventKind.RENAMED, EventKind.REPLACED, EventKind.SPLIT, EventKind.MERGED}
_NOT_RECORDABLE = {EventKind.FOREIGN}  # a property of the host, not of a release


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Sourced(_Strict):
    source: Url
    see_also: list[Url] = []
    recorded: date  # the day the source was read
    published: date | None = None  # the date the source itself shows, when it shows one


class FedoraRelease(_Sourced):
    """One Fedora release: when it came out and when its updates end."""

    version: ReleaseNumber
    released: date
    eol: date | None = None  # None: not recorded (unknown, or sources disagree: see `note`)
    note: str = ""

    @property
    def major(self) -> int:
        return int(self.version)


class Procedure(_Sourced):
    """A documented upgrade procedure, step by step as the source gives it."""

    title: Line
    steps: list[Line] = Field(min_length=1)


class RecordedEvent(_Sourced):
    """What happens to some packages of the source release in the target release."""

    kind: EventKind
    packages: list[PackageName] = Field(min_length=1)  # binary package names on the source release
    from_version: Series | None = None  # the installed series this applies to ("15"); None: any
    to_version: Series | None = None  # the target's series ("16"), only when the source says so
    replacements: list[PackageName] = []  # what takes the place (renamed, replaced, split, merged)
    alternatives: list[PackageName] = []  # target packages that keep the old series, if wanted
    procedure: str | None = None  # key into the file's `procedures`
    note: Line  # one line, in our words

    @model_validator(mode="after")
    def _consistent(self) -> RecordedEvent:
        if self.kind in _NOT_RECORDABLE:
            raise ValueError(f"'{self.kind.value}' is found on a host, not recorded for a release")
        if self.kind is EventKind.MAJOR_VERSION and not (self.from_version and self.to_version):
            raise ValueError("a major-version event needs from_version and to_version")
        if self.kind in _NEEDS_REPLACEMENTS and not self.replacements:
            raise ValueError(f"a {self.kind.value} event needs replacements")
        if self.kind is EventKind.REMOVED and self.replacements:
            raise ValueError("a removed event has no replacements (use replaced)")
        if self.kind is EventKind.MERGED and len(self.replacements) != 1:
            raise ValueError("a merged event has exactly one replacement")
        if len(set(self.packages)) != len(self.packages):
            raise ValueError("a package is named twice")
        return self

    def applies_to(self, installed_version: str) -> bool:
        """Whether the installed version is in the series the event is about."""
        return self.from_version is None or in_series(installed_version, self.from_version)


class Notice(_Sourced):
    """Something to know about a transition that is not a package's fate (a deprecation, a default)."""

    packages: list[PackageName] = []  # empty: it concerns every host
    replacements: list[PackageName] = []  # the recommended successor, if any
    procedure: str | None = None
    note: Line


class Transition(_Strict):
    """The events from one Fedora release to the next."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source_release: ReleaseNumber = Field(alias="from")
    target_release: ReleaseNumber = Field(alias="to")
    events: list[RecordedEvent] = []
    notices: list[Notice] = []

    @property
    def label(self) -> str:
        return f"{self.source_release} -> {self.target_release}"


class FedoraData(_Strict):
    family: Annotated[str, StringConstraints(pattern=r"^fedora$")]
    recorded_by: Line
    releases: list[FedoraRelease] = Field(min_length=1)
    procedures: dict[str, Procedure] = {}
    transitions: list[Transition] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_check(self) -> FedoraData:
        versions = [r.major for r in self.releases]
        if versions != sorted(set(versions)):
            raise ValueError("releases must be listed once each, oldest first")
        known = {r.version for r in self.releases}
        seen: set[tuple[str, str]] = set()
        for transition in self.transitions:
            where = f"transition {transition.label}"
            for end in (transition.source_release, transition.target_release):
                if end not in known:
                    raise ValueError(f"{where}: release {end} is not in releases")
            if int(transition.target_release) != int(transition.source_release) + 1:
                raise ValueError(f"{where}: a transition goes to the next release")
            if (transition.source_release, transition.target_release) in seen:
                raise ValueError(f"{where}: listed twice")
            seen.add((transition.source_release, transition.target_release))
            keys: set[tuple[str, EventKind]] = set()
            referenced = [e.procedure for e in transition.events] + [n.procedure for n in transition.notices]
            for procedure in referenced:
                if procedure is not None and procedure not in self.procedures:
                    raise ValueError(f"{where}: unknown procedure '{procedure}'")
            for event in transition.events:
                for package in event.packages:
                    if (package, event.kind) in keys:
                        raise ValueError(f"{where}: {package} has two '{event.kind.value}' events")
                    keys.add((package, event.kind))
        return self

    def release(self, text: str) -> FedoraRelease | None:
        number = release_number(text)
        return next((r for r in self.releases if r.version == number), None)

    def transition(self, source_release: str, target_release: str) -> Transition | None:
        wanted = (release_number(source_release), release_number(target_release))
        return next((t for t in self.transitions if (t.source_release, t.target_release) == wanted), None)


_RELEASE_PREFIX = re.compile(r"^(?:fedora(?:[-_ ]?linux)?[-_ ]?|fc|f)", re.IGNORECASE)


def release_number(text: str) -> str:
    """``40``, ``f40``, ``fc40``, ``fedora-40`` and ``Fedora 40`` all name release ``40``."""
    return _RELEASE_PREFIX.sub("", text.strip()).strip()


_EPOCH = re.compile(r"^\d+:")


def in_series(version: str, series: str) -> bool:
    """``16.3-8.fc42`` and ``3:10.11.6-3.fc40`` are in series ``16`` and ``10.11``; ``10.50`` is not in ``10.5``."""
    plain = _EPOCH.sub("", version.strip())
    return plain == series or (plain.startswith(series) and plain[len(series)] in ".-_+~^")


def load_fedora_data(path: Path = FEDORA_DATA) -> FedoraData:
    data: Any = read_yaml(path)
    if not isinstance(data, dict):
        raise CatalogError(f"{path.name}: expected a mapping with family, releases and transitions")
    return parse_model(FedoraData, data, path.name)


@cache
def fedora_data() -> FedoraData:
    """The packaged Fedora data, validated once."""
    return load_fedora_data()


def fedora_releases() -> list[FedoraRelease]:
    """The Fedora releases FOSSP has recorded data for, oldest first."""
    return list(fedora_data().releases)


def fedora_transition(source_release: str, target_release: str, data: FedoraData | None = None) -> Transition:
    """The recorded transition between two consecutive releases; BadInput when there is none."""
    data = data if data is not None else fedora_data()
    found = data.transition(source_release, target_release)
    if found is None:
        have = ", ".join(t.label for t in data.transitions)
        raise BadInput(
            f"no recorded Fedora data for {release_number(source_release)} -> {release_number(target_release)} "
            f"(recorded: {have})"
        )
    return found


def _evidence(item: _Sourced) -> str:
    return f"recorded {item.recorded.isoformat()} from {item.source}"


def recorded_events(
    installed: dict[str, str],
    source_release: str,
    target_release: str,
    data: FedoraData | None = None,
) -> list[PackageEvent]:
    """The recorded events that concern the host's installed packages, sorted by package.

    ``installed`` maps package names to installed versions (``rpm -q --qf '%{NAME} %{VERSION}'``;
    an epoch prefix is ignored). Only the one transition is looked at: the caller refuses
    upgrades that skip a release. An event with a ``from_version`` only applies when the
    installed version is in that series (a host already moved on gets nothing).
    """
    transition = fedora_transition(source_release, target_release, data)
    events: list[PackageEvent] = []
    for event in transition.events:
        for package in event.packages:
            version = installed.get(package)
            if version is None or not event.applies_to(version):
                continue
            major = event.kind is EventKind.MAJOR_VERSION
            events.append(
                PackageEvent(
                    kind=event.kind,
                    package=package,
                    installed_version=version,
                    target_version=event.to_version,
                    replacements=tuple(event.replacements),
                    old_major=event.from_version if major else None,
                    new_major=event.to_version if major else None,
                    evidence=_evidence(event),
                    source=event.source,
                )
            )
    return sorted(events, key=lambda e: (e.package, e.kind.value))


def recorded_notices(
    installed: dict[str, str],
    source_release: str,
    target_release: str,
    data: FedoraData | None = None,
) -> list[Notice]:
    """The transition's notices for this host: those naming an installed package, and the general ones."""
    transition = fedora_transition(source_release, target_release, data)
    return [n for n in transition.notices if not n.packages or any(p in installed for p in n.packages)]
