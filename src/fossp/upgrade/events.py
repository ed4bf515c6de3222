"""What happens to each installed package in the target release: pure functions of the indexes.

The rules, in order, for a package installed on the host:

1. in neither the current nor the target archive: FOREIGN (needs ``current``);
2. in the target: RENAMED when the target's package of that name is newly transitional,
   else UPGRADED or DOWNGRADED by Debian version order (unchanged: no event);
3. gone from the target, with a versioned name whose stem the target has with another
   number: MAJOR_VERSION (postgresql-15 -> postgresql-17, libicu72 -> libicu76);
4. gone, and target packages Replace it while they Provide it or Conflict with/Break it:
   REPLACED, SPLIT (several packages) or MERGED (one package takes several installed ones);
5. gone and nothing takes its place: REMOVED.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from debian.debian_support import Version

from fossp.upgrade.model import ArchiveIndex, EventKind, PackageEvent, PackageRecord

# stem, optional '-', a version number, an optional '-suffix' starting with a letter:
# postgresql-15, postgresql-client-15, postgresql-15-postgis-3, python3.11, libicu72,
# gcc-12-base, mariadb-server-10.11, libperl5.36, libapt-pkg6.0.
_VERSIONED = re.compile(
    r"^(?P<stem>[a-z][a-z0-9+.-]*?[a-z+])-?(?P<number>\d+(?:\.\d+)*)(?P<suffix>-[a-z][a-z0-9+.-]*)?$"
)
_T64 = "t64"  # Debian 13's 64-bit time_t rename: libfoo1 -> libfoo1t64 (same number)


@dataclass(frozen=True)
class Versioned:
    """A package name read as stem + number + suffix."""

    stem: str
    number: str
    suffix: str = ""


def versioned(name: str) -> Versioned | None:
    """``postgresql-15`` -> (postgresql, 15); ``libssl3t64`` -> (libssl, 3); None when unversioned."""
    if name.endswith(_T64) and name[-4:-3].isdigit():
        name = name.removesuffix(_T64)
    match = _VERSIONED.match(name)
    if match is None:
        return None
    return Versioned(match["stem"], match["number"], match["suffix"] or "")


def is_library(name: str) -> bool:
    """Shared libraries (lib* with a SONAME-like number): their major changes are routine."""
    if not name.startswith("lib") or name.startswith(("libreoffice", "libvirt")):
        return False
    if not any(char.isdigit() for char in name):
        return False
    return not name.endswith(("-bin", "-utils", "-tools", "-doc", "-dev", "-perl", "-common", "-data"))


def package_events(
    installed: dict[str, str],
    target: ArchiveIndex,
    current: ArchiveIndex | None = None,
    source_label: str = "",
) -> list[PackageEvent]:
    """One event at most per installed package (name -> version), sorted by package name."""
    facts = _Facts(target, current, source_label or target.key, bool(source_label))
    gone = {_base(name) for name in installed if _base(name) not in target.packages}
    facts.replacers = _replacers(target, gone)
    if any(versioned(name) for name in gone):
        facts.by_stem = _by_stem(target)
    events = [_event(name, installed[name], facts) for name in sorted(installed)]
    return [event for event in events if event is not None]


@dataclass
class _Facts:
    """What every package's rule reads, computed once per call."""

    target: ArchiveIndex
    current: ArchiveIndex | None
    label: str
    labelled: bool  # the caller named the source: it wins over the record's suite
    replacers: dict[str, list[PackageRecord]] = field(default_factory=dict)
    by_stem: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


def _base(name: str) -> str:
    """``libc6:i386`` -> ``libc6``: the archive knows packages by name, not by architecture."""
    return name.split(":", 1)[0]


def _event(name: str, version: str, facts: _Facts) -> PackageEvent | None:
    base, target, current = _base(name), facts.target, facts.current
    if current is not None and base not in current.packages and base not in target.packages:
        evidence = f"{base} is in neither the {current.key} nor the {target.key} archive"
        return PackageEvent(EventKind.FOREIGN, name, version, evidence=evidence, source=facts.label)
    record = target.packages.get(base)
    if record is not None:
        label = facts.label if facts.labelled else record.suite or facts.label
        return _present(name, version, record, current, target.key, label)
    return _major(name, version, facts) or _replaced(name, version, facts)


def _present(
    name: str, version: str, record: PackageRecord, current: ArchiveIndex | None, key: str, label: str
) -> PackageEvent | None:
    """A package the target still has: renamed (newly transitional), newer, older or the same."""
    order = _compare(version, record.version)
    was_transitional = (
        current is not None and (old := current.packages.get(record.name)) is not None and old.transitional
    )
    if record.transitional and order != 0 and not was_transitional:
        replacements = tuple(_first_names(record.depends)) or tuple(_first_names(record.pre_depends))
        evidence = (
            f"{key} {record.name} {record.version} is {record.summary!r} and depends on {', '.join(replacements)}"
        )
        return PackageEvent(
            EventKind.RENAMED, name, version, record.version, replacements, evidence=evidence, source=label
        )
    if order == 0:
        return None
    kind = EventKind.UPGRADED if order < 0 else EventKind.DOWNGRADED
    evidence = f"{key} has {record.name} {record.version} ({record.suite}), installed {version}"
    return PackageEvent(kind, name, version, record.version, evidence=evidence, source=label)


