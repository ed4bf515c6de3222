"""End-to-end on two lab hosts: Bacula as a multi-host role, the director with its storage
daemon and the catalog (in the PostgreSQL role) on ba-1, a client on ba-2. Debian's
bacula-director fails to install beside dbconfig-no-thanks unless the dbconfig answer
exists first (a preinstall step gives it). The probes run real backup jobs of each
member's probe folder and restore and compare them; a re-plan is empty; a stopped
storage daemon makes the backups fail; decommission returns both hosts' packages and /etc
to what they were."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.catalog import load_catalog
from fossp.lab import LabHost
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import director_packages, fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
ROLE, POSTGRESQL = "FOSSP-BASBA", "FOSSP-DASPO"
PACKAGES = director_packages()
bacula_hosts = lab_fixture("ba-1", "ba-2", packages=PACKAGES)
PROBE_FOLDER = "/var/lib/fossp/bacula-probe"
CONFIGS = ("bacula-dir.conf", "bacula-sd.conf", "bacula-fd.conf", "bconsole.conf")


def _fossp(*args: str) -> tuple[Any, str]:
    """fossp's JSON output and all it printed. A deploy installs PostgreSQL and Bacula on a
    shared 2-core machine, past run_fossp's default timeout: this one waits longer."""
    result = run_fossp(*args, "--json", timeout=600)
    assert result.returncode == 0, (
        f"fossp {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return json.loads(result.stdout), result.stdout + result.stderr


def _targets(hosts: list[LabHost]) -> list[str]:
    return [arg for host in hosts for arg in ("--target", host.target)]


def _probes(result: Any) -> dict[str, Any]:
    return {p["name"]: p for p in result["probes"]}


def _profile(tmp_path: Path, director: LabHost, client: LabHost) -> Path:
    """PostgreSQL first, on the director's host: the catalog steps need it running."""
    profile = tmp_path / "bacula.yaml"
    roles = [
        {"id": POSTGRESQL, "hosts": [director.name]},
        {"id": ROLE, "hosts": {"director": [director.name], "client": [client.name]}},
    ]
    profile.write_text(yaml.safe_dump({"fossp_profile": 1, "roles": roles}))
    profile.chmod(0o600)
    return profile


def _passwords(host: LabHost, name: str) -> set[str]:
    """The passwords a Bacula configuration file holds (the quoted values of its password lines)."""
    conf = ssh(host, "cat", f"/etc/bacula/{name}").stdout
    return {line.split('"')[1] for line in conf.splitlines() if "password" in line.lower() and '"' in line}


def _probe_argv(director: LabHost) -> list[str]:
    """The director's backup-restore probe as the deploy runs it. (`fossp status` runs a
    member's probes without its place in the role until the engine's member-aware status
    lands, so the test runs the probe's command itself.)"""
    probe = next(p for p in load_catalog().role("bacula").probes if p.name == "backup-restore")
    values = {"host_name": director.target, "director_first": director.target, "probe_folder": PROBE_FOLDER}
    return [arg.format_map(values) for arg in probe.argv or []]


def test_bacula_backs_up_and_restores_across_hosts(bacula_hosts: list[LabHost], tmp_path: Path) -> None:
    started = time.monotonic()
    director, client = bacula_hosts
    before = {host.name: snapshot(host) for host in bacula_hosts}
    profile = _profile(tmp_path, director, client)

    deployed, shown = _fossp("deploy", "--profile", str(profile), *_targets(bacula_hosts))
    results = {r["host"]: r for r in deployed["hosts"]}
    assert results[director.target]["states"] == {POSTGRESQL: "running", ROLE: "running"}, results
    assert results[client.target]["states"] == {ROLE: "running"}, results
    mine = _probes(results[director.target])
    assert {name: mine[name]["ok"] for name in ("director-status", "backup-restore")} == {
        "director-status": True,
        "backup-restore": True,
    }, mine
    assert "of ba-1-fd restored and identical" in mine["backup-restore"]["output"]
    theirs = _probes(results[client.target])
    assert theirs["client-backup-restore"]["ok"] is True, theirs
    assert "of ba-2-fd restored and identical" in theirs["client-backup-restore"]["output"]

    # FOSSP's configuration, private to bacula; the generated passwords are never shown.
    for name in CONFIGS:
        stat = ssh(director, "stat", "-c", "%a %U:%G", f"/etc/bacula/{name}").stdout.split()
        assert stat == ["640", "root:bacula"], (name, stat)
    assert ssh(client, "stat", "-c", "%a %U:%G", "/etc/bacula/bacula-fd.conf").stdout.split() == ["640", "root:bacula"]
    secrets = _passwords(director, "bacula-dir.conf")  # console, catalog, client, storage
    assert len(secrets) == 4 and all(len(s) == 48 for s in secrets), secrets
    assert not any(s in shown for s in secrets)
    assert len(_passwords(client, "bacula-fd.conf") & secrets) == 1  # the director's to the clients
    assert _passwords(director, "bacula-sd.conf") < secrets
    # the backups are volumes in the storage folder, the catalog holds the jobs
    assert ssh(director, "stat", "-c", "%U", "/srv/bacula/volumes").stdout.strip() == "bacula"
    assert ssh(director, "ls", "/srv/bacula/volumes").stdout.split() == ["fossp-vol-0001"]

    plans = fossp_json("plan", "--profile", str(profile), *_targets(bacula_hosts))["plans"]
    assert [plan["changes"] for plan in plans] == [0, 0], plans

    # Without the storage daemon no backup can be written: the probe fails, naming it.
    ssh(director, "systemctl", "stop", "bacula-sd.service")
    down = fossp_json("status", "--target", director.target, expect=1)["hosts"][0]
    role = next(r for r in down["roles"] if r["role"] == ROLE)
    assert role["state"] == "error" and any("bacula-sd.service" in p for p in role["problems"]), role
    probe = _probe_argv(director)
    failed = ssh(director, *probe, check=False)
    assert failed.returncode != 0 and "Storage daemon" in failed.stderr, failed
    ssh(director, "systemctl", "start", "bacula-sd.service")
    assert "restored and identical" in ssh(director, *probe).stdout

    undone, _ = _fossp("decommission", "--yes", *_targets(bacula_hosts))
    assert all(h["ok"] for h in undone["hosts"]), undone
    for host in bacula_hosts:
        assert snapshot(host) == before[host.name], host.name
    # the backups are data: only --purge removes the volumes (and the catalog)
    assert ssh(director, "ls", "/srv/bacula/volumes").stdout.split() == ["fossp-vol-0001"]
    print(f"bacula e2e: {time.monotonic() - started:.0f} s")
