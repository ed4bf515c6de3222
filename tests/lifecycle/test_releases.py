"""Release data is validated against the release-level rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from fossp.catalog import CatalogError
from fossp.lifecycle.releases import level_of, load_releases, platform_releases


def test_packaged_releases_load() -> None:
    releases = platform_releases()
    assert releases[0].version == "1.0" and releases[0].release == "01-112615"
    assert level_of(releases, 0).value == "major"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "releases.yaml"
    path.write_text(text)
    return path


BASE = "- {version: '1.0', release: 01-112615, release_date: 2015-10-26, changes: [{kind: feature, summary: a}]}\n"


def test_a_service_pack_with_a_feature_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        BASE + "- {version: '1.1', release: 01-010116, release_date: 2016-01-01, "
        "changes: [{kind: feature, summary: new thing}]}\n",
    )
    with pytest.raises(CatalogError, match=r"entry 1 \(1.1\): a service-pack cannot contain a feature change"):
        load_releases(path)


def test_releases_must_be_in_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        BASE + "- {version: '0.9', release: 01-010116, release_date: 2016-01-01, changes: [{kind: fix, summary: x}]}\n",
    )
    with pytest.raises(CatalogError, match=r"0\.9 does not follow 1\.0"):
        load_releases(path)
