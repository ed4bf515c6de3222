"""Upgrades for real on lab hosts with a BTRFS root: Debian 12 -> 13 and back.

A host with PostgreSQL 15 (a table with rows), nginx and BIND:
- `upgrade check --to 13` names the PostgreSQL migration and passes the rest;
- `upgrade run --to 13` upgrades it, moves the rows to PostgreSQL 17 and every probe passes;
- a second host whose upgrade fails after its packages landed (a broken dpkg hook, as a
  real site would have one) is put back to Debian 12 by itself, rows and probes intact.
A fresh host with pending security updates takes an interim fix (only the named package
moves) and then a service pack (everything of the release, as a group, no reboot).
The packages of both releases come from the lab's local repositories.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import Any

import pytest

from fossp.lab import LabHost
from fossp.lab.paths import LabPaths
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import FOSSP, UNUSED_GATE_DB
from tests.documents import check_document

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
major_hosts = lab_fixture("up-a", "up-b")
fix_hosts = lab_fixture("up-c")
#: A dpkg hook that fails once PostgreSQL 17 is installed: the upgrade breaks after its packages.
FAILING_HOOK = 'DPkg::Post-Invoke { "if [ -e /usr/lib/postgresql/17/bin/postgres ]; then exit 1; fi"; };\n'


def fossp(*args: str, expect: int | None = 0, timeout: float = 1800, env_extra: dict[str, str] | None = None) -> Any:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "FOSSP_DB": f"sqlite:///{UNUSED_GATE_DB}"}
    env.update(env_extra or {})
    result = subprocess.run(
        [*FOSSP, *args, "--json"], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if expect is not None:
        assert result.returncode == expect, (
            f"fossp {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    check_document((*args, "--json"), result.stdout)
    return json.loads(result.stdout)


def _psql(host: LabHost, sql: str) -> str:
    psql = ["env", "--chdir=/", "runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", "shop", "-c", sql]
    return ssh(host, *psql).stdout.strip()


def _prepare(host: LabHost) -> None:
    fossp("deploy", "postgresql", "nginx", "bind", "--target", host.target)
    ssh(host, "env", "--chdir=/", "runuser", "-u", "postgres", "--", "createdb", "shop")
    _psql(host, "CREATE TABLE customers (name text); INSERT INTO customers VALUES ('Ada'), ('Grace')")


def _release(host: LabHost) -> str:
    return ssh(host, "cat", "/etc/debian_version").stdout.strip()


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report["checks"]}


def test_check_names_the_postgresql_migration_and_passes_the_rest(major_hosts: list[LabHost]) -> None:
    for host in major_hosts:
        _prepare(host)
    envelope = fossp("upgrade", "check", "--to", "13", "--target", major_hosts[0].target)
    assert envelope["schema_version"] and envelope["run_id"]
    [report] = envelope["reports"]
    assert report["leapp_run_id"] == envelope["run_id"]
    assert set(report["fossp"]["roles"]) == {"FOSSP-DASPO", "FOSSP-WDSNG", "FOSSP-NESBI"}  # read from os-release
    checks = _by_name(report)
    assert checks["roles.migrations"]["status"] == "needs_action"
    assert checks["roles.migrations"]["when"] == "after"
    [migration] = [e for e in report["entries"] if e["actor"] == "fossp.roles.migrations"]
    commands = [r["context"] for r in migration["detail"]["remediations"] if r["type"] == "command"]
    assert ["pg_upgradecluster", "15", "main", "-m", "upgrade", "--link"] in commands
    assert checks["roles.config"]["status"] == "passed"  # nginx -t and named-checkconf of trixie
    assert not report["inhibited"]
    assert {c["status"] for n, c in checks.items() if n != "roles.migrations"} <= {"passed", "not_applicable"}
    assert report["prediction"]["upgraded"] > 100 and report["prediction"]["download_bytes"] > 50 * 2**20
    assert _release(major_hosts[0]).startswith("12.")  # a check changes nothing


def test_a_major_upgrade_moves_the_rows_to_postgresql_17(major_hosts: list[LabHost]) -> None:
    host = major_hosts[0]
    result = fossp("upgrade", "run", "--to", "13", "--yes", "--target", host.target)
    [outcome] = result["hosts"]
    assert outcome["status"] == "upgraded", outcome["failure"]
    assert "reboot" in outcome["steps"]
    assert _release(host).startswith("13")
    clusters = ssh(host, "pg_lsclusters", "--no-header").stdout
    assert any(line.split()[:4] == ["17", "main", "5432", "online"] for line in clusters.splitlines()), clusters
    assert _psql(host, "SELECT string_agg(name, ',' ORDER BY name) FROM customers") == "Ada,Grace"
    assert _psql(host, "SHOW server_version").startswith("17")
    assert outcome["probes"] and all(p["ok"] for p in outcome["probes"])
    post = outcome["post_report"]
    assert post["phase"] == "post-upgrade"
    assert post["changes"]["release"]["to"].startswith("13") and post["changes"]["upgraded"] > 100
    [after] = [e for e in post["entries"] if e["actor"] == "fossp.roles.migrations"]
    assert ["pg_dropcluster", "15", "main"] in [r["context"] for r in after["detail"]["remediations"]]
    status = fossp("status", "--target", host.target)
    assert all(role["state"] == "running" for h in status["hosts"] for role in h["roles"])
    again = fossp("upgrade", "check", "--to", "13", "--target", host.target, "--no-config-check")
    assert not again["reports"][0]["inhibited"]  # the finished run does not block the next one


def test_a_failed_upgrade_restores_debian_12_with_the_rows(major_hosts: list[LabHost]) -> None:
    host = major_hosts[1]
    ssh(host, "sh", "-c", f"printf '%s' '{FAILING_HOOK}' > /etc/apt/apt.conf.d/99site-hook")
    result = fossp("upgrade", "run", "--to", "13", "--yes", "--target", host.target, "--no-config-check", expect=1)
    [outcome] = result["hosts"]
    assert outcome["status"] == "rolled-back", outcome
    assert "package upgrade" in outcome["failure"]
    assert _release(host).startswith("12.")
    assert ssh(host, "pg_lsclusters", "--no-header").stdout.split()[:4] == ["15", "main", "5432", "online"]
    assert _psql(host, "SELECT string_agg(name, ',' ORDER BY name) FROM customers") == "Ada,Grace"
    assert outcome["probes"] and all(p["ok"] for p in outcome["probes"])
    record = json.loads(ssh(host, "cat", "/var/lib/fossp/upgrade.json").stdout)
    assert record["finished"] and record["outcome"] == "rolled-back"
    # The failed state is kept for inspection: its root in the backup snapshot, its data beside the live data.
    assert outcome["backup_snapshot"] is not None
    kept = ssh(host, "ls", "-d", f"/var/lib/postgresql.fossp-failed-{result['run_id']}").stdout.strip()
    assert "15" in ssh(host, "ls", kept).stdout.split()  # the data as the failed upgrade left it


def _record_step(host: LabHost) -> str:
    """The upgrade record's step, read from the controller (the host's root is visible here)."""
    path = LabPaths.current().host_root(host.name) / "var/lib/fossp/upgrade.json"
    try:
        return str(json.loads(path.read_text())["step"])
    except (OSError, ValueError, KeyError):
        return ""


def test_an_upgrade_killed_midway_is_named_and_then_finished(major_hosts: list[LabHost]) -> None:
    host = major_hosts[1]
    ssh(host, "rm", "-f", "/etc/apt/apt.conf.d/99site-hook")
    env = {**os.environ, "FOSSP_DB": f"sqlite:///{UNUSED_GATE_DB}"}
    argv = [*FOSSP, "upgrade", "run", "--to", "13", "--yes", "--no-config-check", "--target", host.target]
    run = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while _record_step(host) != "packages" and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(8)  # into the package upgrade itself
    run.kill()
    run.wait()
    assert _record_step(host) == "packages", "the run ended before it could be killed in its package step"
    ssh(host, "sh", "-c", "while pgrep -x 'apt-get|dpkg' >/dev/null; do sleep 1; done")  # the orphaned apt ends
    check = fossp("upgrade", "check", "--to", "13", "--no-config-check", "--target", host.target, expect=1)
    stopped = _by_name(check["reports"][0])["host.upgrade-in-progress"]
    assert stopped["status"] == "inhibitor" and "stopped at step 'packages'" in stopped["message"]
    plan = fossp("plan", "nginx", "--target", host.target)
    assert "fossp upgrade restore" in json.dumps(plan)  # every command that reads the host names it

    finished = fossp("upgrade", "run", "--to", "13", "--yes", "--no-config-check", "--target", host.target)
    [outcome] = finished["hosts"]
    assert outcome["status"] == "upgraded", outcome["failure"]
    assert _release(host).startswith("13")
    assert _psql(host, "SELECT string_agg(name, ',' ORDER BY name) FROM customers") == "Ada,Grace"
    assert _psql(host, "SHOW server_version").startswith("17")


def _version(host: LabHost, package: str) -> str:
    return ssh(host, "dpkg-query", "-W", "-f", "${Version}", package).stdout


def test_a_download_that_fails_applies_nothing(fix_hosts: list[LabHost]) -> None:
    """The controller's download for a lab host goes through a proxy that refuses (a real network failure)."""
    [host] = fix_hosts
    shutil.rmtree(LabPaths.current().suites / "debian-12", ignore_errors=True)  # a cache: nothing to reuse
    before = ssh(host, "dpkg-query", "-W").stdout
    sources = ssh(host, "ls", "/etc/apt/sources.list.d").stdout
    refused = {"http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    result = fossp("upgrade", "run", "--level", "service-pack", "--yes", "-t", host.target, env_extra=refused, expect=1)
    [outcome] = result["hosts"]
    assert outcome["status"] == "failed" and "nothing applied" in outcome["failure"], outcome
    assert ssh(host, "dpkg-query", "-W").stdout == before
    assert ssh(host, "ls", "/etc/apt/sources.list.d").stdout == sources
    record = json.loads(ssh(host, "cat", "/var/lib/fossp/upgrade.json").stdout)
    assert record["finished"] and record["outcome"] == "nothing-applied"
    assert not fossp("upgrade", "check", "--to", "12", "-t", host.target)["reports"][0]["inhibited"]


def test_an_interim_fix_then_a_service_pack(fix_hosts: list[LabHost]) -> None:
    [host] = fix_hosts
    pending = fossp("upgrade", "check", "--to", "12", "--target", host.target)["reports"][0]
    assert pending["target"]["level"] == "service-pack" and pending["prediction"]["upgraded"] >= 2
    tzdata, libssl = _version(host, "tzdata"), _version(host, "libssl3")

    fix = fossp("upgrade", "run", "--level", "interim-fix", "--package", "openssl", "--yes", "--target", host.target)
    [outcome] = fix["hosts"]
    assert outcome["status"] == "upgraded", outcome["failure"]
    assert "reboot" not in outcome["steps"]
    assert _version(host, "libssl3") != libssl  # the named source package moved ...
    assert _version(host, "tzdata") == tzdata  # ... and nothing else

    pack = fossp("upgrade", "run", "--level", "service-pack", "--yes", "--target", host.target)
    [outcome] = pack["hosts"]
    assert outcome["status"] == "upgraded", outcome["failure"]
    assert "reboot" not in outcome["steps"] and outcome["pre_snapshot"] is not None
    assert _version(host, "tzdata") != tzdata
    left = fossp("upgrade", "check", "--to", "12", "--target", host.target)["reports"][0]["prediction"]
    assert left["upgraded"] == 0  # the whole release moved as a group
