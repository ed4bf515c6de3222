"""Shared test helpers: the catalog, a writable copy of the data folder, the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fossp.catalog import Catalog, load_catalog
from fossp.catalog.loader import DATA_DIR
from tests.documents import check_document

FOSSP = [sys.executable, "-m", "fossp"]
UNUSED_GATE_DB = Path(tempfile.mkdtemp(prefix="fossp-test-")) / "gate.db"


@pytest.fixture(autouse=True)
def _no_registered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no secret registered: one test's values must not mask another's output."""
    from fossp import secrets

    monkeypatch.setattr(secrets, "_values", set())


@pytest.fixture(autouse=True)
def _own_web_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hermetic: a web console made in a test never writes the machine's /var/lib/fossp/web
    (one a module's fixture made uses a scratch folder of the session: see below)."""
    monkeypatch.setenv("FOSSP_WEB_DIR", str(tmp_path / "fossp-web"))


os.environ.setdefault("FOSSP_WEB_DIR", tempfile.mkdtemp(prefix="fossp-web-"))
# Hermetic: the catalog cache of the tests' commands (their site roles included) is the
# session's own, never the machine's /var/cache/fossp or ~/.cache/fossp.
os.environ.setdefault("FOSSP_CACHE_DIR", tempfile.mkdtemp(prefix="fossp-cache-"))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the packaged data files, for tests that break them on purpose."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def run_fossp(
    *args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `fossp` command line in a subprocess (killed past ``timeout`` seconds);
    a --json answer is checked against its command's schema."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    # Hermetic: never read the machine's own stage gate database unless a test names one.
    env.setdefault("FOSSP_DB", f"sqlite:///{UNUSED_GATE_DB}")
    done = subprocess.run(
        [*FOSSP, *args], capture_output=True, text=True, cwd=cwd, input=stdin, env=env, timeout=timeout, check=False
    )
    check_document(args, done.stdout)
    return done