def _compare(a: str, b: str) -> int:
    """Debian version order: negative when ``a`` is older than ``b``."""
    try:
        first, second = Version(a), Version(b)
    except ValueError:
        return (a > b) - (a < b)
    return (first > second) - (first < second)


def _first_names(relations: Iterable[str]) -> list[str]:
    """The first alternative's package name of each relation: ``a (>= 1) | b`` -> ``a``."""
    names = []
    for relation in relations:
        name = relation.split("|", 1)[0].strip().split(" ", 1)[0].split("(", 1)[0].split(":", 1)[0]
        if name:
            names.append(name)
    return list(dict.fromkeys(names))


def _major(name: str, version: str, facts: _Facts) -> PackageEvent | None:
    """A versioned name gone from the target while the same stem has another number there."""
    shape = versioned(_base(name))
    if shape is None:
        return None
    same = facts.by_stem.get((shape.stem, shape.suffix), {})
    candidates = {other: number for other, number in same.items() if number != shape.number}
    if not candidates:
        return None
    target = facts.target
    chosen, via = _preferred(shape, candidates, target)
    record = target.packages[chosen]
    said = f"{via} depends on {chosen} {record.version}" if via else f"it has {chosen} {record.version}"
    return PackageEvent(
        EventKind.MAJOR_VERSION,
        name,
        version,
        record.version,
        (chosen,),
        old_major=shape.number,
        new_major=candidates[chosen],
        evidence=f"{_base(name)} is not in {target.key}; {said}",
        source=facts.label,
    )


def _by_stem(target: ArchiveIndex) -> dict[tuple[str, str], dict[str, str]]:
    """(stem, suffix) -> {name: number} over the target's versioned names."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for name in target.packages:
        shape = versioned(name)
        if shape is not None:
            found.setdefault((shape.stem, shape.suffix), {})[name] = shape.number
    return found


def _preferred(shape: Versioned, candidates: dict[str, str], target: ArchiveIndex) -> tuple[str, str]:
    """The candidate the unversioned metapackage depends on (postgresql -> postgresql-17), else the newest."""
    major = shape.number.split(".", 1)[0]
    for meta in dict.fromkeys((shape.stem + shape.suffix, shape.stem + major + shape.suffix)):
        record = target.packages.get(meta)
        if record is None:
            continue
        for dependency in _first_names((*record.depends, *record.pre_depends)):
            if dependency in candidates:
                return dependency, meta
    return max(candidates, key=lambda name: Version(candidates[name])), ""


def _replacers(target: ArchiveIndex, names: set[str]) -> dict[str, list[PackageRecord]]:
    """Gone name -> target packages that Replace it and Provide it or Conflict with/Break it."""
    found: dict[str, list[PackageRecord]] = {}
    if not names:
        return found
    for record in target.packages.values():
        for name in names.intersection(record.replaces):
            if name in record.provides or name in record.conflicts:
                found.setdefault(name, []).append(record)
    return {name: sorted(records, key=lambda r: r.name) for name, records in found.items()}


def _replaced(name: str, version: str, facts: _Facts) -> PackageEvent:
    """REPLACED, SPLIT or MERGED when something takes the gone package's place, else REMOVED."""
    base, key = _base(name), facts.target.key
    records = facts.replacers.get(base, [])
    if not records:
        evidence = f"{base} is not in {key} and no package there Replaces it"
        return PackageEvent(EventKind.REMOVED, name, version, evidence=evidence, source=facts.label)
    names = tuple(r.name for r in records)
    if len(records) > 1:
        evidence = f"{base} is not in {key}; {', '.join(names)} Replace it"
        return PackageEvent(EventKind.SPLIT, name, version, None, names, evidence=evidence, source=facts.label)
    record = records[0]
    taken = sorted(gone for gone, by in facts.replacers.items() if record in by)
    kind = EventKind.MERGED if len(taken) > 1 else EventKind.REPLACED
    evidence = f"{base} is not in {key}; {record.name} {record.version} Replaces {', '.join(taken)}"
    return PackageEvent(kind, name, version, record.version, names, evidence=evidence, source=facts.label)


def major_changes(events: Iterable[PackageEvent], prefixes: Iterable[str] = ()) -> list[PackageEvent]:
    """MAJOR_VERSION events, only those of packages starting with one of ``prefixes`` when given."""
    wanted = tuple(prefixes)
    return [
        event
        for event in events
        if event.kind is EventKind.MAJOR_VERSION and (not wanted or event.package.startswith(wanted))
    ]


def major_change_of(events: Iterable[PackageEvent], stem: str) -> PackageEvent | None:
    """The major change of the unsuffixed ``stem`` package: ``postgresql`` finds postgresql-15 -> 17."""
    for event in major_changes(events):
        shape = versioned(_base(event.package))
        if shape is not None and shape.stem == stem and not shape.suffix:
            return event
    return None
