"""The catalog's statuses change only where a stage gate decision changed them."""

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
        rows = json.loads(run_fossp("roles", "list", "--json").stdout)["roles"]
    finally:
        del os.environ["FOSSP_DB"]
    assert {r["id"]: r["status"] for r in rows}["FOSSP-DASPO"] == "launched"
    assert not database.exists()


def test_a_role_proposed_at_the_stage_gate_keeps_its_status(tmp_path: Path) -> None:
    """Real gate database (SQLite) and the real CLI: a proposal changes nothing in the catalog."""
    os.environ["FOSSP_DB"] = f"sqlite:///{tmp_path / 'gate.db'}"
    try:
        added = run_fossp("users", "add", "lia", "--role", "liaison", "--password-stdin", stdin="a-long-password\n")
        assert added.returncode == 0, added.stderr
        proposed = run_fossp("gate", "propose", "Kea DHCP", "--role", "kea", "--summary", "DHCP", "--as", "lia")
        assert proposed.returncode == 0, proposed.stderr
        rows = json.loads(run_fossp("roles", "list", "--json").stdout)["roles"]
    finally:
        del os.environ["FOSSP_DB"]
    statuses = {r["id"]: r["status"] for r in rows}
    assert statuses["FOSSP-NESKE"] == "launched"
    assert statuses["FOSSP-DASPO"] == "launched"
