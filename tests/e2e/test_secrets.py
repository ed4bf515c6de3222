"""End-to-end on a lab host: a secret setting (MariaDB's app_password) goes from
`recommend --set` to a 0600 profile, through plan, deploy and status, and works on the
host (the account logs in with it), yet appears in no output of any of them and in no
world-readable file, on the controller or on the host."""

from __future__ import annotations

import json
import secrets
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fossp.engine.state import STATE_FILE
from fossp.lab import LabHost
from fossp.lab.paths import LabPaths
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from fossp.secrets import fingerprint
from tests.conftest import run_fossp

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
secret_hosts = lab_fixture("sec-1", packages=tuple(role_packages(["mariadb"])))
USER = "app"
#: Run on the host with the needle on stdin (kept in a 0600 file, never in an argument):
#: every world-readable file that contains it.
SCAN = (
    "umask 077; cat > /root/.fossp-needle; "
    "find / /run /tmp /dev/shm -xdev -type f -perm -o+r ! -path /root/.fossp-needle -print0 "
    "| xargs -0 -r grep -lsF -f /root/.fossp-needle; rm -f /root/.fossp-needle"
)


@dataclass
class Deployed:
    host: LabHost
    value: str
    profile: Path
    outputs: dict[str, str]


def _run(outputs: dict[str, str], *args: str, expect: int = 0) -> None:
    result = run_fossp(*args)
    assert result.returncode == expect, f"fossp {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    outputs[" ".join(args)] = result.stdout + result.stderr


@pytest.fixture(scope="module")
def deployed(secret_hosts: list[LabHost], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """recommend --save, profile check, plan, deploy, status: each as table and as JSON."""
    host = secret_hosts[0]
    value = f"e2e-{secrets.token_urlsafe(12)}'\"\\$(x)%"  # quotes, a backslash, shell and printf syntax
    profile = tmp_path_factory.mktemp("secrets") / "db.yaml"
    outputs: dict[str, str] = {}
    sets = ("--set", f"mariadb.app_password={value}", "--set", f"mariadb.app_user={USER}")
    _run(outputs, "recommend", "mariadb", *sets, "--save", str(profile))
    _run(outputs, "recommend", "mariadb", *sets, "--json")
    target = ("--target", host.target)
    for args in (("profile", "check", str(profile)), ("plan", "--profile", str(profile), *target)):
        _run(outputs, *args)
        _run(outputs, *args, "--json")
    _run(outputs, "deploy", "--profile", str(profile), *target, "--json")
    _run(outputs, "deploy", "--profile", str(profile), *target)
    for json_flag in ((), ("--json",)):
        _run(outputs, "status", *target, *json_flag)
    yield Deployed(host, value, profile, outputs)


def _login(host: LabHost, password: str) -> subprocess.CompletedProcess[str]:
    """Log in as the application account, the password on stdin (into MYSQL_PWD)."""
    query = 'IFS= read -r MYSQL_PWD; export MYSQL_PWD; exec mysql --user=app -N -B -e "SELECT CURRENT_USER()"'
    return subprocess.run(
        host.ssh_command("sh", "-c", query), input=password + "\n", capture_output=True, text=True, timeout=60
    )


def test_the_profile_is_private(deployed: Deployed) -> None:
    assert stat.S_IMODE(deployed.profile.stat().st_mode) == 0o600


def test_no_output_shows_the_secret(deployed: Deployed) -> None:
    assert len(deployed.outputs) == 10
    for command, output in deployed.outputs.items():
        assert deployed.value not in output, command
        assert deployed.value[:16] not in output, command  # nor an escaped form of it
    assert "********" in deployed.outputs[f"plan --profile {deployed.profile} --target {deployed.host.target} --json"]


def test_the_account_works_with_the_secret(deployed: Deployed) -> None:
    logged_in = _login(deployed.host, deployed.value)
    assert logged_in.returncode == 0, logged_in.stderr
    assert logged_in.stdout.strip() == f"{USER}@localhost"
    assert _login(deployed.host, deployed.value + "x").returncode != 0


def test_no_world_readable_file_holds_the_secret(deployed: Deployed) -> None:
    scan = subprocess.run(
        deployed.host.ssh_command("sh", "-c", SCAN), input=deployed.value, capture_output=True, text=True, timeout=600
    )
    assert scan.stdout.split() == [], f"on {deployed.host.name}: {scan.stdout}"

    lab = LabPaths.current()
    folders = [deployed.profile.parent, lab.hosts, Path.home() / ".local" / "share" / "fossp"]
    readable = [
        path
        for folder in folders
        if folder.is_dir()
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink() and path.stat().st_mode & stat.S_IROTH
    ]
    readable += [path for path in lab.root.iterdir() if path.is_file() and path.stat().st_mode & stat.S_IROTH]
    leaking = [path for path in readable if path != lab.pool_image and deployed.value.encode() in path.read_bytes()]
    assert leaking == []


def test_the_ledger_keeps_only_a_hash(deployed: Deployed) -> None:
    """The host's state file (0600) holds the secret's fingerprint, not the secret."""
    state = ssh(deployed.host, "cat", STATE_FILE).stdout
    assert deployed.value[:16] not in state
    stored = json.loads(state)["instances"]["FOSSP-DASMA"]["settings"]["app_password"]
    assert stored == fingerprint(deployed.value)


def test_a_new_password_reaches_the_account(deployed: Deployed) -> None:
    """The step's digest (a hash, in the 0600 ledger) changes with the secret, so it runs again."""
    new = deployed.value + "-new"
    outputs: dict[str, str] = {}
    _run(
        outputs,
        "deploy",
        "mariadb",
        "--target",
        deployed.host.target,
        "--set",
        f"mariadb.app_password={new}",
        "--set",
        f"mariadb.app_user={USER}",
    )
    assert deployed.value[:16] not in "".join(outputs.values())
    assert _login(deployed.host, new).returncode == 0
    assert _login(deployed.host, deployed.value).returncode != 0
