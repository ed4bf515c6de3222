"""End-to-end on a lab host: a 389 Directory Server instance made with dscreate (its root
password only on standard input), proven over LDAP and over LDAPS against the instance's
own CA; a stopped instance fails its probes; a re-plan is empty; decommission --purge
archives the instance and returns the host's packages and /etc to what they were."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
directory_hosts = lab_fixture("dir-1", packages=tuple(role_packages(["389ds"])))
PASSWORD_ENV = "FOSSP_TEST_DS_PASSWORD"
SETTINGS = ("--set", f"389ds.root_password={{from_env: {PASSWORD_ENV}}}", "--set", "389ds.fqdn=dir-1.fossp.test")


@pytest.fixture
def password() -> Iterator[str]:
    os.environ[PASSWORD_ENV] = "Directory-Secret-42"
    yield os.environ[PASSWORD_ENV]
    del os.environ[PASSWORD_ENV]


def test_389ds_deploys_binds_over_ldaps_and_goes_without_a_trace(directory_hosts: list[LabHost], password: str) -> None:
    host = directory_hosts[0]
    before = snapshot(host)
    started = time.monotonic()

    result = fossp_json("deploy", "389ds", "--target", host.target, *SETTINGS)["hosts"][0]
    assert result["ok"] and result["states"] == {"FOSSP-LDS38": "running"}, result
    probes = {p["name"]: p for p in result["probes"]}
    assert {name: p["ok"] for name, p in probes.items()} == {
        "root-dse": True,
        "ldaps-bind": True,
        "instance-status": True,
    }
    assert "simple (cn=Directory Manager) bind" in probes["ldaps-bind"]["output"]
    assert password not in str(result)
    # the inf with the password went through a private temporary file that is gone
    assert ssh(host, "find", "/tmp", "-type", "f", "-name", "tmp.*").stdout == ""
    assert "instance_name" not in ssh(host, "ls", "/etc/dirsrv/slapd-localhost").stdout

    assert fossp_json("plan", "389ds", "--target", host.target, *SETTINGS)["plans"][0]["changes"] == 0

    ssh(host, "systemctl", "stop", "dirsrv@localhost.service")
    down = fossp_json("status", "--target", host.target, expect=1)["hosts"][0]["roles"][0]
    assert down["state"] == "error" and "unit dirsrv@localhost.service is inactive" in down["problems"], down
    with pytest.raises(OSError), socket.create_connection((host.address, 636), timeout=5):
        pass  # nothing answers LDAPS any more
    ssh(host, "systemctl", "start", "dirsrv@localhost.service")
    ssh(host, "dsctl", "localhost", "status")  # the instance answers again (status probes do not retry)
    back = run_fossp("status", "--target", host.target, "--json")
    assert back.returncode == 0, back.stdout

    undone = fossp_json("decommission", "--purge", "--yes", "--target", host.target)["hosts"][0]
    assert undone["ok"] and undone["roles"] == ["FOSSP-LDS38"], undone
    assert snapshot(host) == before
    assert ssh(host, "test", "-e", "/var/lib/dirsrv", check=False).returncode == 1
    print(f"389ds cycle: {time.monotonic() - started:.0f} s")
