"""Start-up cost: a command imports only what it uses. A catalog command on a machine with
no gate database never loads the database layer (SQLAlchemy was half of `fossp roles
list`'s imports), nor SSH or Jinja2, and with the catalog cached no YAML parser;
`fossp --help` imports no command module (building every command was half of it) and a
command imports only its own module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fossp.cli.main import COMMANDS, command

PROBE = """
import sys
from fossp.cli.main import run
sys.argv = ["fossp", *sys.argv[1:]]
try:
    run()
except SystemExit:
    pass
watched = {"sqlalchemy", "asyncssh", "jinja2", "yaml"}
print("LOADED", *sorted(m.removeprefix("fossp.cli.") for m in sys.modules
      if m in watched or m.endswith("_cmds")), file=sys.stderr)
"""


def loaded(tmp_path: Path, *args: str) -> list[str]:
    """What the second of two runs of ``fossp ARGS`` loads (the first one cached the catalog)."""
    env = {"FOSSP_DB": f"sqlite:///{tmp_path / 'no-gate.db'}", "FOSSP_CACHE_DIR": str(tmp_path / "cache")}
    env |= {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )
    line = next(line for line in done.stderr.splitlines() if line.startswith("LOADED"))
    return line.split()[1:]


@pytest.mark.parametrize(
    ("args", "module"),
    [
        (("roles", "list"), ["catalog_cmds"]),
        (("lifecycle",), ["catalog_cmds"]),
        (("recommend", "database"), ["catalog_cmds", "selection_cmds"]),  # --family's check is catalog_cmds'
        (("features",), ["selection_cmds"]),
        (("--help",), []),
        (("gate", "-h"), ["gate_cmds"]),
    ],
)
def test_a_command_loads_its_own_module_and_catalog_commands_no_database_ssh_jinja2_or_yaml(
    tmp_path: Path, args: tuple[str, ...], module: list[str]
) -> None:
    assert loaded(tmp_path, *args) == module
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


def test_the_help_lists_each_command_with_the_first_sentence_of_its_own_help() -> None:
    """`fossp --help` lists the summaries in COMMANDS without importing the commands: each
    must be what the command itself says, and the list must hold every command."""
    commands = command().commands
    assert list(commands) == list(COMMANDS)
    said = {name: cmd.get_short_help_str(limit=10**4) for name, cmd in commands.items()}
    assert said == {name: summary for name, (*_, summary) in COMMANDS.items()}
