"""Backups through the Bacula director, the pure parts: what a role's job backs up and
runs before and after (from backup_paths, the recipe's dump, backup_prepare/finish), the
director's file for a registered host, bconsole's answers, and the one owner of the
file daemon's configuration on a host with both the platform and the bacula role."""

from __future__ import annotations

import base64
import re
import shlex

import pytest

from fossp.catalog import load_catalog
from fossp.catalog.schema import Family
from fossp.engine.backup import (
    Registration,
    bacula_command,
    console_failure,
    job_row,
    parse_llist,
    queued_job,
    registered_file,
    registration,
    role_backup,
)
from fossp.engine.planner import plan_host, plan_owned_file, wanted_roles
from fossp.engine.render import render_template
from fossp.engine.state import HostState, Instance, InstanceState
from fossp.errors import Finding

from .conftest import recorded


def _decoded(command: str) -> str:
    """The script a RunScript command carries (Bacula splits at spaces, quotes group)."""
    words = shlex.split(command)
    assert words[:2] == ["/bin/sh", "-c"] and len(words) == 3
    encoded = re.fullmatch(r"echo ([A-Za-z0-9+/=]+) \| base64 -d \| /bin/sh", words[2])
    assert encoded, words[2]
    return base64.b64decode(encoded.group(1)).decode()


def test_postgresql_job_dumps_into_a_folder_its_file_set_includes() -> None:
    role = load_catalog().role("postgresql")
    backup = role_backup(role, Family.DEBIAN, {"port": 5433}, "lab:db")
    assert backup.files == ["/var/lib/postgresql", "/etc/postgresql", "/var/lib/fossp/backup-dumps/postgresql"]
    (dump,) = backup.dumps
    assert dump.path == "/var/lib/fossp/backup-dumps/postgresql/postgresql.sql"
    assert "5433" in dump.argv and "psql" in dump.restore
    script = backup.before() or ""
    assert script.startswith("set -e\nmkdir -p -m 700 /var/lib/fossp/backup-dumps/postgresql\n")
    assert (
        "pg_dumpall -p 5433 --clean --if-exists > /var/lib/fossp/backup-dumps/postgresql/postgresql.sql.part" in script
    )
    assert script.endswith(
        "mv -f /var/lib/fossp/backup-dumps/postgresql/postgresql.sql.part "
        "/var/lib/fossp/backup-dumps/postgresql/postgresql.sql\n"
    )
    assert backup.after() is None


def test_bind_freezes_before_and_thaws_after() -> None:
    backup = role_backup(load_catalog().role("bind"), Family.FEDORA, {}, "lab:ns")
    assert backup.files == ["/etc/named.conf", "/var/named"] and backup.dumps == []
    assert backup.before() == "set -e\nrndc freeze\n" and backup.after() == "rndc thaw\n"


def test_a_role_without_backup_paths_is_a_finding() -> None:
    role = load_catalog().role("katello")
    with pytest.raises(Finding, match=r"lab:k: katello \(FOSSP-\w+\) declares no backup_paths for debian"):
        role_backup(role, Family.DEBIAN, {}, "lab:k")


def test_a_run_script_travels_without_percent_quotes_or_spaces_bacula_would_read() -> None:
    script = "set -e\nprintf '%s\\n' \"a b\" > /tmp/x\n"
    command = bacula_command(script)
    assert "%" not in command and '"' not in command
    assert _decoded(command) == script


def _registration(password: str | None) -> Registration:
    catalog = load_catalog()
    backups = [
        role_backup(catalog.role(name), Family.DEBIAN, {"port": 5432}, "lab:bk-db") for name in ("postgresql", "bind")
    ]
    return Registration("lab:bk-db", "10.0.0.7", Family.DEBIAN, password, backups, [])


def test_director_file_has_the_client_a_file_set_and_a_job_per_role() -> None:
    text = render_template("bacula/registered-host.conf.j2", _registration("s3cret").director_values(30)).decode()
    assert "Client {\n  Name = bk-db-fd\n  Address = 10.0.0.7\n" in text and 'Password = "s3cret"' in text
    assert "File Retention = 30 days" in text
    assert "FileSet {\n  Name = postgresql-on-bk-db\n" in text
    assert '    File = "/var/lib/fossp/backup-dumps/postgresql"\n' in text
    job = text.split("Job {\n  Name = postgresql-on-bk-db\n", 1)[1].split("\n}\n", 1)[0]
    assert "Client = bk-db-fd" in job and "FileSet = postgresql-on-bk-db" in job and "RunsWhen = Before" in job
    assert "RunsWhen = After" not in job  # pg_dumpall needs no step after
    command = re.search(r'Command = "(.*)"', job)
    assert command and "pg_dumpall" in _decoded(command.group(1))
    bind = text.split("Job {\n  Name = bind-on-bk-db\n", 1)[1]
    assert "RunsWhen = After" in bind and "RunsOnFailure = yes" in bind


