"""The Corosync + Pacemaker roles planned on recorded Fedora 40 facts, as multi-host roles:
the exact commands of every member, the corosync.conf each member gets from the placement,
the shared authkey, the hacluster password on stdin only, and the cluster steps on the
first member only. (Debian's plan differs by the two steps that stop the single-node
cluster Debian starts at install; it is checked live in tests/e2e/test_corosync.py.)"""

from __future__ import annotations

import re
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.engine.cluster import layout
from fossp.engine.operations import Operation
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec

from .conftest import cluster_plans

HOSTS = [HostSpec(name=f"fed-{i}", address=f"192.0.2.{10 + i}") for i in range(1, 4)]
HA, FAILOVER = "FOSSP-HASCO", "FOSSP-FCSCO"


def _plans(
    role_id: str, settings: dict[str, Any], members: int, facts: str = "fedora40-bare"
) -> dict[str, list[Operation]]:
    return cluster_plans(role_id, {"node": [h.name for h in HOSTS[:members]]}, HOSTS, settings, facts)


def _commands(ops: list[Operation]) -> list[tuple[str, str, list[list[str]], bool]]:
    return [(op.kind.value, op.target, op.commands, op.cluster) for op in ops if op.change]


def _content(ops: list[Operation], path: str) -> str:
    return next(op.content for op in ops if op.target == path and op.content is not None).decode()


MEMBER = [
    ("open-firewall", "service high-availability", [
        ["firewall-cmd", "--add-service=high-availability"],
        ["firewall-cmd", "--permanent", "--add-service=high-availability"],
    ], False),
    ("run-step", "hacluster-password", [["chpasswd"]], False),
    ("write-file", "/etc/corosync/corosync.conf", [], False),
    ("write-file", "/etc/corosync/authkey", [], False),
    ("enable-unit", "corosync.service", [["systemctl", "enable", "corosync.service"]], False),
    ("start-unit", "corosync.service", [["systemctl", "restart", "corosync.service"]], False),
    ("enable-unit", "pacemaker.service", [["systemctl", "enable", "pacemaker.service"]], False),
    ("start-unit", "pacemaker.service", [["systemctl", "restart", "pacemaker.service"]], False),
    ("enable-unit", "pcsd.service", [["systemctl", "enable", "pcsd.service"]], False),
    ("start-unit", "pcsd.service", [["systemctl", "restart", "pcsd.service"]], False),
]  # fmt: skip
PROPERTY = ["crm_attribute", "--type", "crm_config", "--name"]
HA_PACKAGES = ["corosync", "pacemaker", "pcs", "resource-agents", "fence-agents-all"]


def test_ha_on_three_fedora_members_exact_commands() -> None:
    plans = _plans(HA, {"virtual_ip": "192.0.2.100", "cidr_netmask": 24, "stonith_enabled": False}, 3)
    install = ("install-packages", " ".join(HA_PACKAGES), [["dnf", "-y", "-q", "install", *HA_PACKAGES]], False)
    cluster = [
        ("run-step", "wait-for-dc", [["timeout", "10", "crmadmin", "--dc_lookup"]], True),
        # no fence device in the test cluster: stonith-enabled off ("off" is a Pacemaker boolean)
        ("run-step", "stonith", [[*PROPERTY, "stonith-enabled", "--update", "off"]], True),
        ("run-step", "floating-address", [[
            "pcs", "resource", "create", "fossp-vip", "ocf:heartbeat:IPaddr2", "ip=192.0.2.100", "cidr_netmask=24",
            "op", "monitor", "interval=10s",
        ]], True),
    ]  # fmt: skip
    assert _commands(plans["fed-1"]) == [install, *MEMBER, *cluster]
    # the others only join: the resource and properties are the cluster's, made once
    assert _commands(plans["fed-2"]) == _commands(plans["fed-3"]) == [install, *MEMBER]


def test_every_member_gets_the_same_corosync_conf_from_the_placement() -> None:
    plans = _plans(HA, {"virtual_ip": "192.0.2.100", "stonith_enabled": False}, 3)
    confs = {name: _content(ops, "/etc/corosync/corosync.conf") for name, ops in plans.items()}
    assert len(set(confs.values())) == 1
    conf = confs["fed-1"]
    assert "    cluster_name: fossp-ha\n    transport: knet\n" in conf
    assert "    crypto_cipher: aes256\n    crypto_hash: sha256\n" in conf
    nodes = re.findall(r"name: (\S+)\n\s+nodeid: (\d+)\n\s+ring0_addr: (\S+)", conf)
    assert nodes == [("fed-1", "1", "192.0.2.11"), ("fed-2", "2", "192.0.2.12"), ("fed-3", "3", "192.0.2.13")]
    assert "provider: corosync_votequorum\n}" in conf and "two_node" not in conf  # three: a majority, no two_node


