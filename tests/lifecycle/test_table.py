"""The lifecycle table uses endoflife.date's field names."""

from __future__ import annotations

from fossp.catalog import Catalog
from fossp.lifecycle.table import lifecycle_table


def test_rows_have_endoflife_fields_and_not_announced_is_false(catalog: Catalog) -> None:
    rows = lifecycle_table(catalog, list(catalog.roles.values()))
    assert len(rows) == len(catalog.roles)
    postgres = next(r for r in rows if r["role_id"] == "FOSSP-DASPO")
    assert postgres == {
        "service": "database",
        "service_name": "Database Services",
        "implementation": "PostgreSQL",
        "role_id": "FOSSP-DASPO",
        "release_cycle": "01-112615",
        "release_date": "2015-10-26",
        "eol": False,
        "status": postgres["status"],
        "upstream": "active",
    }