def test_a_member_of_the_bacula_role_keeps_the_client_its_director_has() -> None:
    text = render_template("bacula/registered-host.conf.j2", _registration(None).director_values(60)).decode()
    assert "Client {" not in text and "Client = bk-db-fd" in text


def test_registration_takes_the_running_roles_and_names_those_without_paths() -> None:
    state = HostState()
    for role_id, name, status in (
        ("FOSSP-DASPO", "postgresql", InstanceState.RUNNING),
        ("FOSSP-WDSNG", "nginx", InstanceState.ERROR),
    ):
        state.instances[role_id] = Instance(role_id=role_id, role_name=name, state=status, settings={"port": 5432})
    katello = load_catalog().role("katello")
    state.instances[katello.id] = Instance(role_id=katello.id, role_name="katello", state=InstanceState.READY)
    found = registration("lab:bk-db", "10.0.0.7", Family.DEBIAN, state, dict(load_catalog().roles), "pw")
    assert [b.role.name for b in found.backups] == ["postgresql"]
    assert len(found.skipped) == 1 and "katello" in found.skipped[0]
    assert found.record("lab:bk-dir") == {
        "fossp_backup": 1,
        "director": "lab:bk-dir",
        "client": "bk-db-fd",
        "jobs": {"postgresql": "postgresql-on-bk-db"},
    }
    state.instances["FOSSP-BASBA"] = Instance(role_id="FOSSP-BASBA", role_name="bacula", state=InstanceState.RUNNING)
    assert registration("h", "a", Family.DEBIAN, state, dict(load_catalog().roles), "pw").password is None


LLIST = """Connecting to Director localhost:9101
1000 OK: 103 fossp-dir Version: 9.6.7 (10 December 2020)
Enter a period to cancel a command.
llist jobs client=bk-db-fd
Automatically selected Catalog: fossp-catalog
Using Catalog "fossp-catalog"
           JobId: 3
             Job: postgresql-on-bk-db.2026-12-04_02.10.01_03
            Name: postgresql-on-bk-db
            Type: B
           Level: F
       JobStatus: T
       StartTime: 2026-12-04 02:10:03
        JobFiles: 1,211
        JobBytes: 8,433,001

           JobId: 4
            Name: fossp-restore
            Type: R
           Level: F
       JobStatus: R
       StartTime: 2026-12-04 02:11:00
        JobFiles: 0
        JobBytes: 0
"""


def test_llist_records_become_job_rows() -> None:
    rows = [job_row(r) for r in parse_llist(LLIST)]
    assert rows == [
        {
            "job_id": 3,
            "name": "postgresql-on-bk-db",
            "type": "backup",
            "level": "F",
            "status": "ok",
            "started": "2026-12-04 02:10:03",
            "files": 1211,
            "bytes": 8433001,
        },
        {
            "job_id": 4,
            "name": "fossp-restore",
            "type": "restore",
            "level": "F",
            "status": "running",
            "started": "2026-12-04 02:11:00",
            "files": 0,
            "bytes": 0,
        },
    ]


def test_queued_job_and_a_director_that_does_not_answer() -> None:
    assert queued_job('Using Catalog "c"\nJob queued. JobId=17\nYou have messages.\n') == 17
    assert queued_job("Job failed.\n") is None
    assert console_failure(LLIST, "lab:bk-dir") is None
    refused = "Connecting to Director localhost:9101\nFailed to connect to Director daemon. ERR=Connection refused\n"
    assert console_failure(refused, "lab:bk-dir") == (
        "lab:bk-dir: the Bacula director does not answer bconsole: Failed to connect"
    )
    assert "no answer" in (console_failure("", "lab:bk-dir") or "")


def test_the_platform_leaves_the_file_daemon_to_a_bacula_member() -> None:
    facts = recorded("debian12-bare")
    wanted = wanted_roles(load_catalog(), [("platform", {})], {}, "lab:pa-1")
    alone = next(
        op for op in plan_host(facts, wanted, HostState()).operations if op.target == "/etc/bacula/bacula-fd.conf"
    )
    assert alone.change
    state = HostState(instances={"FOSSP-BASBA": Instance(role_id="FOSSP-BASBA", role_name="bacula")})
    beside = next(op for op in plan_host(facts, wanted, state).operations if op.target == "/etc/bacula/bacula-fd.conf")
    assert not beside.change and beside.reason == "left to the role bacula, which writes it on this host"


def test_the_directors_file_is_planned_private_with_the_directors_restart() -> None:
    bacula = load_catalog().role("bacula")
    ops = plan_owned_file(
        bacula,
        "director",
        _registration("pw").director_values(60),
        registered_file("lab:bk-db"),
        recorded("debian12-bare"),
        HostState(),
    )
    (write,) = [op for op in ops if op.change]  # the director is not running there: no restart
    assert (write.target, write.mode, write.owner) == ("/etc/bacula/fossp.d/bk-db.conf", "640", "root:bacula")
    assert write.restarts == ["bacula-director.service"]  # not the file daemon or the storage daemon
