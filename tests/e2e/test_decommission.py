"""End-to-end on lab hosts: decommission keeps a PostgreSQL cluster by default (packages and
/etc go back to what they were, a redeploy finds the table again); --purge without --yes
in a script changes nothing; --purge --yes leaves an archive and a dump on the controller,
and the dump restores into a fresh PostgreSQL on another host."""

from __future__ import annotations

import os
import pty
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from fossp.lab import LabHost
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import FOSSP, run_fossp

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
dc_hosts = lab_fixture("dc-1", "dc-2")
CLUSTER = "/var/lib/postgresql/15/main"


def _sql(host: LabHost, query: str) -> str:
    """One query in the application database, as the postgres superuser."""
    argv = ["env", "--chdir=/", "runuser", "-u", "postgres", "--", "psql", "-X", "-d", "fossp", "-tAc", query]
    return ssh(host, *argv).stdout.strip()


def _on_a_terminal(*args: str, answer: str) -> subprocess.CompletedProcess[str]:
    """`fossp ARGS` with a terminal as its standard input, answering its question."""
    controller, terminal = pty.openpty()
    os.write(controller, f"{answer}\n".encode())
    try:
        return subprocess.run([*FOSSP, *args], stdin=terminal, capture_output=True, text=True, timeout=120, check=False)
    finally:
        os.close(terminal)
        os.close(controller)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_decommission_keeps_the_data_and_purge_leaves_a_dump_that_restores(
    dc_hosts: list[LabHost], tmp_path: Path
) -> None:
    host, fresh = dc_hosts
    before = snapshot(host)
    fossp_json("deploy", "postgresql", "--target", host.target)
    _sql(host, "CREATE TABLE customers (name text); INSERT INTO customers VALUES ('Ada Lovelace')")
    table = _sql(host, "SELECT pg_relation_filepath('customers')")

    kept = fossp_json("decommission", "--yes", "--target", host.target)["hosts"][0]
    assert kept["ok"] and kept["kept"] == ["/var/lib/postgresql", "/var/log/postgresql"]
    ssh(host, "test", "-s", f"{CLUSTER}/{table}")
    assert snapshot(host) == before  # packages and /etc as before the deploy

    fossp_json("deploy", "postgresql", "--target", host.target)
    assert _sql(host, "SELECT name FROM customers") == "Ada Lovelace"  # the kept cluster, adopted

    declined = _on_a_terminal("decommission", "--target", host.target, answer="n")
    assert declined.returncode == 1 and "Remove FOSSP-DASPO from lab:dc-1? [y/N]" in declined.stderr
    assert "+ keep-data" in declined.stdout and "nothing changed" in declined.stderr

    refused = run_fossp("decommission", "--purge", "--target", host.target, stdin="")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--yes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert _sql(host, "SELECT name FROM customers") == "Ada Lovelace"

    backups = tmp_path / "backups"
    purging = ("--purge", "--yes", "--backup-dir", str(backups), "--target", host.target)
    purged = fossp_json("decommission", *purging)["hosts"][0]
    folder = Path(purged["backups"]["FOSSP-DASPO"])
    assert folder.parent == backups / host.target and _mode(folder) == 0o700
    dump, archive = folder / "postgresql.sql", folder / "data.tar"
    assert _mode(dump) == _mode(archive) == 0o600
    with tarfile.open(archive) as tar:
        assert f"{CLUSTER.lstrip('/')}/{table}" in tar.getnames()
    assert ssh(host, "test", "-e", "/var/lib/postgresql", check=False).returncode == 1
    assert snapshot(host) == before

    fossp_json("deploy", "postgresql", "--target", fresh.target)
    restore = purged["restore"][str(dump)]
    subprocess.run(fresh.ssh_command(*restore), input=dump.read_bytes(), capture_output=True, check=True, timeout=120)
    assert _sql(fresh, "SELECT name FROM customers") == "Ada Lovelace"
