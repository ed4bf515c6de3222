"""The seed's release levels as a version type with ordering and allowed transitions.

- major release (1.0 -> 2.0): upgrades as a group, needs a reboot, cannot be downgraded;
- service pack (1.1 -> 1.2): grouped security and critical fixes, no behaviour change;
  applied as a group by preference, individual updates still possible;
- interim fix (1.1.1 -> 1.1.2): individual package updates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering

from fossp.errors import BadInput

_VERSION = re.compile(r"^(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,3})(?:\.(0|[1-9]\d{0,3}))?$")


class Level(StrEnum):
    MAJOR = "major"
    SERVICE_PACK = "service-pack"
    INTERIM_FIX = "interim-fix"


class ChangeKind(StrEnum):
    FEATURE = "feature"
    ENHANCEMENT = "enhancement"
    BEHAVIOUR = "behaviour-change"
    SECURITY = "security"
    CRITICAL = "critical-fix"
    FIX = "fix"


ALLOWED_CHANGES: dict[Level, frozenset[ChangeKind]] = {
    Level.MAJOR: frozenset(ChangeKind),
    Level.SERVICE_PACK: frozenset({ChangeKind.SECURITY, ChangeKind.CRITICAL}),
    Level.INTERIM_FIX: frozenset({ChangeKind.SECURITY, ChangeKind.CRITICAL, ChangeKind.FIX}),
}


@total_ordering
@dataclass(frozen=True)
class ReleaseVersion:
    """major.minor[.fix]; a missing fix number is 0, so 1.1 == 1.1.0."""

    major: int
    minor: int = 0
    fix: int = 0

    @classmethod
    def parse(cls, text: str) -> ReleaseVersion:
        found = _VERSION.match(text.strip())
        if not found:
            raise BadInput(f"'{text}' is not a release version (MAJOR.MINOR or MAJOR.MINOR.FIX)")
        major, minor, fix = found.groups()
        return cls(int(major), int(minor), int(fix or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.fix}" if self.fix else "")

    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.fix)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ReleaseVersion):
            return NotImplemented
        return self.key() < other.key()

    def level_to(self, other: ReleaseVersion) -> Level | None:
        """The release level that separates two versions (None when they are equal)."""
        if self.major != other.major:
            return Level.MAJOR
        if self.minor != other.minor:
            return Level.SERVICE_PACK
        if self.fix != other.fix:
            return Level.INTERIM_FIX
        return None


@dataclass(frozen=True)
class Transition:
    """What moving from one release to another means, and whether it is allowed."""

    source: ReleaseVersion
    target: ReleaseVersion
    level: Level | None
    allowed: bool
    reason: str
    reboot: bool = False
    group_update: str = "none"  # "required", "preferred" or "none"

    @property
    def downgrade(self) -> bool:
        return self.target < self.source

    def as_dict(self) -> dict[str, object]:
        return {
            "from": str(self.source),
            "to": str(self.target),
            "level": self.level.value if self.level else None,
            "allowed": self.allowed,
            "downgrade": self.downgrade,
            "reboot": self.reboot,
            "group_update": self.group_update,
            "reason": self.reason,
        }


def _major(source: ReleaseVersion, target: ReleaseVersion) -> Transition:
    if target < source:
        reason = "a major release cannot be downgraded; restore the pre-upgrade snapshot instead"
        return Transition(source, target, Level.MAJOR, False, reason, True, "required")
    if target.major != source.major + 1:
        reason = f"upgrade one major release at a time: {source.major}.x -> {source.major + 1}.x first"
        return Transition(source, target, Level.MAJOR, False, reason, True, "required")
    reason = "major release: upgrade everything as a group, then reboot"
    return Transition(source, target, Level.MAJOR, True, reason, True, "required")


def transition(source: ReleaseVersion, target: ReleaseVersion) -> Transition:
    """Classify and judge a move between releases (the rules are in the module docstring)."""
    level = source.level_to(target)
    if level is None:
        return Transition(source, target, None, True, "already at this release")
    if level is Level.MAJOR:
        return _major(source, target)
    direction = "roll back" if target < source else "apply"
    if level is Level.SERVICE_PACK:
        reason = f"service pack: {direction} security and critical fixes as a group (individual updates possible)"
        return Transition(source, target, level, True, reason, False, "preferred")
    reason = f"interim fix: {direction} individual package updates"
    return Transition(source, target, level, True, reason, False, "none")


def check_changes(level: Level, kinds: list[ChangeKind]) -> list[str]:
    """Changes a release of ``level`` may not contain (a service pack adds no feature)."""
    allowed = ALLOWED_CHANGES[level]
    return [f"a {level.value} cannot contain a {kind.value} change" for kind in kinds if kind not in allowed]
