"""`fossp build kickstart` from a saved profile: the file, and bad input (one line, exit 2,
nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fossp.build.kickstart import check_kickstart
from tests.conftest import run_fossp

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFossp admin@example\n"


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    saved = run_fossp("recommend", "database, web server", "--save", str(path))
    assert saved.returncode == 0, saved.stderr
    return path


def test_a_saved_profile_becomes_a_checked_kickstart(profile: Path, tmp_path: Path) -> None:
    key, output = tmp_path / "key.pub", tmp_path / "fossp.ks"
    key.write_text(KEY)
    args = ["build", "kickstart", "--profile", str(profile), "-o", str(output), "--ssh-key", str(key)]
    done = run_fossp(*args, "--hostname", "db1", "--json")
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert sorted(said["roles"]) == ["FOSSP-DASPO", "FOSSP-WDSNG"] and said["output"] == str(output)
    text = output.read_text()
    assert check_kickstart(text) == []
    assert "network  --bootproto=dhcp --hostname=db1" in text and KEY.strip() in text
    assert "postgresql-server" in text.split("%packages")[1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fedora", "37"], "--fedora 37: FOSSP's kickstart needs Fedora 38-"),
        (["--hostname", "bad name;"], "--hostname 'bad name;': not a host name"),
        (["--ssh-key", "/nonexistent/key.pub"], "--ssh-key /nonexistent/key.pub: cannot read it"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    profile: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    output = tmp_path / "fossp.ks"
    done = run_fossp("build", "kickstart", "--profile", str(profile), "-o", str(output), *extra)
    assert done.returncode == 2 and not output.exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_settings_a_kickstart_cannot_apply_are_refused(profile: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(profile.read_text())
    nginx = next(role for role in data["roles"] if role["id"] == "FOSSP-WDSNG")
    nginx["settings"] = {"http_port": 8080}
    profile.write_text(yaml.safe_dump(data))
    done = run_fossp("build", "kickstart", "--profile", str(profile))
    assert done.returncode == 2
    assert "FOSSP-WDSNG.http_port" in done.stderr and "fossp deploy" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
