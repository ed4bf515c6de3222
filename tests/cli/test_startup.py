"""Start-up cost: a catalog command on a machine with no gate database never loads the
database layer (SQLAlchemy was half of `fossp roles list`'s imports), and `fossp --help`
loads neither it nor SSH."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from fossp.cli.main import run
sys.argv = ["fossp", *sys.argv[1:]]
try:
    run()
except SystemExit:
    pass
print("LOADED", *sorted(m for m in ("sqlalchemy", "asyncssh", "jinja2") if m in sys.modules), file=sys.stderr)
"""


def loaded(tmp_path: Path, *args: str) -> list[str]:
    env = {"FOSSP_DB": f"sqlite:///{tmp_path / 'no-gate.db'}", "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    line = next(line for line in done.stderr.splitlines() if line.startswith("LOADED"))
    return line.split()[1:]


@pytest.mark.parametrize("args", [("roles", "list"), ("lifecycle",), ("recommend", "database"), ("--help",)])
def test_catalog_commands_load_no_database_layer_and_no_ssh(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert loaded(tmp_path, *args) == []
    assert not (tmp_path / "no-gate.db").exists()


ENGINE_PROBE = """
import sys
import fossp.engine.apply, fossp.engine.status, fossp.engine.jobs
from fossp.catalog.schema import ProbeKind
from fossp.engine.probes import remote_prober
libraries = ("minikerberos", "ldap3", "dns", "httpx", "rapidfuzz")
print("BEFORE", *sorted(m for m in libraries if m in sys.modules))
remote_prober(ProbeKind.HTTP)
print("AFTER", *sorted(m for m in libraries if m in sys.modules))
"""


def test_the_engine_loads_a_probes_protocol_library_only_when_such_a_probe_runs() -> None:
    """Kerberos, LDAP, DNS and HTTP clients cost a third of a second to import; a deploy of
    nginx needs only HTTP's, and no deploy needs the recommender's fuzzy matcher."""
    done = subprocess.run([sys.executable, "-c", ENGINE_PROBE], capture_output=True, text=True, timeout=120, check=True)
    lines = dict(line.split(" ", 1) if " " in line else (line, "") for line in done.stdout.splitlines())
    assert lines["BEFORE"] == ""
    assert lines["AFTER"] == "httpx"
