"""The lab network: a bridge on the controller and one network namespace per host.

Hosts sit on a private /24 that exists only on links the lab creates; they get no
default route, so nothing they send can leave the controller.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from pathlib import Path

from fossp.lab.system import LabError, require_tools, run

BRIDGE = "fossp-lab0"
SUBNET = ipaddress.IPv4Network(os.environ.get("FOSSP_LAB_SUBNET", "10.213.0.0/24"))
CONTROLLER_ADDRESS = str(SUBNET.network_address + 1)
FIRST_HOST = 10
NETNS_DIR = Path("/run/netns")


def netns_name(name: str) -> str:
    return f"fossp-{name}"


def netns_path(name: str) -> Path:
    return NETNS_DIR / netns_name(name)


def veth_name(address: str) -> str:
    """Interface names have 15 characters at most, so the veth is named after the address."""
    return f"fossp-v{int(ipaddress.IPv4Address(address)) - int(SUBNET.network_address)}"


def mac_address(name: str) -> str:
    """A fixed MAC per host name (locally administered, unicast).

    A host that came back with a new MAC would stay unreachable until the controller's
    stale neighbour entry expired (about 30 s).
    """
    digest = bytearray(hashlib.sha256(f"fossp-lab {name}".encode()).digest()[:6])
    digest[0] = (digest[0] & 0xFC) | 0x02
    return ":".join(f"{byte:02x}" for byte in digest)


def free_address(taken: set[str]) -> str:
    """The lowest host address that no lab host (of this or another lab folder) uses."""
    for offset in range(FIRST_HOST, SUBNET.num_addresses - 1):
        address = str(SUBNET.network_address + offset)
        if address not in taken and not _link_exists(veth_name(address)):
            return address
    raise LabError(f"lab network {SUBNET} is full; remove hosts with `fossp lab down`")


def _link_exists(link: str) -> bool:
    return Path("/sys/class/net", link).exists()


def ensure_bridge() -> None:
    """Make the lab bridge with the controller's address (idempotent)."""
    require_tools("ip")
    if not _link_exists(BRIDGE):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"], f"create bridge {BRIDGE}")
    addresses = run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE], f"read {BRIDGE}").stdout
    if f" {CONTROLLER_ADDRESS}/" not in addresses:
        run(
            ["ip", "addr", "add", f"{CONTROLLER_ADDRESS}/{SUBNET.prefixlen}", "dev", BRIDGE],
            f"address bridge {BRIDGE}",
        )
    run(["ip", "link", "set", BRIDGE, "up"], f"bring up bridge {BRIDGE}")


def _netns_in_use(name: str) -> bool:
    if not netns_path(name).exists():
        return False
    pids = run(["ip", "netns", "pids", netns_name(name)], f"read netns {netns_name(name)}")
    return bool(pids.stdout.split())


def remove_host_network(name: str, address: str | None) -> None:
    """Remove a host's namespace and veth; missing pieces are fine (cleanup of a killed run).

    A namespace that processes still use is not this lab's leftover and stays.
    """
    veth = veth_name(address) if address else None
    if veth and _link_exists(veth):
        # The kernel drops the pair by itself once the namespace is gone: that race is fine.
        removed = run(["ip", "link", "del", veth], f"remove link {veth}", check=False)
        if removed.returncode != 0 and _link_exists(veth):
            raise LabError(f"remove link {veth}: {removed.stderr.strip()}")
    if netns_path(name).exists() and not _netns_in_use(name):
        run(["ip", "netns", "del", netns_name(name)], f"remove netns {netns_name(name)}")


def create_host_network(name: str, address: str, mac: str) -> None:
    """A fresh namespace whose eth0 is plugged into the lab bridge with ``address`` and ``mac``.

    A leftover namespace of a killed run is replaced, but one that processes still use
    belongs to someone else (another lab folder, say) and is left alone.
    """
    if _netns_in_use(name):
        raise LabError(f"netns {netns_name(name)} is in use by processes outside this lab; choose another host name")
    ensure_bridge()
    remove_host_network(name, address)
    netns, veth = netns_name(name), veth_name(address)
    run(["ip", "netns", "add", netns], f"create netns {netns}")
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns], f"create veth {veth}")
    run(["ip", "link", "set", veth, "master", BRIDGE, "up"], f"plug {veth} into {BRIDGE}")
    inside = ["ip", "-n", netns]
    run([*inside, "link", "set", "eth0", "address", mac], f"set the MAC of eth0 in {netns}")
    run([*inside, "addr", "add", f"{address}/{SUBNET.prefixlen}", "dev", "eth0"], f"address eth0 in {netns}")
    run([*inside, "link", "set", "eth0", "up"], f"bring up eth0 in {netns}")
    run([*inside, "link", "set", "lo", "up"], f"bring up lo in {netns}")
    # The address may have had another MAC before (an older record, another host).
    run(["ip", "neigh", "flush", "to", address, "dev", BRIDGE], f"flush the neighbour entry of {address}")
