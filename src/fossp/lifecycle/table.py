"""The seed's lifecycle table, built from the catalog, with endoflife.date's fields."""

from __future__ import annotations

from typing import Any

from fossp.catalog.loader import Catalog
from fossp.catalog.schema import Role


def lifecycle_row(role: Role, catalog: Catalog) -> dict[str, Any]:
    """One row: endoflife.date's fields in snake_case (release_cycle, release_date, eol) plus role
    identity (``service`` the service's key as the role file gives it, ``service_name`` its name).

    ``eol`` is the end of fixes as a date, or False when it is not announced.
    """
    cycle = role.lifecycle
    return {
        "service": role.service,
        "service_name": catalog.services[role.service].name,
        "implementation": role.implementation,
        "role_id": role.id,
        "release_cycle": cycle.release,
        "release_date": cycle.release_date.isoformat(),
        "eol": cycle.support_end.isoformat() if cycle.support_end else False,
        "status": cycle.status.value,
        "upstream": role.upstream.status,
    }


def lifecycle_table(catalog: Catalog, roles: list[Role]) -> list[dict[str, Any]]:
    """Rows in the seed's order: by service, then role ID."""
    ordered = sorted(roles, key=lambda r: (catalog.services[r.service].name, r.id))
    return [lifecycle_row(role, catalog) for role in ordered]
