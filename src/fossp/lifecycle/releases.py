"""Platform release data (data/releases.yaml), validated against the release-level rules."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from fossp.catalog.loader import DATA_DIR, CatalogError, parse_model, read_yaml
from fossp.lifecycle.version import ChangeKind, Level, ReleaseVersion, check_changes


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ChangeKind
    summary: str


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+(\.\d+)?$")]
    release: Annotated[str, StringConstraints(pattern=r"^\d{2}-\d{6}$")]
    release_date: date
    support_end: date | None = None
    changes: list[Change]

    @property
    def parsed(self) -> ReleaseVersion:
        return ReleaseVersion.parse(self.version)


def level_of(releases: list[Release], index: int) -> Level:
    """A release's level is what separates it from the one before (the first is major)."""
    if index == 0:
        return Level.MAJOR
    level = releases[index - 1].parsed.level_to(releases[index].parsed)
    assert level is not None
    return level


def validate_releases(releases: list[Release], source: str) -> None:
    for index, release in enumerate(releases):
        if index and not releases[index - 1].parsed < release.parsed:
            raise CatalogError(
                f"{source}: entry {index}: {release.version} does not follow {releases[index - 1].version}"
            )
        problems = check_changes(level_of(releases, index), [c.kind for c in release.changes])
        if problems:
            raise CatalogError(f"{source}: entry {index} ({release.version}): {problems[0]}")


def load_releases(path: Path = DATA_DIR / "releases.yaml") -> list[Release]:
    data = read_yaml(path)
    if not isinstance(data, list):
        raise CatalogError(f"{path.name}: expected a list of releases")
    releases = [parse_model(Release, item, f"{path.name}: entry {n}") for n, item in enumerate(data)]
    validate_releases(releases, path.name)
    return releases


@cache
def platform_releases() -> list[Release]:
    return load_releases()
