"""End-to-end on three lab hosts: the Corosync + Pacemaker roles as multi-host roles.

High availability (corosync-ha) on ha-1..ha-3: FOSSP writes corosync.conf (knet, the
three members, votequorum) and the shared authkey on every member, Debian's single-node
cluster from the install is stopped and its CIB dropped, and once every member runs, the
first one sets stonith-enabled and creates the floating address (IPaddr2, 10.213.0.201
from the lab's reserved 10.213.0.200-249). The probes see quorum, all three members, the
resource started and the address answering TCP; the controller reaches it too. Stopping
the cluster on the node that holds the address moves it to another node, where it still
answers, and the two left keep quorum. Decommission restores every host.

Failover clustering (corosync-failover) then runs on two of the hosts with two_node
quorum, the udpu transport and no-quorum-policy ignore: stopping one node leaves the other
quorate. Decommission restores both hosts.

stonith-enabled is off: the lab has no fence device (no power switch or IPMI for its
hosts, and no watchdog for sbd, as the lab kernel has no softdog), and with fencing on and
no device Pacemaker starts no resource at all.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
ha_hosts = lab_fixture("ha-1", "ha-2", "ha-3", packages=tuple(role_packages(["corosync-ha", "corosync-failover"])))
VIP = "10.213.0.201"
STARTED = time.monotonic()


def _deploy(tmp_path: Path, name: str, role: Mapping[str, object], hosts: list[LabHost]) -> list[dict[str, object]]:
    profile = tmp_path / f"{name}.yaml"
    profile.write_text(yaml.safe_dump({"roles": [dict(role)]}))
    targets = [arg for host in hosts for arg in ("--target", host.target)]
    results = fossp_json("deploy", "--profile", str(profile), *targets)["hosts"]
    again = fossp_json("plan", "--profile", str(profile), *targets)["plans"]
    assert [plan["changes"] for plan in again] == [0] * len(hosts), again
    return list(results)


def _probes(result: dict[str, object]) -> dict[str, bool]:
    probes = result["probes"]
    assert isinstance(probes, list)
    return {probe["name"]: probe["ok"] for probe in probes}


def _until(what: str, check: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(1)


def _quorum(host: LabHost) -> str:
    return ssh(host, "corosync-quorumtool", "-s", check=False).stdout


def _holder(hosts: list[LabHost]) -> LabHost | None:
    """The host whose interface has the floating address."""
    for host in hosts:
        if f" {VIP}/24 " in ssh(host, "ip", "-o", "-4", "addr", "show").stdout:
            return host
    return None


def _answers(address: str, port: int = 22) -> bool:
    """A TCP connect from the controller."""
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def _stop(host: LabHost) -> None:
    ssh(host, "systemctl", "stop", "pacemaker.service", "corosync.service")


def _start(host: LabHost) -> None:
    ssh(host, "systemctl", "start", "corosync.service", "pacemaker.service")


def test_ha_floating_address_moves_when_its_node_stops(ha_hosts: list[LabHost], tmp_path: Path) -> None:
    before = {host.name: snapshot(host) for host in ha_hosts}
    role = {
        "id": "FOSSP-HASCO",
        "settings": {"virtual_ip": VIP, "cidr_netmask": 24, "stonith_enabled": False},
        "hosts": [host.name for host in ha_hosts],
    }
    results = _deploy(tmp_path, "ha", role, ha_hosts)
    for result in results:
        assert result["ok"] and result["states"] == {"FOSSP-HASCO": "running"}, result
        assert _probes(result) == dict.fromkeys(
            ("quorum", "membership", "cluster-status", "vip-resource", "vip-answers"), True
        ), result
    first = ha_hosts[0]
    conf = ssh(first, "cat", "/etc/corosync/corosync.conf").stdout
    for index, host in enumerate(ha_hosts, 1):
        assert f"name: {host.name}\n        nodeid: {index}\n        ring0_addr: {host.address}\n" in conf
    assert "transport: knet" in conf and "two_node" not in conf
    # the authkey: the generated secret's hex (256 bytes), root's only, the same everywhere
    keys = {ssh(h, "sha256sum", "/etc/corosync/authkey").stdout.split()[0] for h in ha_hosts}
    assert len(keys) == 1 and ssh(first, "stat", "-c", "%a %U %s", "/etc/corosync/authkey").stdout.split() == [
        "400",
        "root",
        "256",
    ]
    monitor = ssh(first, "crm_mon", "-1").stdout
    assert "Online: [ ha-1 ha-2 ha-3 ]" in monitor and "(ocf:heartbeat:IPaddr2):\t Started" in monitor, monitor
    stonith = ssh(first, "crm_attribute", "-t", "crm_config", "-n", "stonith-enabled", "-q").stdout.strip()
    assert stonith == "off"  # the lab has no fence device (see the module's docstring)
    assert _answers(VIP), "the controller cannot reach the floating address"

    holder = _holder(ha_hosts)
    assert holder is not None
    survivors = [host for host in ha_hosts if host != holder]
    _stop(holder)
    _until("the floating address moves", lambda: _holder(survivors) is not None)
    moved = _holder(survivors)
    assert moved is not None and _holder([holder]) is None
    located = ssh(survivors[0], "crm_resource", "--resource", "fossp-vip", "--locate").stdout
    assert f"is running on: {moved.name}" in located
    _until("the moved address answers the controller", lambda: _answers(VIP), 20)
    for host in survivors:  # two of three still hold the majority
        status = _quorum(host)
        assert "Quorate:          Yes" in status and "Nodes:            2" in status, status
    _start(holder)
    _until("the stopped node rejoins", lambda: "Nodes:            3" in _quorum(holder), 60)

    undone = fossp_json("decommission", "--yes", *[a for h in ha_hosts for a in ("--target", h.target)])
    assert [h["roles"] for h in undone["hosts"]] == [["FOSSP-HASCO"]] * 3
    assert {host.name: snapshot(host) for host in ha_hosts} == before
    print(f"corosync-ha: {time.monotonic() - STARTED:.0f} s since the module started")


def test_failover_two_nodes_keep_quorum_when_one_stops(ha_hosts: list[LabHost], tmp_path: Path) -> None:
    pair = ha_hosts[:2]
    before = {host.name: snapshot(host) for host in pair}
    role = {
        "id": "FOSSP-FCSCO",
        "settings": {
            "cluster_name": "fossp-fo",
            "transport": "udpu",
            "stonith_enabled": False,
            "no_quorum_policy": "ignore",
        },
        "hosts": [host.name for host in pair],
    }
    for result in _deploy(tmp_path, "failover", role, pair):
        assert result["ok"] and result["states"] == {"FOSSP-FCSCO": "running"}, result
        assert _probes(result) == dict.fromkeys(("quorum", "membership", "cluster-status"), True), result
    conf = ssh(pair[0], "cat", "/etc/corosync/corosync.conf").stdout
    assert "transport: udpu" in conf and "crypto_cipher: none" in conf and "two_node: 1" in conf
    policy = ssh(pair[0], "crm_attribute", "-t", "crm_config", "-n", "no-quorum-policy", "-q").stdout.strip()
    assert policy == "ignore"

    _stop(pair[1])
    status = _quorum(pair[0])
    assert "Quorate:          Yes" in status and "2Node" in status and "Nodes:            1" in status, status
    _start(pair[1])
    _until("the stopped node rejoins", lambda: "Nodes:            2" in _quorum(pair[0]), 60)

    undone = fossp_json("decommission", "--yes", *[a for h in pair for a in ("--target", h.target)])
    assert [h["roles"] for h in undone["hosts"]] == [["FOSSP-FCSCO"]] * 2
    assert {host.name: snapshot(host) for host in pair} == before
    print(f"corosync (both roles): {time.monotonic() - STARTED:.0f} s since the module started")
