"""The stage gate review process: how the Server Working Group admits, launches and retires roles.

The catalog asks :func:`catalog_status` which status the gate process gives each role.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fossp.catalog.schema import CatalogStatus
    from fossp.gate.service import GateService


@cache
def _service(url: str) -> GateService:
    from fossp.gate.db import open_database
    from fossp.gate.service import GateService

    return GateService(open_database(url))


def catalog_status(db_url: str | None = None) -> dict[str, CatalogStatus]:
    """Catalog role ID -> status, from the phase of the application(s) linked to the role.

    Launch/Availability and Operations and Maintenance give ``launched`` (offered for
    deploy by default); Service Removal, reached only by a go, gives ``retired``; every
    earlier phase, and an application only proposed, gives ``preview``. A candidate stopped
    by a no-go before launch gives ``retired``. When several applications name one role,
    the most available status wins (launched, then preview, then retired).

    Roles that no application names are absent: the catalog keeps its own status for them.
    ``db_url`` defaults as everywhere (FOSSP_DB, then the default SQLite file). When that
    SQLite file does not exist yet the answer is ``{}`` and no file is created. The
    database is opened (and migrated) once per process, so repeated calls are cheap.
    """
    from fossp.gate.db import normalise_url, sqlite_path

    url = normalise_url(db_url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return {}
    return _service(url).role_statuses()
