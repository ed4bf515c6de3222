"""Where the gate database is, without loading SQLAlchemy: a command that only reads the
catalog asks whether a gate database exists before paying for the database layer."""

from __future__ import annotations

import os
from pathlib import Path

from fossp.errors import BadInput

SYSTEM_DIR = Path("/var/lib/fossp")
USER_DIR = Path.home() / ".local" / "share" / "fossp"


def _writable_dir(path: Path) -> bool:
    """True when ``path`` exists and is writable, or can be created."""
    existing = next(p for p in (path, *path.parents) if p.exists())
    return os.access(existing, os.W_OK)


def default_url() -> str:
    """FOSSP_DB, else a SQLite file in /var/lib/fossp when writable, else in ~/.local/share."""
    configured = os.environ.get("FOSSP_DB")
    if configured:
        return configured
    folder = SYSTEM_DIR if _writable_dir(SYSTEM_DIR) else USER_DIR
    return f"sqlite:///{folder / 'gate.db'}"


def normalise_url(url: str | None) -> str:
    """The SQLAlchemy URL for ``url``: a bare path means SQLite; postgresql:// uses psycopg 3."""
    url = url or default_url()
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    if not url.startswith(("sqlite", "postgresql+")):
        raise BadInput(f"database URL '{url.split('://')[0]}://...': use sqlite:/// or postgresql://")
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases or an in-memory one)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///"))
