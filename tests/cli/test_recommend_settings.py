"""Settings with no safe default (a DHCP subnet, a realm, an admin password): asked for at a
terminal, given by --set, refused in a script, never filled with a placeholder; a typed
secret is never shown and never kept in the profile itself.

Most tests run the CLI in-process (typer's CliRunner). CliRunner's stdin is not a
terminal, so where a test needs one it stubs ``fossp.cli.ask.interactive`` (the one
place that asks isatty) to say yes and types the answers as CliRunner input; one test
runs the real command on a pseudo-terminal, where the secret's echo is really off.
"""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from fossp import secrets
from fossp.cli import ask
from fossp.cli.main import app
from fossp.errors import FosspError
from tests.conftest import FOSSP, UNUSED_GATE_DB, run_fossp

DHCP_SETTINGS = ("subnet", "range_start", "range_end", "router", "dns_servers", "domain_name")
DHCP_ANSWERS = ["10.20.0.0/24", "10.20.0.100", "10.20.0.200", "10.20.0.1", "10.20.0.1, 10.20.0.2", "lab.example.org"]
SECRET = "Typed-Secret-4711"


def invoke(*args: str, typed: list[str] | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `fossp ARGS` in this process, as `fossp` maps errors."""
    result = CliRunner().invoke(app, list(args), input="".join(f"{line}\n" for line in typed or []))
    if isinstance(result.exception, FosspError):
        return result.exception.exit_code, result.stdout, f"fossp: {result.exception.message}\n"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _hermetic_gate_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOSSP_DB", f"sqlite:///{UNUSED_GATE_DB}")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stub of isatty: FOSSP believes a person is at the keyboard."""
    monkeypatch.setattr(ask, "interactive", lambda: True)


def test_a_script_is_refused_with_one_line_naming_each_setting_and_nothing_is_written(tmp_path: Path) -> None:
    target = tmp_path / "dhcp.yaml"
    done = run_fossp("recommend", "a dhcp server", "--save", str(target))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("fossp: --save: kea.subnet, kea.range_start")
    assert "no safe default" in done.stderr and "--set kea.subnet=10.0.0.0/24" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_given_with_set_they_are_saved_as_given(tmp_path: Path) -> None:
    target = tmp_path / "dhcp.yaml"
    sets = [f"--set=kea.{name}={value}" for name, value in zip(DHCP_SETTINGS, DHCP_ANSWERS, strict=True)]
    sets[4] = "--set=kea.dns_servers=[10.20.0.1, 10.20.0.2]"
    code, _, stderr = invoke("recommend", "dhcp", *sets, "--save", str(target))
    assert code == 0, stderr
    settings = yaml.safe_load(target.read_text())["roles"][0]["settings"]
    assert settings["subnet"] == "10.20.0.0/24" and settings["dns_servers"] == ["10.20.0.1", "10.20.0.2"]


def test_without_save_the_answer_lists_what_is_to_choose_and_asks_nothing() -> None:
    code, stdout, _ = invoke("recommend", "windows domain logins", "--json")
    assert code == 0
    to_choose = {(s["name"], s["setting"]): s for s in json.loads(stdout)["settings_to_choose"]}
    assert set(to_choose) == {("samba-ad", "realm"), ("samba-ad", "domain")}
    assert to_choose[("samba-ad", "realm")]["give_as"] == "--set samba-ad.realm=AD.EXAMPLE.ORG"
    assert json.loads(stdout)["roles"][0]["settings"] == {}  # no SAMDOM.FOSSP.TEST filled in


def test_at_a_terminal_each_is_asked_and_a_wrong_answer_asked_again(terminal: None, tmp_path: Path) -> None:
    target = tmp_path / "dhcp.yaml"
    typed = ["10.20.0.5/24", *DHCP_ANSWERS]  # a subnet with host bits first: refused, asked again
    code, _, stderr = invoke("recommend", "we need dhcp for the lab", "--save", str(target), typed=typed)
    assert code == 0, stderr
    assert "kea.subnet: The subnet served.; e.g. 10.0.0.0/24" in stderr
    assert "is not a network in CIDR form" in stderr
    settings = yaml.safe_load(target.read_text())["roles"][0]["settings"]
    assert [settings[name] for name in DHCP_SETTINGS] == [
        *DHCP_ANSWERS[:4],
        ["10.20.0.1", "10.20.0.2"],
        DHCP_ANSWERS[5],
    ]


def test_only_what_set_did_not_give_is_asked(terminal: None, tmp_path: Path) -> None:
    target = tmp_path / "ad.yaml"
    code, _, stderr = invoke(
        "recommend",
        "active directory",
        "--set",
        "samba-ad.realm=CORP.EXAMPLE.ORG",
        "--save",
        str(target),
        typed=["CORP"],
    )
    assert code == 0, stderr
    assert "samba-ad.realm" not in stderr and "samba-ad.domain" in stderr
    assert yaml.safe_load(target.read_text())["roles"][0]["settings"] == {"realm": "CORP.EXAMPLE.ORG", "domain": "CORP"}


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")  # CliRunner's stdin is no terminal to turn echo off on
def test_a_typed_secret_is_kept_in_a_private_file_the_profile_names(terminal: None, tmp_path: Path) -> None:
    target = tmp_path / "cloud.yaml"
    code, stdout, stderr = invoke("recommend", "private cloud", "--save", str(target), "--json", typed=[SECRET, SECRET])
    assert code == 0, stderr
    assert "openstack.admin_password" in stderr and "(typed hidden)" in stderr
    profile = yaml.safe_load(target.read_text())
    (cloud,) = [r for r in profile["roles"] if r["id"] == "FOSSP-CLSOS"]
    kept = Path(cloud["settings"]["admin_password"]["from_file"])
    assert kept.parent == tmp_path / "cloud.yaml.secrets" and kept.read_text() == SECRET + "\n"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert SECRET not in target.read_text() and SECRET not in stdout and SECRET not in stderr
    check = run_fossp("profile", "check", str(target), "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["warnings"] == []


def test_no_answer_is_bad_input_naming_the_setting(terminal: None, tmp_path: Path) -> None:
    code, _, stderr = invoke("recommend", "active directory", "--save", str(tmp_path / "ad.yaml"), typed=[])
    assert code == 2
    assert stderr == "fossp: samba-ad.realm: no answer given; --set samba-ad.realm=AD.EXAMPLE.ORG gives it\n"
    assert list(tmp_path.iterdir()) == []


def test_a_deploy_without_them_is_refused_not_filled_in() -> None:
    from fossp.catalog import load_catalog
    from fossp.engine.planner import wanted_roles

    with pytest.raises(FosspError, match="FOSSP-NESKE setting 'subnet' is required"):
        wanted_roles(load_catalog(), [("kea", {})], {}, "host1")


def _read_until(fd: int, wanted: str, seen: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while wanted not in "".join(seen):
        assert time.monotonic() < deadline, f"no {wanted!r} in {''.join(seen)!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen.append(os.read(fd, 4096).decode(errors="replace"))
            except OSError:  # the child closed the terminal
                return


def test_on_a_real_terminal_the_secret_is_typed_hidden(tmp_path: Path) -> None:
    """The real command on a pseudo-terminal: the prompt, then the secret typed twice with
    the terminal's echo off, so it never shows; the profile is saved."""
    leader, follower = pty.openpty()
    env = {**os.environ, "FOSSP_DB": f"sqlite:///{UNUSED_GATE_DB}", "COLUMNS": "200", "NO_COLOR": "1"}
    target = tmp_path / "cloud.yaml"
    child = subprocess.Popen(
        [*FOSSP, "recommend", "private cloud", "--save", str(target)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    seen: list[str] = []
    try:
        for prompt in ("openstack.admin_password", "Repeat for confirmation"):
            _read_until(leader, prompt, seen)
            os.write(leader, f"{SECRET}\n".encode())
        _read_until(leader, "Profile saved", seen)
        assert child.wait(timeout=30) == 0, "".join(seen)
    finally:
        child.kill()
        os.close(leader)
    assert SECRET not in "".join(seen) and secrets.MASK not in "".join(seen)
    assert SECRET not in target.read_text()


def _roles_of(profile: Path) -> list[Any]:
    return [r["id"] for r in yaml.safe_load(profile.read_text())["roles"]]


def test_the_try_script_s_request_needs_nothing_asked(tmp_path: Path) -> None:
    """scripts/try runs without a terminal: its request has no setting to ask for."""
    target = tmp_path / "first-profile.yaml"
    done = subprocess.run(
        [*FOSSP, "recommend", "database", "web server", "dns", "--save", str(target)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "FOSSP_DB": f"sqlite:///{UNUSED_GATE_DB}"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _roles_of(target) == ["FOSSP-DASPO", "FOSSP-WDSNG", "FOSSP-NESBI"]
