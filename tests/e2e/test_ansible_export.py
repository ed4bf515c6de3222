"""`fossp export ansible` end to end: the PostgreSQL+nginx playbook run by ansible-playbook
on a lab host reaches FOSSP's own end state (an empty plan, both roles running with their
probes passing), a second run changes nothing, and `fossp decommission` undoes it."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from fossp.lab import LabHost
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.e2e.conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
    pytest.mark.skipif(shutil.which("ansible-playbook") is None, reason="run scripts/setup.d/ansible.sh"),
]
PROFILE = "fossp_profile: 1\nroles:\n  - id: FOSSP-DASPO\n  - id: FOSSP-WDSNG\n"
#: Ansible's own needs on the host come from the lab repository like the roles' packages.
ax_hosts = lab_fixture("ax-1", packages=("python3", "python3-apt"), scope="module")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("ansible")
    profile = folder / "pgweb.yaml"
    profile.write_text(PROFILE)
    started = time.monotonic()
    result = fossp_json("export", "ansible", "--profile", str(profile), "-o", str(folder / "out"), timeout=1500)
    return {**result, "profile": profile, "seconds": time.monotonic() - started}


def _playbook(exported: dict[str, Any], host: LabHost, folder: Path) -> tuple[int, str]:
    """ansible-playbook against the host (its key, host keys checked): (changed, output)."""
    inventory = folder / "inventory.ini"
    inventory.write_text(
        f"{host.name} ansible_host={host.address} ansible_user={host.ssh_user} "
        f"ansible_ssh_private_key_file={host.key_path} "
        f"ansible_ssh_common_args='-o UserKnownHostsFile={host.known_hosts_path}'\n"
    )
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), exported["playbook"]],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    recap = re.search(rf"^{re.escape(host.name)}\s+:.*\bchanged=(\d+)", done.stdout, re.MULTILINE)
    assert recap is not None, done.stdout[-2000:]
    return int(recap.group(1)), done.stdout


@pytest.fixture(scope="module")
def applied(exported: dict[str, Any], ax_hosts: list[LabHost], tmp_path_factory: pytest.TempPathFactory) -> Any:
    [host] = ax_hosts
    ssh(host, "sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-apt")
    before = snapshot(host)  # with what Ansible itself needs, which decommission leaves
    started = time.monotonic()
    changed, _ = _playbook(exported, host, tmp_path_factory.mktemp("run"))
    return {"host": host, "before": before, "changed": changed, "seconds": time.monotonic() - started}


def test_the_plan_is_empty_after_the_playbook(exported: dict[str, Any], applied: dict[str, Any]) -> None:
    assert applied["changed"] > 0
    [plan] = fossp_json("plan", "--profile", str(exported["profile"]), "--target", applied["host"].target)["plans"]
    assert plan["changes"] == 0, [op for op in plan["operations"] if op["change"]]


def test_status_shows_both_roles_running_with_probes_passing(applied: dict[str, Any]) -> None:
    [host] = fossp_json("status", "--target", applied["host"].target)["hosts"]
    assert {r["role"]: r["state"] for r in host["roles"]} == {"FOSSP-DASPO": "running", "FOSSP-WDSNG": "running"}
    probes = sorted((p["name"], p["ok"]) for r in host["roles"] for p in r["probes"])
    assert probes == [("http-get", True), ("sql-query", True)]
    assert all(not r["drift"] for r in host["roles"])


def test_a_second_run_changes_nothing(
    exported: dict[str, Any], applied: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    changed, output = _playbook(exported, applied["host"], tmp_path_factory.mktemp("again"))
    assert changed == 0, output[-4000:]


def test_decommission_undoes_what_the_playbook_did(applied: dict[str, Any]) -> None:
    fossp_json("decommission", "--yes", "--target", applied["host"].target)
    packages, etc = snapshot(applied["host"])
    assert packages == applied["before"][0]
    assert set(etc) - set(applied["before"][1]) <= {"/etc/postgresql"}, sorted(set(etc) - set(applied["before"][1]))
