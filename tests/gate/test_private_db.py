"""The gate database holds password hashes and session tokens: only its owner may read it."""

from __future__ import annotations

import stat
from pathlib import Path

from fossp.gate.db import open_database


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "new" / "gate.db"
    open_database(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


def test_an_existing_readable_database_is_taken_back_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    open_database(str(path)).dispose()
    path.chmod(0o644)
    open_database(str(path)).dispose()
    assert _mode(path) == 0o600
