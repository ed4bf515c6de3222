"""DHCP: the DISCOVER builder and OFFER parser (pure, with hypothesis), the verdict on an
offer, and the discovery run both ways (imported, and as the peer-host script on stdin)
against a small responder on loopback (root only: the client's port is 68)."""

from __future__ import annotations

import ast
import asyncio
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fossp.catalog import load_catalog
from fossp.catalog.schema import Probe, ProbeKind, Protocol
from fossp.engine.probes import ProbeFailed, dhcp, dhcp_client, run_probe
from fossp.hosts.connector import LocalConnector, Result

#: What Debian's python3-minimal ships of the modules the script could want.
MINIMAL_MODULES = {"__future__", "os", "re", "socket", "struct", "subprocess", "sys", "time", "typing"}

macs = st.binary(min_size=6, max_size=6)
xids = st.integers(min_value=0, max_value=2**32 - 1)


def offer_for(discover: bytes, address: str, server: str, message_type: int = dhcp_client.OFFER) -> bytes:
    """What a server answers: op 2, same xid and chaddr, yiaddr, options 53 and 54."""
    reply = bytearray(discover[:240])
    reply[0] = dhcp_client.BOOTREPLY
    reply[16:20] = socket.inet_aton(address)
    options = bytes([53, 1, message_type, 54, 4]) + socket.inet_aton(server) + bytes([0, 0, 255])
    return bytes(reply) + options


@given(xids, macs)
def test_discover_layout(xid: int, mac: bytes) -> None:
    packet = dhcp_client.build_discover(xid, mac)
    assert len(packet) >= 300 and packet[:4] == b"\x01\x01\x06\x00"
    assert struct.unpack("!I", packet[4:8])[0] == xid
    assert struct.unpack("!H", packet[10:12])[0] == 0x8000, "broadcast flag"
    assert packet[12:28] == bytes(16), "no client, your, server or relay address"
    assert packet[28:34] == mac and packet[236:240] == dhcp_client.MAGIC_COOKIE
    options = dhcp_client.parse_options(packet[240:])
    assert options[53] == b"\x01" and options[61] == b"\x01" + mac
    assert set(options[55]) >= {1, 3, 6, 54}
    assert 50 not in options, "no requested address: nothing is leased"


@given(xids, macs, st.ip_addresses(v=4).map(str), st.ip_addresses(v=4).map(str))
def test_an_offer_to_our_discover_parses(xid: int, mac: bytes, address: str, server: str) -> None:
    discover = dhcp_client.build_discover(xid, mac)
    offer = dhcp_client.parse_offer(offer_for(discover, address, server), xid, mac)
    assert offer is not None and (offer.address, offer.server) == (address, server)
    assert dhcp_client.parse_offer(offer_for(discover, address, server), xid ^ 1, mac) is None
    assert dhcp_client.parse_offer(offer_for(discover, address, server, message_type=5), xid, mac) is None  # ACK
    assert dhcp_client.parse_offer(discover, xid, mac) is None  # our own request, looped back


@given(st.binary(max_size=600), xids, macs)
def test_the_parser_never_raises_on_noise(noise: bytes, xid: int, mac: bytes) -> None:
    assert dhcp_client.parse_offer(noise, xid, mac) is None or len(noise) >= 240
    dhcp_client.parse_options(noise)


def test_new_clients_are_random_and_locally_administered() -> None:
    (xid1, mac1), (xid2, mac2) = dhcp_client.new_client(), dhcp_client.new_client()
    assert (xid1, mac1) != (xid2, mac2)
    assert mac1[0] & 0x03 == 0x02, "locally administered, unicast"


def test_verdict_on_the_offered_address() -> None:
    assert "10.213.0.200" in dhcp.verdict("10.213.0.200", "10.213.0.10", "eth0", "10.213.0.0/24")
    assert dhcp.verdict("10.213.0.200", "10.213.0.10", "eth0", "10.213.0.2")
    with pytest.raises(ProbeFailed, match=r"wanted an address in 192\.0\.2\.0/24"):
        dhcp.verdict("10.213.0.200", "10.213.0.10", "eth0", "192.0.2.0/24")


