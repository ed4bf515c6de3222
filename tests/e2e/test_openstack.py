"""End-to-end on a lab host: the OpenStack control plane (Keystone, Glance, Placement on
MariaDB and RabbitMQ, Debian 12's Zed) deployed with the MariaDB role. From the
controller, the probes get a token from Keystone and list Glance's images (the probe
image among them) and Placement's resource providers with it; a re-plan is empty; a
stopped glance-api or keystone fails the probes that need it; decommission --purge
returns the host's packages and /etc to what they were.

This is the heaviest install of the catalog (about 300 Debian packages): on the shared
2-core machine it takes minutes (see the cycle time this test prints)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from fossp.catalog.loader import load_catalog
from fossp.engine.probes import ProbeFailed, remote_prober
from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from . import conftest
from .conftest import snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
openstack_hosts = lab_fixture("os-1", packages=tuple(role_packages(["mariadb", "openstack"])))
PASSWORD_ENV = "FOSSP_TEST_OS_PASSWORD"


#: This role's install and purge take minutes each on the lab.
fossp_json = partial(conftest.fossp_json, timeout=900)


@pytest.fixture
def password() -> Iterator[str]:
    os.environ[PASSWORD_ENV] = "Admin-Secret-42"
    yield os.environ[PASSWORD_ENV]
    del os.environ[PASSWORD_ENV]


def settings(host: LabHost) -> tuple[str, ...]:
    return (
        "--set",
        f"openstack.admin_password={{from_env: {PASSWORD_ENV}}}",
        "--set",
        f"openstack.controller_host={host.address}",
    )


def probe_once(host: LabHost, name: str, password: str) -> str:
    """One try of the role's probe ``name`` from the controller (``fossp status`` skips it:
    the host's state keeps the admin's password only as a fingerprint)."""
    probe = next(p for p in load_catalog().role("openstack").probes if p.name == name)
    values: dict[str, Any] = {"admin_password": password}
    return asyncio.run(remote_prober(probe.kind)(host.address, probe.port or 0, probe, values, None))


def stopped_fails(host: LabHost, unit: str, probes: list[str], password: str) -> None:
    """With ``unit`` stopped, each probe fails; started again, they pass."""
    ssh(host, "systemctl", "stop", unit)
    for name in probes:
        with pytest.raises(ProbeFailed):
            probe_once(host, name, password)
    down = fossp_json("status", "--target", host.target, expect=1)["hosts"][0]["roles"]
    assert f"unit {unit} is inactive" in next(r for r in down if r["role"] == "FOSSP-CLSOS")["problems"], down
    ssh(host, "systemctl", "start", unit)
    deadline = time.monotonic() + 120
    while True:
        try:
            for name in probes:
                probe_once(host, name, password)
            return
        except ProbeFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def test_openstack_issues_a_token_lists_images_and_goes_without_a_trace(
    openstack_hosts: list[LabHost], password: str
) -> None:
    host = openstack_hosts[0]
    before = snapshot(host)
    started = time.monotonic()

    result = fossp_json("deploy", "mariadb", "openstack", "--target", host.target, *settings(host))["hosts"][0]
    deployed = time.monotonic() - started
    assert result["ok"] and result["states"] == {"FOSSP-DASMA": "running", "FOSSP-CLSOS": "running"}, result
    probes = {p["name"]: p for p in result["probes"]}
    assert {name: p["ok"] for name, p in probes.items()} == {
        "sql-query": True,
        "keystone-token": True,
        "glance-images": True,
        "placement-providers": True,
        "rabbitmq-amqp": True,
    }
    assert f"GET http://{host.address}:9292/v2/images: 200 OK" in probes["glance-images"]["output"]
    assert password not in str(result)
    modes = ssh(
        host,
        "stat",
        "-c",
        "%n %a %U:%G",
        "/etc/keystone/keystone.conf",
        "/etc/glance/glance-api.conf",
        "/etc/placement/placement.conf",
        "/etc/openstack/clouds.yaml",
    ).stdout.splitlines()
    assert modes == [
        "/etc/keystone/keystone.conf 640 root:keystone",
        "/etc/glance/glance-api.conf 640 root:glance",
        "/etc/placement/placement.conf 640 root:placement",
        "/etc/openstack/clouds.yaml 600 root:root",
    ]
    # the image list is Glance's own: the probe image is there, as the admin's CLI sees it
    listed = ssh(host, "openstack", "--os-cloud", "fossp", "image", "list", "-f", "value", "-c", "Name").stdout
    assert listed.split() == ["fossp-probe"]

    plan = fossp_json("plan", "mariadb", "openstack", "--target", host.target, *settings(host))["plans"][0]
    assert plan["changes"] == 0, plan

    stopped_fails(host, "glance-api.service", ["glance-images"], password)
    stopped_fails(host, "keystone.service", ["keystone-token", "glance-images", "placement-providers"], password)
    assert run_fossp("status", "--target", host.target, "--json").returncode == 0

    undone = fossp_json("decommission", "--purge", "--yes", "--target", host.target)["hosts"][0]
    assert undone["ok"] and sorted(undone["roles"]) == ["FOSSP-CLSOS", "FOSSP-DASMA"], undone
    packages, etc = snapshot(host)
    assert packages == before[0]
    # The MariaDB role's purge keeps debian.cnf: mariadb-server's postrm keeps it while
    # the databases exist, and FOSSP purges the data folder after the packages (as
    # test_more_roles.py finds for a decommission that keeps the data). Nothing else stays.
    assert sorted(set(etc) - set(before[1])) == ["/etc/mysql", "/etc/mysql/debian.cnf"]
    assert set(before[1]) <= set(etc)
    assert ssh(host, "test", "-e", "/var/lib/glance", check=False).returncode == 1
    print(f"openstack cycle: {time.monotonic() - started:.0f} s (deploy {deployed:.0f} s)")
