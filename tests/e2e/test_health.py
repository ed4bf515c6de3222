"""End-to-end on a lab host with PostgreSQL, then the platform: `fossp health` reads the host's
and the roles' health over real SNMPv3 (authPriv) from the controller; a stopped service
turns the host unhealthy within one probe interval and back once it runs; a stopped health
timer makes the tree stale; an agent that is down is one line and exit 1; a decommissioned
role leaves the tree; Net-SNMP's own snmpwalk reads the same OIDs."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_hosts, ssh, unavailable_reason
from fossp.platform.health import ROOT
from tests.conftest import FOSSP, run_fossp

from .conftest import fossp_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
INTERVAL = 5


@pytest.fixture(scope="module")
def host() -> Iterator[LabHost]:
    with lab_hosts("he-1", packages=(*role_packages(["platform", "postgresql"]), "snmp")) as hosts:
        yield hosts[0]


def _health(target: str) -> tuple[int, dict[str, Any]]:
    result = run_fossp("health", "--target", target, "--json", timeout=60)
    return result.returncode, json.loads(result.stdout)["hosts"][0]


def _until(target: str, wanted: Callable[[int, dict[str, Any]], bool], within: float) -> tuple[float, dict[str, Any]]:
    """Seconds until `fossp health` answers as ``wanted``, and that answer."""
    started = time.monotonic()
    while True:
        code, report = _health(target)
        if wanted(code, report):
            return time.monotonic() - started, report
        assert time.monotonic() - started < within, (report.get("problems"), report.get("error"))
        time.sleep(0.5)


def _role(report: dict[str, Any], role_id: str) -> dict[str, Any]:
    return next(role for role in report["roles"] if role["role"] == role_id)


def test_health_over_snmp(host: LabHost) -> None:
    target = f"lab:{host.name}"
    # PostgreSQL first, the platform after: its checks file comes with the platform, its log
    # subvolume moves into the platform's /var/log subvolume whole
    fossp_json("deploy", "postgresql", "--target", target, timeout=1200)
    ssh(host, "sh", "-c", "echo before-the-layout > /var/log/postgresql/fossp-marker")
    platform = ["platform", "apply", "--target", target, "--set", f"health_interval={INTERVAL}"]
    deployed = fossp_json(*platform, timeout=1200)["hosts"][0]
    assert deployed["states"] == {"FOSSP-PLSPL": "running"}, deployed
    assert ssh(host, "cat", "/var/log/postgresql/fossp-marker").stdout == "before-the-layout\n"
    subvolumes = ssh(host, "stat", "-c", "%i %d", "/var/log", "/var/log/postgresql").stdout.split("\n")
    assert subvolumes[0].startswith("256 ") and subvolumes[1].startswith("256 ") and subvolumes[0] != subvolumes[1]

    # read from the controller over SNMPv3, the agent's own passphrases kept here 0600
    _, report = _until(target, lambda code, r: code == 0 and len(r.get("roles", [])) == 2, within=30)
    assert report["status"] == "ok" and report["interval_seconds"] == INTERVAL
    postgresql = _role(report, "FOSSP-DASPO")
    assert [(p["name"], p["kind"], p["ok"]) for p in postgresql["probes"]] == [
        ("postgresql.service", "unit", True),
        ("sql-query", "postgresql", True),
    ]
    assert report["system"]["file_systems"] and report["system"]["memory_total_kb"] > 0

    # a stopped service: unhealthy within one interval (and the table says which check)
    ssh(host, "systemctl", "stop", "postgresql.service")
    took, report = _until(target, lambda code, r: code == 1, within=INTERVAL * 4)
    assert took <= INTERVAL + 3, f"unhealthy only after {took:.1f} s (interval {INTERVAL} s)"
    postgresql = _role(report, "FOSSP-DASPO")
    assert report["status"] == "unhealthy" and postgresql["ok"] is False
    failed = {p["name"]: p["message"] for p in postgresql["probes"] if not p["ok"]}
    assert failed.keys() == {"postgresql.service", "sql-query"}, failed
    assert failed["postgresql.service"] == "inactive"
    assert any(problem.startswith("postgresql: ") for problem in report["problems"])
    human = run_fossp("health", "--target", target)
    assert human.returncode == 1 and f"{target}\tpostgresql\tsql-query\tFAIL\t" in human.stdout

    ssh(host, "systemctl", "start", "postgresql.service")
    took, _ = _until(target, lambda code, r: code == 0, within=INTERVAL * 4)
    assert took <= INTERVAL + 3

    # what a monitoring system reads: the same OIDs with Net-SNMP's snmpwalk (on the host)
    ssh(host, "sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq snmp >/dev/null")
    walk = ssh(host, "sh", "-c", f"{SNMPWALK} -On 127.0.0.1 .{ROOT}.4.1.3").stdout
    assert walk.splitlines() == [
        f'.{ROOT}.4.1.3.1 = STRING: "platform"',
        f'.{ROOT}.4.1.3.2 = STRING: "postgresql"',
    ]

    # --watch: a document per read until interrupted
    watch = subprocess.Popen(
        [*FOSSP, "health", "--target", target, "--watch", "--every", "1", "--json"], stdout=subprocess.PIPE, text=True
    )
    stuck = threading.Timer(90, watch.kill)  # a loaded machine starts fossp slowly; never forever
    stuck.start()
    lines = []
    while len(lines) < 2 and (line := watch.stdout.readline() if watch.stdout else ""):
        lines.append(json.loads(line))
    stuck.cancel()
    watch.send_signal(signal.SIGINT)
    watch.communicate(timeout=30)
    assert len(lines) == 2 and all(line["hosts"][0]["ok"] for line in lines), lines
    assert watch.returncode == 0

    # no timer: the tree turns stale after three intervals
    ssh(host, "systemctl", "stop", "fossp-health.timer")
    _, report = _until(target, lambda code, r: r.get("status") == "stale", within=INTERVAL * 6)
    assert report["ok"] is False and "the health timer is not running" in report["problems"][0]
    ssh(host, "systemctl", "start", "fossp-health.timer")

    # an agent that does not answer: one line, exit 1, soon
    ssh(host, "systemctl", "stop", "snmpd.service")
    started = time.monotonic()
    down = run_fossp("health", "--target", target, "--timeout", "1")
    assert time.monotonic() - started < 10
    assert down.returncode == 1
    assert down.stdout.strip() == f"{target}: UNREADABLE: SNMP agent at {host.address}:161/udp (authPriv): no answer"
    ssh(host, "systemctl", "start", "snmpd.service")

    # a decommissioned role leaves the tree; the platform stays watched; the packages
    # PostgreSQL brought that the platform's packages came to need stay (sssd needs libldap)
    removed = fossp_json("decommission", "postgresql", "--target", target, "--yes", timeout=600)["hosts"][0]
    assert "libldap-2.5-0" in removed["kept_packages"] and "postgresql-15" in removed["removed_packages"]
    assert ssh(host, "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "sssd").stdout.startswith("ii")
    assert ssh(host, "ls", "/etc/fossp/health.d").stdout.split() == ["platform.conf"]
    _, report = _until(target, lambda code, r: code == 0 and len(r.get("roles", [])) == 1, within=INTERVAL * 4)
    assert [role["role"] for role in report["roles"]] == ["FOSSP-PLSPL"]


#: snmpwalk as the agent's own user (the passphrases stay on the host).
SNMPWALK = (
    'set -- $(grep ^createUser /etc/snmp/snmpd.conf); snmpwalk -v3 -l authPriv -u "$2" -a SHA -A "$4" -x AES -X "$6"'
)
