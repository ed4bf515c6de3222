"""`fossp gate` and `fossp users` in a subprocess: exit codes, --json, secrets never printed."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FOSSP, run_fossp


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    os.environ["FOSSP_DB"] = url
    yield url
    del os.environ["FOSSP_DB"]


def test_cli_flow_and_exit_codes(db: str) -> None:
    added = run_fossp("users", "add", "lia", "--role", "liaison", "--password-stdin", "--json", stdin="s3cret-pass\n")
    assert added.returncode == 0, added.stderr
    assert "s3cret-pass" not in added.stdout + added.stderr
    assert json.loads(added.stdout) == {
        "schema_version": 1,
        "name": "lia",
        "role": "liaison",
        "operations": "viewer",
        "can_sign_in": True,
        "disabled": False,
    }
    assert run_fossp("users", "add", "mai", "--role", "maintainer", "--no-password").returncode == 0
    empty = run_fossp("users", "add", "eve", "--role", "viewer", "--password-stdin", stdin="\n")
    assert empty.returncode == 2 and "field 'password'" in empty.stderr
    proposed = run_fossp(
        "gate", "propose", "PostgreSQL 16", "--role", "postgresql", "--summary", "db", "--as", "mai", "--json"
    )
    assert proposed.returncode == 0, proposed.stderr
    assert json.loads(proposed.stdout)["lead"] == "lia"
    refused = run_fossp("gate", "decide", "PostgreSQL 16", "go", "--as", "lia", "--rationale", "x")
    assert refused.returncode == 1 and "no review yet" in refused.stderr
    forbidden = run_fossp("gate", "decide", "PostgreSQL 16", "go", "--as", "mai", "--rationale", "x")
    assert forbidden.returncode == 1 and "may not decide" in forbidden.stderr
    bad = run_fossp("gate", "review", "PostgreSQL 16", "--as", "mai", "--recommend", "maybe", "--findings", "x")
    assert bad.returncode == 2 and "field 'recommendation'" in bad.stderr
    listed = json.loads(run_fossp("gate", "list", "--json").stdout)["applications"]
    assert [a["phase_name"] for a in listed] == ["Proposed"]
    shown = json.loads(run_fossp("gate", "show", "1", "--json").stdout)
    assert shown["gate"]["go_blockers"][0] == "deliverable 'proposal' is missing"


def test_picture_and_agenda(db: str) -> None:
    picture = run_fossp("gate", "picture")
    assert picture.returncode == 0 and picture.stdout.startswith("<svg")
    agenda = run_fossp("gate", "agenda", "--at", "2030-01-07T15:00", "--format", "ics")
    assert agenda.returncode == 0 and "DTSTART:20300107T150000Z" in agenda.stdout


def test_cli_maintainers(db: str) -> None:
    for name, role in (("lia", "liaison"), ("mai", "maintainer"), ("ann", "maintainer")):
        assert run_fossp("users", "add", name, "--role", role, "--no-password").returncode == 0
    run_fossp("gate", "propose", "Pg", "--role", "postgresql", "--summary", "db", "--as", "mai")
    refused = run_fossp("gate", "deliver", "Pg", "proposal", "--as", "ann", "--ref", "x")
    assert refused.returncode == 1 and "ann does not maintain this application" in refused.stderr
    forbidden = run_fossp("gate", "maintainers", "add", "Pg", "ann", "--as", "mai")
    assert forbidden.returncode == 1 and "may not manage-maintainers" in forbidden.stderr
    bad = run_fossp("gate", "maintainers", "add", "Pg", "nobody", "--as", "lia")
    assert bad.returncode == 2 and "field 'user'" in bad.stderr
    assert run_fossp("gate", "maintainers", "add", "Pg", "ann", "--as", "lia").returncode == 0
    assert run_fossp("gate", "deliver", "Pg", "proposal", "--as", "ann", "--ref", "x").returncode == 0
    assert run_fossp("gate", "maintainers", "remove", "Pg", "mai", "--as", "lia").returncode == 0
    assert json.loads(run_fossp("gate", "maintainers", "list", "Pg", "--json").stdout)["maintainers"] == ["ann"]


def test_cli_operations_right_disable_enable_and_reset_password(db: str) -> None:
    added = run_fossp(
        "users", "add", "ops", "--role", "viewer", "--operations", "operator", "--json", stdin="first-pass\n"
    )
    assert added.returncode == 0 and json.loads(added.stdout)["operations"] == "operator"
    bad = run_fossp("users", "add", "boss", "--role", "viewer", "--operations", "root", stdin="first-pass\n")
    assert (
        bad.returncode == 2 and "field 'operations': 'root' is not one of administrator, operator, viewer" in bad.stderr
    )
    disabled = run_fossp("users", "disable", "ops", "--json")
    assert disabled.returncode == 0 and json.loads(disabled.stdout)["disabled"] is True
    assert run_fossp("users", "enable", "ops").stdout == "enabled ops (viewer, operator)\n"
    reset = run_fossp("users", "reset-password", "ops", stdin="second-pass\n")
    assert reset.returncode == 0 and "second-pass" not in reset.stdout + reset.stderr
    short = run_fossp("users", "reset-password", "ops", stdin="short\n")
    assert short.returncode == 2 and "field 'password'" in short.stderr
    missing = run_fossp("users", "disable", "nobody")
    assert missing.returncode == 2 and "no user named 'nobody'" in missing.stderr
    listed = {u["name"]: u for u in json.loads(run_fossp("users", "list", "--json").stdout)["users"]}
    assert listed["ops"]["disabled"] is False and listed["ops"]["operations"] == "operator"
    actions = [e["action"] for e in json.loads(run_fossp("gate", "audit", "--json").stdout)["entries"]]
    assert actions[:3] == ["password-reset", "user-enabled", "user-disabled"]


def _read(main: int, screen: bytes, until: int) -> bytes:
    """Read the terminal until it shows ``until`` prompts (': '), or it closes; 30 s at most."""
    deadline = time.monotonic() + 30
    while screen.count(b": ") < until and time.monotonic() < deadline:
        if select.select([main], [], [], 1)[0]:
            try:
                chunk = os.read(main, 1024)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            screen += chunk
    return screen


def _on_terminal(args: list[str], answers: list[str]) -> str:
    """Run `fossp` on a pseudo-terminal, typing each answer after its prompt; the screen."""
    main, terminal = os.openpty()
    process = subprocess.Popen(
        [*FOSSP, *args], stdin=terminal, stdout=terminal, stderr=terminal, env={**os.environ, "NO_COLOR": "1"}
    )
    os.close(terminal)
    screen = b""
    for number, answer in enumerate(answers, start=1):
        screen = _read(main, screen, number)
        os.write(main, answer.encode() + b"\n")
    screen = _read(main, screen, 10**6)
    assert process.wait(timeout=60) == 0, screen
    os.close(main)
    return screen.decode()


def test_reset_password_on_a_terminal_is_typed_twice_without_echo(db: str) -> None:
    assert run_fossp("users", "add", "ops", "--role", "viewer", stdin="first-pass\n").returncode == 0
    screen = _on_terminal(["users", "reset-password", "ops"], ["typed-secret-1", "typed-secret-1"])
    assert "Password: " in screen and "Repeat for confirmation: " in screen
    assert "typed-secret-1" not in screen and "new password for ops" in screen
