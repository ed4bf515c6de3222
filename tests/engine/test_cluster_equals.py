"""A setting that must agree with the placement (``equals``: GlusterFS's replica count is
the number of servers) is checked with the placement, before any host is reached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fossp.catalog import load_catalog
from fossp.catalog.schema import Role
from fossp.engine.cluster import layout
from fossp.errors import BadInput

from .conftest import site_role
from .test_cluster import HOSTS, PLACED, RECIPE, ROLE, ROLE_ID, TEMPLATE

REPLICAS = "  - {name: replicas, type: integer, default: 2, minimum: 1, equals: compute_count, description: Copies.}\n"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    role = ROLE.replace("settings:\n", "settings:\n" + REPLICAS)
    template = TEMPLATE + "replicas={{ replicas }}\n"
    with site_role(tmp_path, monkeypatch, "democluster", role, RECIPE, {"cluster.conf.j2": template}):
        yield tmp_path


def _layout(given: dict[str, int], placed: dict[str, list[str]] = PLACED) -> None:
    layout(load_catalog(), [(ROLE_ID, given)], {ROLE_ID: placed}, HOSTS, "p.yaml")


def test_a_count_that_matches_the_placement_passes(site: Path) -> None:
    _layout({})
    _layout({"replicas": 2})


def test_a_count_that_disagrees_is_bad_input_naming_the_profile(site: Path) -> None:
    with pytest.raises(
        BadInput,
        match=r"^p.yaml: FOSSP-HPSDC setting 'replicas' is 3; it must equal the number "
        r"of compute hosts \(2\)$",
    ):
        _layout({"replicas": 3})


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{name: replicas, type: string, default: x, equals: compute_count, description: c}", "needs an integer"),
        ("{name: replicas, type: integer, default: 1, equals: spare_count, description: c}", "a part it has"),
    ],
)
def test_equals_is_checked_when_the_role_loads(setting: str, message: str) -> None:
    data = load_catalog().role("hpc").model_dump(mode="json", exclude_none=True)
    data["settings"] = [*data["settings"], yaml.safe_load(setting)]
    with pytest.raises(ValueError, match=message):
        Role.model_validate(data)
