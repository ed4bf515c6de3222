"""`fossp build kickstart` from a saved profile: the file, and bad input (one line, exit 2,
nothing written)."""

from __future__ import annotations

import json
import subprocess
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


def _with_settings(profile: Path, role_id: str, settings: dict[str, object]) -> None:
    data = yaml.safe_load(profile.read_text())
    next(role for role in data["roles"] if role["id"] == role_id)["settings"] = settings
    profile.write_text(yaml.safe_dump(data))


def _post(text: str) -> str:
    start = text.index("%post --erroronfail")
    return text[text.index("\n", start) + 1 : text.index("%end", start)]


def test_with_a_fossp_source_the_first_boot_deploys_the_settings(profile: Path, tmp_path: Path) -> None:
    """The settings reach the installed host in the %post's first-boot profile; FOSSP and
    the Augeas binding it needs are installed (the script itself runs in tests/e2e)."""
    _with_settings(profile, "FOSSP-WDSNG", {"http_port": 8080})
    output = tmp_path / "fossp.ks"
    args = ["build", "kickstart", "--profile", str(profile), "-o", str(output)]
    done = run_fossp(*args, "--fossp-source", "http://10.0.0.1:8000/wheels/", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["first_boot"] is True
    text = output.read_text()
    assert check_kickstart(text) == []
    assert {"python3", "python3-augeas"} <= set(text.split("%packages")[1].split("%end")[0].split())
    post = _post(text)
    assert "--find-links http://10.0.0.1:8000/wheels/ --trusted-host 10.0.0.1 fossp" in post
    assert "systemctl enable fossp-firstboot.service" in post and "http_port: 8080" in post
    subprocess.run(["sh", "-n", "-c", post], check=True, timeout=30)
    assert output.stat().st_mode & 0o077 == 0o044  # no secret in it: an ordinary file


def test_a_profile_with_a_secret_is_written_0600_and_never_printed(profile: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(profile.read_text())
    data["roles"].append({"id": "FOSSP-DASMA", "settings": {"app_password": "s3cret-for-the-test-only"}})
    data["roles"] = [r for r in data["roles"] if r["id"] != "FOSSP-DASPO"]
    profile.write_text(yaml.safe_dump(data))
    source = ["--fossp-source", "http://10.0.0.1/w/"]
    printed = run_fossp("build", "kickstart", "--profile", str(profile), *source)
    assert printed.returncode == 2 and "s3cret" not in printed.stdout + printed.stderr
    assert "--output" in printed.stderr
    output = tmp_path / "fossp.ks"
    written = run_fossp("build", "kickstart", "--profile", str(profile), *source, "-o", str(output))
    assert written.returncode == 0, written.stderr
    assert output.stat().st_mode & 0o777 == 0o600 and "s3cret-for-the-test-only" in output.read_text()


def test_a_secret_from_the_controllers_environment_is_refused(profile: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(profile.read_text())
    data["roles"].append({"id": "FOSSP-DASMA", "settings": {"app_password": {"from_env": "DB_PASSWORD"}}})
    data["roles"] = [r for r in data["roles"] if r["id"] != "FOSSP-DASPO"]
    profile.write_text(yaml.safe_dump(data))
    output = tmp_path / "fossp.ks"
    args = ["--profile", str(profile), "--fossp-source", "http://10.0.0.1/w/", "-o", str(output)]
    done = run_fossp("build", "kickstart", *args)
    assert done.returncode == 2 and not output.exists()
    assert "mariadb.app_password" in done.stderr and "installed host does not have" in done.stderr
