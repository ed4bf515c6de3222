"""`fossp build preseed` from a saved profile: the checked file, --json, and bad input (one
line, exit 2, nothing written)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fossp.build.preseed import check_preseed, post_script
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


def test_with_a_fossp_source_the_late_command_sets_up_the_first_boot(profile: Path, key: Path, tmp_path: Path) -> None:
    """The late command's last script (base64 in the preseed) writes os-release's keys, then
    installs FOSSP and its first boot with the profile's settings (run for real in tests/e2e)."""
    data = yaml.safe_load(profile.read_text())
    next(role for role in data["roles"] if role["id"] == "FOSSP-WDSNG")["settings"] = {"http_port": 8080}
    profile.write_text(yaml.safe_dump(data))
    output = tmp_path / "fossp.preseed"
    args = ["build", "preseed", "--profile", str(profile), "-o", str(output), "--ssh-key", str(key)]
    done = run_fossp(*args, "--fossp-source", "http://10.0.0.1:8000/", "--json")
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["first_boot"] is True and {"python3-venv", "python3-augeas"} <= set(said["packages"])
    assert said["checks"] == {"debconf": [], "fossp": []}
    post = post_script(output.read_text())
    assert post.startswith("# FOSSP's keys in /etc/os-release") and "http_port: 8080" in post
    assert (
        "--find-links http://10.0.0.1:8000/ --trusted-host 10.0.0.1 fossp" in post
        and "systemctl enable fossp-firstboot.service" in post
    )
    subprocess.run(["sh", "-n", "-c", post], check=True, timeout=30)
