"""Opening an up-to-date database skips Alembic; a new or older one is migrated."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from fossp.gate.db import MIGRATIONS, current_revision, head_revision, open_database


def test_head_revision_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_new_database_is_migrated_to_head_and_reopens_without_change(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    assert current_revision(create_engine(url)) is None
    open_database(url).dispose()
    assert current_revision(create_engine(url)) == head_revision()
    open_database(url).dispose()
    assert current_revision(create_engine(url)) == head_revision()