def test_the_script_needs_only_what_python3_minimal_has() -> None:
    tree = ast.parse(dhcp.SCRIPT)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= MINIMAL_MODULES


@pytest.fixture
def responder() -> Iterator[int]:
    """Offers 192.0.2.50 from 127.0.0.1 to any DISCOVER on lo, broadcast to port 68."""
    if os.geteuid() != 0:
        pytest.skip("the DHCP client port 68 needs root")
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
    server.bind(("", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                packet, _ = server.recvfrom(4096)
            except TimeoutError:
                continue
            if dhcp_client.parse_options(packet[240:]).get(53) == b"\x01":
                server.sendto(offer_for(packet, "192.0.2.50", "127.0.0.1"), ("255.255.255.255", 68))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_discover_gets_the_offer(responder: int) -> None:
    offer = dhcp_client.discover("127.0.0.1", "lo", 3, port=responder)
    assert (offer.address, offer.server) == ("192.0.2.50", "127.0.0.1")
    with pytest.raises(TimeoutError, match=r"offers came from 127\.0\.0\.1 only"):
        dhcp_client.discover("127.0.0.2", "lo", 1, port=responder)


def test_the_script_on_stdin(responder: int) -> None:
    def script(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-I", "-", *args]
        return subprocess.run(command, input=dhcp.SCRIPT, capture_output=True, text=True, timeout=30, check=False)

    passed = script("127.0.0.1", str(responder), "3")
    assert (passed.returncode, passed.stdout) == (0, "offer 192.0.2.50 127.0.0.1 lo\n")
    silent = script("127.0.0.2", str(responder + 1), "1")
    assert silent.returncode == 1 and silent.stdout.startswith("error no DHCPOFFER from 127.0.0.2 on lo within 1 s")


def test_from_a_controller_off_the_servers_link_the_probe_is_skipped_not_failed() -> None:
    kea = load_catalog().role("kea")
    probe = Probe(name="o", kind=ProbeKind.DHCP, port=67, protocol=Protocol.UDP, description="t")
    result = asyncio.run(run_probe(kea, probe, {}, LocalConnector(), retry=0))  # 127.0.0.1: this host
    assert result.ok is None and "must run from a peer" in result.output


class _Peer:
    """A peer host's connection answering the discovery script with ``answer``."""

    def __init__(self, name: str, answer: str, status: int = 0) -> None:
        self.name, self.answer, self.status, self.ran = name, answer, status, []

    async def run(self, argv: list[str], stdin: bytes | None = None, timeout: float | None = None) -> Result:
        assert stdin == dhcp.SCRIPT.encode()
        self.ran.append(argv)
        return Result(tuple(argv), self.status, self.answer, "")


def _dhcp_probe(expect: str = "10.0.0.0/24") -> Probe:
    return Probe(name="o", kind=ProbeKind.DHCP, port=67, protocol=Protocol.UDP, expect=expect, description="t")


def test_a_dhcp_probe_runs_from_a_peer_of_the_run_on_the_servers_link() -> None:
    off = _Peer("far", "error 10.0.0.2 is not on this host's link (routed through 10.9.0.1)\n", 1)
    near = _Peer("near", "offer 10.0.0.50 10.0.0.2 eth0\n")
    server: Any = SimpleNamespace(address="10.0.0.2", root=None)
    result = asyncio.run(run_probe(load_catalog().role("isc-dhcp"), _dhcp_probe(), {}, server, 0, [off, near]))
    assert result.ok is True, result.output
    assert result.output == "DHCPOFFER of 10.0.0.50 from 10.0.0.2 on near's eth0"
    assert near.ran == [["python3", "-", "10.0.0.2", "67", "5"]] and off.ran


def test_a_peer_without_an_offer_fails_the_probe() -> None:
    silent = _Peer("near", "error no DHCPOFFER from 10.0.0.2 on eth0 within 5 s\n", 1)
    server: Any = SimpleNamespace(address="10.0.0.2", root=None)
    result = asyncio.run(run_probe(load_catalog().role("isc-dhcp"), _dhcp_probe(), {}, server, 0, [silent]))
    assert result.ok is False and "no DHCPOFFER from 10.0.0.2" in result.output
