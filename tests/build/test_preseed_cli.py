"""`fossp build preseed` from a saved profile: the checked file, --json, and bad input (one
line, exit 2, nothing written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from fossp.build.preseed import check_preseed
from tests.conftest import run_fossp

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFossp admin@example\n"
pytestmark = pytest.mark.skipif(shutil.which("debconf-set-selections") is None, reason="no debconf")


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    saved = run_fossp("recommend", "database, web server", "--save", str(path))
    assert saved.returncode == 0, saved.stderr
    return path


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "key.pub"
    path.write_text(KEY)
    return path


def test_a_saved_profile_becomes_a_checked_preseed(profile: Path, key: Path, tmp_path: Path) -> None:
    output = tmp_path / "fossp.preseed"
    args = ["build", "preseed", "--profile", str(profile), "-o", str(output), "--ssh-key", str(key)]
    done = run_fossp(*args, "--hostname", "db1", "--debian", "13", "--json")
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert sorted(said["roles"]) == ["FOSSP-DASPO", "FOSSP-WDSNG"] and said["output"] == str(output)
    assert said["suite"] == "trixie" and said["checks"] == {"debconf": [], "fossp": []}
    assert {"postgresql", "nginx", "btrfs-progs"} <= set(said["packages"])
    assert "/var/lib/postgresql" in said["data_folders"] and said["login"].startswith("ssh root@db1")
    text = output.read_text()
    assert check_preseed(text) == {"debconf": [], "fossp": []}
    assert "d-i netcfg/hostname string db1" in text and KEY.strip() in text
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_without_output_the_preseed_is_printed(profile: Path, key: Path) -> None:
    done = run_fossp("build", "preseed", "--profile", str(profile), "--ssh-key", str(key))
    assert done.returncode == 0, done.stderr
    assert "d-i mirror/suite string bookworm" in done.stdout.splitlines()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--debian", "11"], "--debian 11: FOSSP's preseed installs Debian 12, 13"),
        (["--hostname", "bad name;"], "--hostname 'bad name;': not a host name"),
        (["--ssh-key", "/nonexistent/key.pub"], "--ssh-key /nonexistent/key.pub: cannot read it"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    profile: Path, key: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    output = tmp_path / "fossp.preseed"
    done = run_fossp("build", "preseed", "--profile", str(profile), "-o", str(output), "--ssh-key", str(key), *extra)
    assert done.returncode == 2 and not output.exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_conflicting_roles_and_settings_are_refused(profile: Path, key: Path, tmp_path: Path) -> None:
    output = tmp_path / "fossp.preseed"
    data = yaml.safe_load(profile.read_text())
    data["roles"].append({"id": "FOSSP-WDSHT"})  # httpd: port 80, like nginx
    profile.write_text(yaml.safe_dump(data))
    done = run_fossp("build", "preseed", "--profile", str(profile), "-o", str(output), "--ssh-key", str(key))
    assert done.returncode == 2 and not output.exists() and "cannot share a host" in done.stderr
    data["roles"] = [{"id": "FOSSP-DASPO", "settings": {"port": 5433}}]
    profile.write_text(yaml.safe_dump(data))
    done = run_fossp("build", "preseed", "--profile", str(profile), "-o", str(output), "--ssh-key", str(key))
    assert done.returncode == 2 and not output.exists()
    assert "FOSSP-DASPO.port" in done.stderr and "fossp deploy" in done.stderr
