"""End-to-end on a lab host: tftp, MariaDB, Apache and HAProxy (in front of Apache)
deploy, pass their probes (TFTP, MySQL, HTTP), plan nothing more and decommission back
to the host as it was; the LDAP probe reads a real slapd's root DSE."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fossp.catalog.schema import Probe, ProbeKind, Protocol
from fossp.engine import probes
from fossp.lab import LabHost
from fossp.lab.testing import ssh, unavailable_reason

from .conftest import MORE_ROLES, fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
SETTINGS = ("--set", "haproxy.frontend_port=8081", "--set", "haproxy.backends=[127.0.0.1:80]")
APT = ("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q")


def _probe(host: LabHost, **fields: Any) -> str:
    """Run a controller-side probe once against the host (its services run already)."""
    probe = Probe(name="extra", description="e2e", **fields)
    return asyncio.run(probes.remote_prober(probe.kind)(host.address, probe.port or 0, probe, {}))


def test_more_roles_deploy_verify_again_decommission(more_hosts: list[LabHost]) -> None:
    host = more_hosts[0]
    before = snapshot(host)

    result = fossp_json("deploy", *MORE_ROLES, "--target", host.target, *SETTINGS)["hosts"][0]
    assert result["ok"] and set(result["states"].values()) == {"running"}, result
    assert {p["name"]: p["ok"] for p in result["probes"]} == {
        "tftp-read": True,
        "sql-query": True,
        "http-get": True,
        "config-test": True,
        "front-end": True,
        "config-valid": True,
    }
    served = _probe(host, kind=ProbeKind.TFTP, port=69, protocol=Protocol.UDP, path="fossp-probe", expect="FOSSP")
    assert "DATA block 1" in served
    proxied = _probe(host, kind=ProbeKind.HTTP, port=8081, path="/", status=200, expect="Served by FOSSP")
    assert "200 OK" in proxied
    databases = ssh(host, "mysql", "--batch", "--skip-column-names", "-e", "SHOW DATABASES").stdout.split()
    assert "fossp" in databases

    assert fossp_json("plan", *MORE_ROLES, "--target", host.target, *SETTINGS)["plans"][0]["changes"] == 0

    undone = fossp_json("decommission", "--yes", "--target", host.target)
    assert sorted(undone["hosts"][0]["roles"]) == ["FOSSP-DASMA", "FOSSP-HASHA", "FOSSP-NESTF", "FOSSP-WDSHT"]
    packages, etc = snapshot(host)
    # Debian's purge keeps MariaDB's databases, and with them the client file they need
    # ("never remove the debian.cnf when the databases are still existing": its postrm).
    assert packages == before[0]
    assert sorted(set(etc) - set(before[1])) == ["/etc/mysql", "/etc/mysql/debian.cnf"]
    assert set(before[1]) <= set(etc)


def test_ldap_probe_reads_a_real_root_dse(more_hosts: list[LabHost]) -> None:
    host = more_hosts[0]
    ssh(host, *APT, "install", "--no-install-recommends", "slapd")
    try:
        output = _probe(host, kind=ProbeKind.LDAP, port=389, expect="namingContexts")
        assert "result 0" in output
        with pytest.raises(OSError):
            _probe(host, kind=ProbeKind.LDAP, port=390, timeout=1)
    finally:
        ssh(host, *APT, "purge", "slapd")
