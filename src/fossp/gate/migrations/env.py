"""Alembic environment: FOSSP passes its own connection (fossp.gate.db.migrate)."""

from alembic import context
from sqlalchemy import Connection, create_engine

from fossp.gate.models import Base


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic` run by a developer with sqlalchemy.url set
    with create_engine(context.config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        _run(conn)
