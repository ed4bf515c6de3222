"""End-to-end on two lab hosts: a Bacula director (the role bacula, its catalog in the
PostgreSQL role) on bk-dir and PostgreSQL on bk-db. `fossp platform apply --backup-director`
registers bk-db's file daemon and a job per role with the director; `fossp backup run
postgresql` dumps the databases (the job's client run script) and backs them up; rows
deleted afterwards come back with `fossp backup restore postgresql`, which restores the
dump and loads it. `backup list` shows the jobs; BIND's job freezes and thaws its zones;
decommissioning BIND with --drop-backups takes its job off the director and its jobs out
of the catalog; a role
without backup_paths and a director that is down are each one line and exit 1, without
a hang."""

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
POSTGRESQL, BACULA, BIND = "FOSSP-DASPO", "FOSSP-BASBA", "FOSSP-NESBI"
PACKAGES = (*director_packages(), *role_packages(["platform", "bind"]))
backup_hosts = lab_fixture("bk-dir", "bk-db", packages=PACKAGES)
JOB = "postgresql-on-bk-db"


def _fossp(*args: str, timeout: float = 600) -> Any:
    result = run_fossp(*args, "--json", timeout=timeout)
    assert result.returncode == 0, (
        f"fossp {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return json.loads(result.stdout), result.stdout + result.stderr


def _psql(host: LabHost, sql: str) -> str:
    return ssh(host, "runuser", "-u", "postgres", "--", "psql", "-X", "-tA", "-d", "shop", "-c", sql).stdout.strip()


def test_backup_run_and_restore_bring_deleted_rows_back(backup_hosts: list[LabHost], tmp_path: Path) -> None:
    started = time.monotonic()
    director, db = backup_hosts
    profile = tmp_path / "backup.yaml"
    # The platform first on bk-db: the packages its roles add later are theirs alone, so
    # decommissioning one of them removes nothing the platform needs.
    roles = [
        {"id": "FOSSP-PLSPL", "hosts": [db.name]},
        {"id": POSTGRESQL, "hosts": [director.name, db.name]},
        {"id": BACULA, "hosts": {"director": [director.name]}},
        {"id": BIND, "hosts": [db.name]},
    ]
    profile.write_text(yaml.safe_dump({"fossp_profile": 1, "roles": roles}))
    deployed, _ = _fossp("deploy", "--profile", str(profile), "--target", director.target, "--target", db.target)
    states = {h["host"]: h["states"] for h in deployed["hosts"]}
    assert states[director.target] == {POSTGRESQL: "running", BACULA: "running"}, states  # its probes passed
    assert set(states[db.target].values()) == {"running"}, states

    ssh(db, "runuser", "-u", "postgres", "--", "createdb", "shop")
    _psql(
        db,
        "CREATE TABLE orders (id int PRIMARY KEY, item text); "
        "INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 50) g",
    )

    # A dry run of the registration plans the two files and writes neither.
    planned, _ = _fossp("platform", "apply", "--target", db.target, "--backup-director", director.target, "--dry-run")
    targets = [op["target"] for p in planned["backup"][0]["plans"] for op in p["operations"] if op["change"]]
    assert targets[:2] == ["/etc/fossp/backup.json", "/etc/bacula/fossp.d/bk-db.conf"], targets
    assert ssh(director, "test", "-e", "/etc/bacula/fossp.d/bk-db.conf", check=False).returncode == 1

    # Registration: the director's file for bk-db, bk-db's record; the password is never shown.
    applied, shown = _fossp("platform", "apply", "--target", db.target, "--backup-director", director.target)
    (registered,) = applied["backup"]
    assert registered["client"] == "bk-db-fd" and registered["jobs"]["postgresql"] == JOB, registered
    conf = ssh(director, "cat", "/etc/bacula/fossp.d/bk-db.conf").stdout
    password = next(line.split('"')[1] for line in conf.splitlines() if "Password" in line)
    assert password not in shown
    assert ssh(director, "stat", "-c", "%a %U:%G", "/etc/bacula/fossp.d/bk-db.conf").stdout.split() == [
        "640",
        "root:bacula",
    ]
    fd_conf = ssh(db, "cat", "/etc/bacula/bacula-fd.conf").stdout
    assert f'Password = "{password}"' in fd_conf and "Name = fossp-dir" in fd_conf
    again, _ = _fossp("platform", "apply", "--target", db.target, "--backup-director", director.target)
    assert sum(p["changes"] for p in again["backup"][0]["plans"]) == 0, again["backup"]

    ran, _ = _fossp("backup", "run", "postgresql", "--target", db.target)
    (job,) = ran["jobs"]
    assert job["name"] == JOB and job["status"] == "ok" and job["files"] > 0, job

    _psql(db, "DELETE FROM orders WHERE id > 10")
    assert _psql(db, "SELECT count(*) FROM orders") == "10"
    restored, _ = _fossp("backup", "restore", "postgresql", "--target", db.target)
    assert restored["backup_job"] == job["job_id"] and restored["loaded"], restored
    assert _psql(db, "SELECT count(*) FROM orders") == "50"
    assert _psql(db, "SELECT item FROM orders WHERE id = 42") == "item 42"

    # --to: the files only, under a folder; nothing is loaded.
    under, _ = _fossp("backup", "restore", "postgresql", "--target", db.target, "--to", "/var/tmp/pg-files")
    assert under["where"] == "/var/tmp/pg-files" and under["loaded"] == [], under
    dump = "/var/tmp/pg-files/var/lib/fossp/backup-dumps/postgresql/postgresql.sql"
    assert "CREATE TABLE public.orders" in ssh(db, "cat", dump).stdout

    listed, _ = _fossp("backup", "list", "--target", db.target)
    kinds = {(j["name"], j["type"], j["status"]) for j in listed["jobs"]}
    assert (JOB, "backup", "ok") in kinds and any(t == "restore" for _, t, _ in kinds), kinds

    # BIND's job runs rndc freeze first (a failing run script fails the job) and rndc thaw after.
    bind, _ = _fossp("backup", "run", "bind", "--target", db.target)
    assert bind["jobs"][0]["status"] == "ok" and bind["jobs"][0]["name"] == "bind-on-bk-db", bind

    # Decommissioning BIND with --drop-backups: its jobs leave the catalog and its job the director.
    removed, _ = _fossp("decommission", "bind", "--target", db.target, "--yes", "--drop-backups")
    (entry,) = removed["hosts"]
    assert entry["backup_jobs"]["jobs"] == ["bind-on-bk-db"] and entry["backup_jobs"]["dropped"], entry
    registered_conf = ssh(director, "cat", "/etc/bacula/fossp.d/bk-db.conf").stdout
    assert "bind-on-bk-db" not in registered_conf and JOB in registered_conf
    listed, _ = _fossp("backup", "list", "--target", db.target)
    assert not [j for j in listed["jobs"] if j["name"] == "bind-on-bk-db"], listed["jobs"]
    record = json.loads(ssh(db, "cat", "/etc/fossp/backup.json").stdout)
    assert record["jobs"] == {"postgresql": JOB, "platform": "platform-on-bk-db"}, record

    # Faults: a role without backup_paths; the director down. One line each, exit 1, no hang.
    none = run_fossp("backup", "run", "katello", "--target", db.target)
    assert none.returncode == 1 and "declares no backup_paths" in none.stderr, none.stderr
    assert len(none.stderr.strip().splitlines()) == 1, none.stderr
    ssh(director, "systemctl", "stop", "bacula-director.service")
    before = time.monotonic()
    down = run_fossp("backup", "run", "postgresql", "--target", db.target, timeout=120)
    assert down.returncode == 1, (down.stdout, down.stderr)
    assert director.target in down.stderr and "director" in down.stderr, down.stderr
    assert len(down.stderr.strip().splitlines()) == 1, down.stderr
    assert time.monotonic() - before < 90
    print(f"backup e2e took {time.monotonic() - started:.0f} s")
