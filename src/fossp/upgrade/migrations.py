"""Role data migrations (data/upgrade/migrations.yaml): when one is needed, and its commands.

Which migration a host needs is a pure function of the package events and the host's
facts, so the report and the run share it: the report shows the commands, the run
executes exactly those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fossp.catalog.loader import DATA_DIR, parse_model, read_yaml
from fossp.upgrade.facts import UpgradeFacts
from fossp.upgrade.model import EventKind, PackageEvent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Detect(_Strict):
    """``stem``: a versioned package name moves (postgresql-15 -> postgresql-17);
    ``version``: one package's version moves across ``pattern``'s first group."""

    kind: Literal["stem", "version"]
    package: str
    pattern: str = ""


Argv = Annotated[list[str], Field(min_length=1)]


class FamilySteps(_Strict):
    per_cluster: bool = False
    packages: list[str] = []
    run: list[Argv]
    after: list[Argv] = []
    source: str


class Migration(_Strict):
    role: str
    why: str
    detect: Detect
    debian: FamilySteps | None = None
    fedora: FamilySteps | None = None


@cache
def migrations() -> list[Migration]:
    path = DATA_DIR / "upgrade" / "migrations.yaml"
    data = read_yaml(path)
    return [parse_model(Migration, item, f"{path.name}: entry {n}") for n, item in enumerate(data)]


@dataclass(frozen=True)
class PlannedMigration:
    """One migration this host needs, with the argv lists filled in."""

    role: str
    why: str
    old: str
    new: str
    packages: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]
    after: tuple[tuple[str, ...], ...]
    source: str
    clusters: tuple[str, ...] = ()

    def summary(self) -> dict[str, object]:
        return {
            "role": self.role,
            "from": self.old,
            "to": self.new,
            "packages": list(self.packages),
            "commands": [list(c) for c in self.commands],
            "after": [list(c) for c in self.after],
            "source": self.source,
        }


def _fill(argv: list[str], values: dict[str, str]) -> tuple[str, ...]:
    return tuple(item.format(**values) for item in argv)


def _expand(steps: list[list[str]], old: str, new: str, clusters: list[str]) -> tuple[tuple[str, ...], ...]:
    """Per-cluster steps for every cluster first, then the others once (purge after the last drop)."""
    per_cluster = [argv for argv in steps if any("{cluster}" in item for item in argv)]
    once = [argv for argv in steps if argv not in per_cluster]
    filled = [_fill(argv, {"old": old, "new": new, "cluster": c}) for c in clusters for argv in per_cluster]
    filled += [_fill(argv, {"old": old, "new": new, "cluster": ""}) for argv in once]
    return tuple(dict.fromkeys(filled))


def _versions(migration: Migration, events: list[PackageEvent]) -> tuple[str, str] | None:
    detect = migration.detect
    for event in events:
        stem_moves = detect.kind == "stem" and event.kind is EventKind.MAJOR_VERSION
        if stem_moves and event.package.startswith(f"{detect.package}-") and event.old_major and event.new_major:
            return event.old_major, event.new_major
        if detect.kind == "version" and event.package == detect.package and event.target_version:
            old = re.search(detect.pattern, event.installed_version)
            new = re.search(detect.pattern, event.target_version)
            if old and new and old.group(1) != new.group(1):
                return old.group(1), new.group(1)
    return None


def plan_migrations(
    roles: set[str], family: str, events: list[PackageEvent], facts: UpgradeFacts
) -> list[PlannedMigration]:
    """The migrations the deployed ``roles`` need for these events (pure)."""
    planned = []
    for migration in migrations():
        steps = getattr(migration, family, None)
        versions = _versions(migration, events)
        if migration.role not in roles or steps is None or versions is None:
            continue
        old, new = versions
        clusters = [c.name for c in facts.pg_clusters if c.version == old] if steps.per_cluster else [""]
        if not clusters:
            continue  # no data of the old version on this host: nothing to move
        commands = _expand(steps.run, old, new, clusters)
        after = _expand(steps.after, old, new, clusters)
        planned.append(
            PlannedMigration(
                migration.role,
                migration.why,
                old,
                new,
                tuple(steps.packages),
                commands,
                after,
                steps.source,
                tuple(c for c in clusters if c),
            )
        )
    return planned
