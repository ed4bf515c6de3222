"""The catalog's statuses follow the stage gate process when it tracks a role."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fossp.catalog import Catalog
from fossp.catalog.schema import CatalogStatus
from fossp.catalog.status import with_statuses
from tests.conftest import run_fossp


def test_gate_statuses_override_only_the_roles_they_name(catalog: Catalog) -> None:
    governed = with_statuses(catalog, {"FOSSP-DASPO": CatalogStatus.RETIRED})
    assert governed.roles["FOSSP-DASPO"].lifecycle.status is CatalogStatus.RETIRED
    assert catalog.roles["FOSSP-DASPO"].lifecycle.status is CatalogStatus.LAUNCHED
    assert governed.roles["FOSSP-WDSNG"] is catalog.roles["FOSSP-WDSNG"]


def test_no_gate_database_means_the_catalog_keeps_its_own_status(tmp_path: Path) -> None:
    database = tmp_path / "gate.db"
    os.environ["FOSSP_DB"] = f"sqlite:///{database}"
    try:
        rows = json.loads(run_fossp("roles", "list", "--json").stdout)
    finally:
        del os.environ["FOSSP_DB"]
    assert {r["id"]: r["status"] for r in rows}["FOSSP-DASPO"] == "launched"
    assert not database.exists()
