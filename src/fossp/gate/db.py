"""Opening the gate database: URL resolution, engine, and migrations on open.

A SQLite file works with no set-up; PostgreSQL is used by giving its URL. Opening a
database to work in it runs ``alembic upgrade head`` so an upgraded FOSSP never meets an
old schema; reading the catalog opens it read-only and never creates or migrates it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, exc, inspect, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from fossp.errors import BadInput, one_line
from fossp.gate.urls import normalise_url, sqlite_path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _private_file(path: Path) -> None:
    """Create the SQLite file 0600, or take one of ours back to 0600: it holds password
    hashes and session tokens. SQLite gives its journal files the same mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        status = path.stat()
        if status.st_mode & 0o077 and status.st_uid == os.getuid():
            path.chmod(0o600)


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def head_revision() -> str:
    """The newest migration: revisions are numbered like their files and form one line."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def current_revision(engine: Engine) -> str | None:
    """The schema's revision as Alembic recorded it (None for a new database)."""
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision.

    Alembic (160 ms to import) is loaded only when the schema is behind, so commands that
    merely read the database, like `fossp roles list`, start fast.
    """
    if current_revision(engine) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass
class Database:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    def dispose(self) -> None:
        self.engine.dispose()


CONNECT_TIMEOUT = 10  # seconds; a PostgreSQL server that does not answer is named, not waited for


@contextmanager
def reachable(url: str) -> Iterator[None]:
    """Turn a database that cannot be reached or read into one line naming it (password hidden)."""
    try:
        yield
    except (exc.OperationalError, exc.DatabaseError) as error:
        shown = make_url(url).render_as_string(hide_password=True).replace("postgresql+psycopg://", "postgresql://", 1)
        lines = str(error.orig or error).strip().splitlines() or [type(error.orig).__name__]
        raise BadInput(f"gate database {shown}: {one_line(lines[0])[:200]}", where=shown, code="unreachable") from None


def _engine(url: str, read_only: bool) -> Engine:
    path = sqlite_path(url)
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {"poolclass": StaticPool} if url == IN_MEMORY else {}
    if path is not None and read_only:
        url = f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"
    elif url.startswith("postgresql+"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
        if read_only:
            connect_args["options"] = "-c default_transaction_read_only=on"
    try:
        engine = create_engine(url, connect_args=connect_args, **options)
    except Exception as error:  # a malformed URL: SQLAlchemy's own ArgumentError and kin
        raise BadInput(f"database URL: {one_line(str(error))}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


#: An empty gate kept in memory: what a read-only command sees where no database file is.
IN_MEMORY = "sqlite://"


def open_database(url: str | None = None, create: bool = True) -> Database:
    """Connect to ``url`` (or the default), creating and migrating the schema as needed.

    ``create=False`` (a command that only reads) never makes a SQLite file that does not
    exist, nor its folder, where a mistyped --db may point: it reads an empty gate kept in
    memory. A database that cannot be reached or opened is one BadInput line naming it
    (never its password).
    """
    resolved = normalise_url(url)
    path = sqlite_path(resolved)
    if path is not None and not create and not path.exists():
        resolved, path = IN_MEMORY, None
    if path is not None:
        try:
            _private_file(path)
        except OSError as error:
            raise BadInput(f"database {path}: cannot create it: {error.strerror}") from None
    engine = _engine(resolved, read_only=False)
    try:
        with reachable(resolved):
            migrate(engine)
    except BadInput:
        engine.dispose()
        raise
    return Database(resolved, engine, sessionmaker(engine, expire_on_commit=False))


def open_read_only(url: str | None = None) -> Database | None:
    """Connect to ``url`` (or the default) to read it only: no file is created, no schema
    migrated, nothing written. None when its SQLite file does not exist (no decisions yet)."""
    resolved = normalise_url(url)
    path = sqlite_path(resolved)
    if path is not None and not path.exists():
        return None
    engine = _engine(resolved, read_only=True)
    return Database(resolved, engine, sessionmaker(engine))
