"""The stage gate review process: how the Server Working Group admits, launches and retires roles.

The catalog asks :func:`catalog_status` which statuses the gate's decisions gave its roles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fossp.catalog.schema import CatalogStatus


def catalog_status(db_url: str | None = None) -> dict[str, CatalogStatus]:
    """Catalog role ID -> status, as the newest go decision that changed the role set it.

    A go into Launch/Availability launches the application's roles, a go into Service
    Removal retires them; nothing else changes a status, so roles no such decision named
    are absent and keep their data file's status. ``db_url`` defaults as everywhere
    (FOSSP_DB, then the default SQLite file). The database is only read: a SQLite file
    that does not exist means no decisions (and is not created), a schema is never
    migrated, and a database that cannot be reached is one line (BadInput), not a trace.
    """
    from fossp.gate.urls import normalise_url, sqlite_path

    path = sqlite_path(normalise_url(db_url))
    if path is not None and not path.exists():
        return {}  # no decisions, and no need to load the database layer to know it
    from fossp.gate.catalog import read_statuses
    from fossp.gate.db import open_read_only, reachable

    db = open_read_only(db_url)
    if db is None:
        return {}
    try:
        with reachable(db.url), db.engine.connect() as connection:
            return read_statuses(connection)
    finally:
        db.dispose()
