"""The catalog as governed by the stage gate process.

A role's status in its data file is where it starts; only a stage gate decision changes
it (a go into Launch launches the role, a go into Service Removal retires it). Launched
roles are offered for deploy by default, others show as preview or retired. Reading the
statuses never writes the gate database.
"""

from __future__ import annotations

from dataclasses import replace

from fossp.catalog.loader import Catalog, load_catalog
from fossp.catalog.schema import CatalogStatus


def with_statuses(catalog: Catalog, statuses: dict[str, CatalogStatus]) -> Catalog:
    """A copy of ``catalog`` whose roles carry the given statuses (others keep theirs)."""
    roles = {
        role_id: role.model_copy(update={"lifecycle": role.lifecycle.model_copy(update={"status": statuses[role_id]})})
        if role_id in statuses
        else role
        for role_id, role in catalog.roles.items()
    }
    return replace(catalog, roles=roles)


def governed_catalog(db_url: str | None = None) -> Catalog:
    """The installed catalog with the statuses the stage gate's decisions gave its roles."""
    from fossp.gate import catalog_status

    return with_statuses(load_catalog(), catalog_status(db_url))
