"""End-to-end on two lab hosts: a Bacula director (the role bacula, its catalog in the
PostgreSQL role) on rr-dir; rr-db registered through the platform's setting
(`platform apply --set backup_director=lab:rr-dir`). Deploying nginx on rr-db afterwards
registers it again in the same command (planned by `fossp plan` first): the director gets
nginx's job, which `fossp backup run` runs and `fossp backup list` shows; decommissioning
nginx takes the job off the director. With the director unreachable, a deploy on rr-db
still succeeds and the registration that failed is one line and exit 1, without a hang."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import director_packages

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
POSTGRESQL, BACULA = "FOSSP-DASPO", "FOSSP-BASBA"
PACKAGES = (*director_packages(), *role_packages(["platform", "nginx"]))
hosts = lab_fixture("rr-dir", "rr-db", packages=PACKAGES)
CONF = "/etc/bacula/fossp.d/rr-db.conf"
JOB = "nginx-on-rr-db"


def _fossp(*args: str, timeout: float = 600) -> Any:
    result = run_fossp(*args, "--json", timeout=timeout)
    assert result.returncode == 0, (
        f"fossp {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return json.loads(result.stdout)


def test_a_deploy_on_a_registered_host_registers_its_new_role(hosts: list[LabHost], tmp_path: Path) -> None:
    director, db = hosts
    profile = tmp_path / "director.yaml"
    roles = [{"id": POSTGRESQL, "hosts": [director.name]}, {"id": BACULA, "hosts": {"director": [director.name]}}]
    profile.write_text(yaml.safe_dump({"fossp_profile": 1, "roles": roles}))
    _fossp("deploy", "--profile", str(profile), "--target", director.target)

    # The setting registers rr-db: its file daemon answers the director's name, read there.
    applied = _fossp("platform", "apply", "--target", db.target, "--set", f"backup_director={director.target}")
    (registered,) = applied["backup"]
    assert registered["director"] == director.target and registered["jobs"] == {"platform": "platform-on-rr-db"}
    assert JOB not in ssh(director, "cat", CONF).stdout

    # `fossp plan nginx` plans the registration as it would be after the run, and writes nothing.
    planned = _fossp("plan", "nginx", "--target", db.target)
    (plan,) = planned["backup"]
    assert plan["jobs"]["nginx"] == JOB, plan
    assert [op["target"] for op in plan["plans"][1]["operations"] if op["change"]][:1] == [CONF], plan
    assert JOB not in ssh(director, "cat", CONF).stdout

    # The deploy registers rr-db again in the same command: nginx's job is on the director.
    deployed = _fossp("deploy", "nginx", "--target", db.target)
    assert deployed["hosts"][0]["ok"] and deployed["backup"][0]["jobs"]["nginx"] == JOB, deployed
    assert JOB in ssh(director, "cat", CONF).stdout
    assert json.loads(ssh(db, "cat", "/etc/fossp/backup.json").stdout)["jobs"]["nginx"] == JOB
    ran = _fossp("backup", "run", "nginx", "--target", db.target, timeout=300)
    assert ran["jobs"][0]["status"] == "ok", ran
    listed = _fossp("backup", "list", "--target", db.target)
    assert (JOB, "backup", "ok") in {(j["name"], j["type"], j["status"]) for j in listed["jobs"]}, listed

    # Decommissioning nginx takes its job off the director (its backups kept).
    _fossp("decommission", "nginx", "--target", db.target, "--yes")
    assert JOB not in ssh(director, "cat", CONF).stdout and "platform-on-rr-db" in ssh(director, "cat", CONF).stdout

    # The director unreachable: the deploy itself succeeds; the registration is one line, exit 1.
    ssh(director, "systemctl", "stop", "ssh.socket", "ssh.service", check=False)
    before = time.monotonic()
    down = run_fossp("deploy", "nginx", "--target", db.target, "--json", "--timeout", "connect=5", timeout=180)
    assert down.returncode == 1, (down.stdout, down.stderr)
    document = json.loads(down.stdout)
    assert document["hosts"][0]["ok"] and set(document["hosts"][0]["states"].values()) == {"running"}, document
    (failed,) = document["backup"]
    message = failed["error"]["message"]
    assert message.startswith(f"{db.target}: not registered: {director.target}: cannot reach"), message
    shown = run_fossp("deploy", "nginx", "--target", db.target, "--timeout", "connect=5", timeout=180)
    assert shown.returncode == 1 and [line for line in shown.stderr.splitlines() if "not registered" in line] == [
        message
    ], shown.stderr
    assert time.monotonic() - before < 120
