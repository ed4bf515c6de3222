"""DHCP: a DHCPDISCOVER on the server's link must bring its DHCPOFFER (no lease is taken).

From the controller, the probe binds port 68 on the interface that routes to the server
(root only) and runs only when the server is on that link; from a peer host on the link,
:func:`from_peer` runs the same discovery as a script (``dhcp_client``) over that host's
connection. ``expect`` names the subnet (``10.0.0.0/24``) or address prefix wanted."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

from fossp.catalog.schema import Probe
from fossp.engine.probes import dhcp_client
from fossp.engine.probes.common import ProbeFailed, ProbeSkipped, text
from fossp.hosts.connector import Connector

#: The peer-host script: run as ``python3 - SERVER PORT TIMEOUT`` with this text on stdin.
SCRIPT = resources.files("fossp.engine.probes").joinpath("dhcp_client.py").read_text()


def verdict(address: str, offered_by: str, interface: str, expect: str) -> str:
    """Pass when the offered address lies in ``expect`` (a network, or a text prefix)."""
    summary = f"DHCPOFFER of {address} from {offered_by} on {interface}"
    if expect and not _within(address, expect):
        raise ProbeFailed(f"{summary}; wanted an address in {expect}")
    return summary


def _within(address: str, expect: str) -> bool:
    if "/" in expect:
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(expect, strict=False)
        except ValueError:
            return False
    return address.startswith(expect)


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    interface, gateway = await asyncio.to_thread(dhcp_client.route, address)
    if gateway is not None or interface == "lo":
        raise ProbeSkipped(f"the controller is not on {address}'s link; a DHCP probe must run from a peer there")
    if os.geteuid() != 0:
        raise ProbeSkipped("a DHCP probe from the controller needs root (port 68 on one interface)")
    try:
        offer = await asyncio.to_thread(dhcp_client.discover, address, interface, probe.timeout, port)
    except TimeoutError as error:
        raise ProbeFailed(str(error)) from None
    return verdict(offer.address, offer.server, interface, text(probe.expect, settings))


async def from_peer(peer: Connector, address: str, port: int, probe: Probe, settings: dict[str, Any]) -> str:
    """The probe run on ``peer`` (root, python3 there), a host on the server's link."""
    result = await peer.run(
        ["python3", "-", address, str(port), f"{probe.timeout:g}"], stdin=SCRIPT.encode(), timeout=probe.timeout + 30
    )
    words = result.stdout.split()
    if result.ok and len(words) == 4 and words[0] == "offer":
        return verdict(words[1], words[2], f"{peer.name}'s {words[3]}", text(probe.expect, settings))
    said = result.stdout.strip().removeprefix("error ") or result.describe()
    if "is not on this host's link" in said:
        raise ProbeSkipped(f"{peer.name}: {said}")
    raise ProbeFailed(f"DHCP probe on {peer.name}: {said}")


async def from_peers(
    peers: Sequence[Connector], address: str, port: int, probe: Probe, settings: dict[str, Any]
) -> str:
    """The probe run on the first peer on the server's link (the others are routed to it)."""
    off_link = []
    for peer in peers:
        try:
            return await from_peer(peer, address, port, probe, settings)
        except ProbeSkipped as skipped:
            off_link.append(str(skipped))
    raise ProbeSkipped(f"no host of the run is on {address}'s link: {'; '.join(off_link)}")
