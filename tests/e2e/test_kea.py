"""End-to-end on a lab host: network boot (tftp plus Kea DHCPv4 pointing PXE clients at
it) deploys, Kea serves the host's own lab network and its configuration check passes,
nothing more is planned, and decommission leaves the host as it was. No DHCP traffic
is sent: the test only lets the server start on the lab interface."""

from __future__ import annotations

import json

import pytest

from fossp.lab import LabHost
from fossp.lab.testing import ssh, unavailable_reason

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
ROLES = ("tftp", "kea")
LAB_NETWORK = "10.213.0.0/24"


def _lab_interface(host: LabHost) -> tuple[str, str]:
    """The host's interface on the lab network and its address there (`ip -o -4 addr`)."""
    for line in ssh(host, "ip", "-o", "-4", "addr", "show").stdout.splitlines():
        fields = line.split()
        address = fields[3].split("/")[0]
        if address.startswith("10.213.0."):
            return fields[1], address
    raise AssertionError(f"{host.name} has no address on {LAB_NETWORK}")


def test_network_boot_deploy_verify_again_decommission(kea_hosts: list[LabHost]) -> None:
    host = kea_hosts[0]
    interface, address = _lab_interface(host)
    settings = (
        *("--set", f"kea.interfaces=[{interface}]"),
        *("--set", f"kea.subnet={LAB_NETWORK}"),
        *("--set", "kea.range_start=10.213.0.200", "--set", "kea.range_end=10.213.0.220"),
        *("--set", "kea.router=10.213.0.1", "--set", "kea.dns_servers=[10.213.0.1]"),
        *("--set", "kea.domain_name=fossp.test", "--set", f"kea.next_server={address}"),
    )
    before = snapshot(host)

    result = fossp_json("deploy", *ROLES, "--target", host.target, *settings)["hosts"][0]
    assert result["ok"] and result["states"] == {"FOSSP-NESTF": "running", "FOSSP-NESKE": "running"}, result
    probes = {p["name"]: p["ok"] for p in result["probes"]}
    assert probes == {"tftp-read": True, "config-check": True, "dhcp-offer": True}, result["probes"]
    assert ssh(host, "systemctl", "is-active", "kea-dhcp4-server.service").stdout.strip() == "active"
    config = json.loads(ssh(host, "sed", "1d", "/etc/kea/kea-dhcp4.conf").stdout)["Dhcp4"]
    assert config["interfaces-config"]["interfaces"] == [interface]
    subnet = config["subnet4"][0]
    assert subnet["subnet"] == LAB_NETWORK and subnet["pools"] == [{"pool": "10.213.0.200 - 10.213.0.220"}]
    assert subnet["next-server"] == address and subnet["boot-file-name"] == "pxelinux.0"

    assert fossp_json("plan", *ROLES, "--target", host.target, *settings)["plans"][0]["changes"] == 0

    undone = fossp_json("decommission", "--yes", "--target", host.target)
    assert sorted(undone["hosts"][0]["roles"]) == ["FOSSP-NESKE", "FOSSP-NESTF"]
    assert snapshot(host) == before
