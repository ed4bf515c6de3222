"""Deploys bracketed by snapshots, and restore, on a lab host with a BTRFS root.

A deploy leaves a pre/post pair that `fossp snapshot list` shows with the run's id.
Restoring the pre snapshot of a later deploy returns the package list and /etc to what
they were, keeps a row written to PostgreSQL afterwards (its data lives on its own
subvolume), and after `fossp lab restart` the remaining role's probes pass.
`deploy --rollback-on-failure` puts the host back by itself when the run fails.
"""

from __future__ import annotations

import json

import pytest

from fossp.lab import LabHost
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
restore_hosts = lab_fixture("rs-1")


def _psql(host: LabHost, sql: str) -> str:
    psql = ["env", "--chdir=/", "runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", "fossp", "-c", sql]
    return ssh(host, *psql).stdout


def _booted(host: LabHost) -> None:
    """After a restart: wait for systemd to finish starting the host's units."""
    ssh(host, "systemctl", "is-system-running", "--wait", check=False)


def test_a_restore_reverts_the_system_and_keeps_the_data(restore_hosts: list[LabHost]) -> None:
    [host] = restore_hosts
    first = fossp_json("deploy", "postgresql", "--target", host.target)["hosts"][0]
    assert set(first["snapshots"]) == {"pre", "post"}
    listed = fossp_json("snapshot", "list", "--target", host.target)["hosts"][0]["snapshots"]
    pair = {s["number"]: s for s in listed if s["run_id"] == first["run_id"]}
    assert [pair[n]["type"] for n in sorted(pair)] == ["pre", "post"]
    assert pair[first["snapshots"]["post"]]["pre_number"] == first["snapshots"]["pre"]

    before_nginx = snapshot(host)
    second = fossp_json("deploy", "nginx", "--target", host.target)["hosts"][0]
    _psql(host, "CREATE TABLE customers (name text); INSERT INTO customers VALUES ('Ada Lovelace')")
    assert snapshot(host) != before_nginx

    pre = second["snapshots"]["pre"]
    unasked = run_fossp("restore", str(pre), "--target", host.target)
    assert unasked.returncode == 2 and "--yes" in unasked.stderr  # no terminal, no --yes: nothing changed
    assert "fossp-next-root" not in ssh(host, "ls", "/.snapshots").stdout

    restored = fossp_json("restore", str(pre), "--target", host.target, "--yes")
    assert "/var/lib/postgresql" in str(restored)  # named as kept
    fossp_json("lab", "restart", host.name)
    _booted(host)
    assert snapshot(host) == before_nginx  # packages and /etc as before nginx came
    assert _psql(host, "SELECT name FROM customers").strip() == "Ada Lovelace"  # the data stayed
    status = fossp_json("status", "--target", host.target)["hosts"][0]["roles"]
    assert [(r["name"], r["state"]) for r in status] == [("postgresql", "running")]  # FOSSP's state too
    assert all(p["ok"] for r in status for p in r["probes"])


def test_rollback_on_failure_puts_the_host_back(restore_hosts: list[LabHost]) -> None:
    [host] = restore_hosts
    before = snapshot(host)
    ssh(host, "sh", "-c", "mkdir -p /srv && echo 'a file where the site must go' > /srv/www")
    blocked = snapshot(host)
    result = run_fossp("deploy", "nginx", "--target", host.target, "--rollback-on-failure", "--json")
    assert result.returncode == 1, result.stderr
    [outcome] = json.loads(result.stdout)["hosts"]
    assert not outcome["ok"] and "/srv/www" in outcome["error"]["message"]
    assert outcome["rollback"]["number"] == outcome["snapshots"]["pre"] and outcome["rollback"]["restarted"]
    _booted(host)
    assert snapshot(host) == blocked == before  # nginx's packages and files are gone again
    status = fossp_json("status", "--target", host.target)["hosts"][0]["roles"]
    assert [r["name"] for r in status] == ["postgresql"]
