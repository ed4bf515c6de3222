"""`fossp health` on bad input and on agents that cannot be read: bad input is one line and
exit 2 before any host is asked; an agent that does not answer, or a host this controller
has no passphrase for, is one line and a finding (exit 1), soon, never a hang."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import run_fossp

#: Nothing answers SNMP on the controller's loopback (no snmpd here).
SILENT = "127.0.0.1:9"


@pytest.fixture
def no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "secrets"
    monkeypatch.setenv("FOSSP_SECRETS_DIR", str(folder))
    return folder


def test_without_a_target_it_says_so() -> None:
    result = run_fossp("health")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["fossp: health: give --target (a host, a group, all or lab:NAME)"]


@pytest.mark.parametrize(
    ("setting", "named"),
    [("snmp_user=two words", "'snmp_user'"), ("snmp_listen=[tcp:nowhere]", "'snmp_listen'"), ("no_such=1", "no_such")],
)
def test_a_bad_platform_setting_is_refused_naming_it(setting: str, named: str, no_secrets: Path) -> None:
    result = run_fossp("health", "--target", SILENT, "--set", setting)
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not no_secrets.exists()


def test_a_host_without_passphrases_here_is_a_finding_and_none_is_made(no_secrets: Path) -> None:
    result = run_fossp("health", "--target", SILENT)
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        f"{SILENT}: UNREADABLE: no SNMPv3 passphrase for this host on this controller: apply the platform from "
        f"here (`fossp platform apply --target {SILENT}`) or give --set snmp_auth_password=... and "
        "snmp_priv_password=..."
    ]
    assert not no_secrets.exists()  # reading never generates a passphrase


def test_an_agent_that_does_not_answer_is_named_soon(no_secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOSSP_TEST_AUTH", "auth-passphrase-1")
    monkeypatch.setenv("FOSSP_TEST_PRIV", "priv-passphrase-1")
    secrets = ["--set", "snmp_auth_password={from_env: FOSSP_TEST_AUTH}"]
    secrets += ["--set", "snmp_priv_password={from_env: FOSSP_TEST_PRIV}"]
    started = time.monotonic()
    result = run_fossp("health", "--target", SILENT, *secrets, "--timeout", "1", "--json")
    assert time.monotonic() - started < 15
    assert result.returncode == 1
    (host,) = json.loads(result.stdout)["hosts"]
    assert host["status"] == "unreadable" and host["ok"] is False
    assert host["error"] == {
        "message": "SNMP agent at 127.0.0.1:161/udp (authPriv): no answer",
        "where": SILENT,
        "code": "snmp-unanswered",
    }
    assert "passphrase-1" not in result.stdout + result.stderr