def test_the_authkey_and_password_are_shared_secrets_never_in_argv() -> None:
    plans = _plans(HA, {"virtual_ip": "192.0.2.100", "stonith_enabled": False}, 3)
    keys = {_content(ops, "/etc/corosync/authkey") for ops in plans.values()}
    assert len(keys) == 1
    (key,) = keys
    # 128 random bytes as hex text: 256 bytes of key file (corosync wants at least 128)
    assert re.fullmatch(r"[0-9a-f]{256}", key)
    authkey = next(op for op in plans["fed-1"] if op.target == "/etc/corosync/authkey")
    assert (authkey.mode, authkey.owner) == ("400", "root:root")
    password = next(op for op in plans["fed-1"] if op.target == "hacluster-password")
    assert password.stdin is not None and re.fullmatch(r"hacluster:[0-9a-f]{48}\n", password.stdin)
    assert password.undo == [["usermod", "--password", "!*", "hacluster"]]  # Fedora's sysusers entry: locked
    for ops in plans.values():
        for op in ops:
            assert not any(key in arg or password.stdin.strip() in arg for argv in op.commands for arg in argv)


def test_failover_on_two_fedora_members_two_node_udpu_and_no_quorum_policy() -> None:
    settings = {"transport": "udpu", "no_quorum_policy": "freeze", "cluster_name": "fo"}
    plans = _plans(FAILOVER, settings, 2)
    assert sorted(plans) == ["fed-1", "fed-2"]
    packages = ["pacemaker", "corosync", "pcs", "fence-agents-all", "resource-agents"]
    install = ("install-packages", " ".join(packages), [["dnf", "-y", "-q", "install", *packages]], False)
    cluster = [
        ("run-step", "wait-for-dc", [["timeout", "10", "crmadmin", "--dc_lookup"]], True),
        ("run-step", "stonith", [[*PROPERTY, "stonith-enabled", "--update", "on"]], True),
        ("run-step", "no-quorum-policy", [[
            "crm_attribute", "--type", "crm_config", "--name", "no-quorum-policy", "--update", "freeze",
        ]], True),
    ]  # fmt: skip
    assert _commands(plans["fed-1"]) == [install, *MEMBER, *cluster]
    assert _commands(plans["fed-2"]) == [install, *MEMBER]
    conf = _content(plans["fed-2"], "/etc/corosync/corosync.conf")
    assert "    cluster_name: fo\n    transport: udpu\n" in conf
    assert "crypto_cipher: none" in conf  # udpu carries no encryption in corosync 3
    assert "    two_node: 1\n}" in conf
    assert re.findall(r"nodeid: (\d+)\n\s+ring0_addr: (\S+)", conf) == [("1", "192.0.2.11"), ("2", "192.0.2.12")]


def test_one_host_is_too_few_for_a_cluster() -> None:
    with pytest.raises(BadInput, match=r"p.yaml: FOSSP-HASCO needs at least 2 host\(s\) as node .* places 1"):
        layout(load_catalog(), [(HA, {})], {HA: {"node": ["fed-1"]}}, HOSTS, "p.yaml")


def test_the_nodes_setting_is_gone_the_placement_gives_the_members() -> None:
    catalog = load_catalog()
    for role_id in (HA, FAILOVER):
        assert "nodes" not in {s.name for s in catalog.roles[role_id].settings}


def test_debian_stops_the_single_node_default_before_starting_on_fossp_s_configuration() -> None:
    ops = _plans(HA, {"virtual_ip": "192.0.2.100", "stonith_enabled": False}, 3, "debian12-bare")["fed-2"]
    steps = [(op.target, op.commands) for op in ops if op.kind.value == "run-step"]
    assert steps == [
        ("hacluster-password", [["chpasswd"]]),
        ("stop-default-cluster", [["systemctl", "stop", "pacemaker.service", "corosync.service"]]),
        ("drop-default-cib", [["find", "/var/lib/pacemaker/cib", "-mindepth", "1", "-delete"]]),
    ]
    files = [op.target for op in ops if op.kind.value == "write-file"]
    assert files == ["/etc/corosync/corosync.conf", "/etc/corosync/authkey"]
