"""The DNS probe (dnspython) against a small real responder on loopback, over UDP and
TCP: ``expect`` is checked in the records, PTR takes an address, SOA needs AA."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from fossp.catalog.schema import Probe, ProbeKind, Protocol
from fossp.engine.probes import ProbeFailed, remote_prober

ZONE = {
    ("fossp.test.", "A"): "192.0.2.7",
    ("fossp.test.", "TXT"): '"v=probe hello"',
    ("fossp.test.", "SOA"): "ns.fossp.test. admin.fossp.test. 2024010101 3600 600 86400 300",
    ("7.2.0.192.in-addr.arpa.", "PTR"): "web.fossp.test.",
}


def answer(wire: bytes, authoritative: bool) -> bytes:
    query = dns.message.from_wire(wire)
    reply = dns.message.make_response(query)
    question = query.question[0]
    key = (question.name.to_text(), dns.rdatatype.to_text(question.rdtype))
    if key in ZONE:
        reply.answer.append(dns.rrset.from_text(question.name, 300, "IN", key[1], ZONE[key]))
    elif key[0] not in {name for name, _ in ZONE}:
        reply.set_rcode(dns.rcode.NXDOMAIN)
    if authoritative:
        reply.flags |= dns.flags.AA
    return reply.to_wire()


def loopback_pair() -> tuple[socket.socket, socket.socket]:
    """A TCP and a UDP socket on one free loopback port; a port whose UDP side is taken is skipped."""
    for _ in range(50):
        tcp = socket.create_server(("127.0.0.1", 0))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", tcp.getsockname()[1]))
        except OSError:
            tcp.close()
            udp.close()
            continue
        return tcp, udp
    raise RuntimeError("no loopback port free for both TCP and UDP")


@pytest.fixture(params=[True, False], ids=["authoritative", "not-authoritative"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[int, bool]]:
    """UDP and TCP on one loopback port, answering from ZONE until the test ends: (port, AA set)."""
    authoritative = request.param
    tcp, udp = loopback_pair()
    port = tcp.getsockname()[1]
    udp.settimeout(0.2)
    tcp.settimeout(0.2)
    stop = threading.Event()

    def serve_udp() -> None:
        while not stop.is_set():
            try:
                data, client = udp.recvfrom(4096)
            except TimeoutError:
                continue
            udp.sendto(answer(data, authoritative), client)

    def serve_tcp() -> None:
        while not stop.is_set():
            try:
                connection, _ = tcp.accept()
            except TimeoutError:
                continue
            with connection:
                size = struct.unpack("!H", connection.recv(2))[0]
                reply = answer(connection.recv(size, socket.MSG_WAITALL), authoritative)
                connection.sendall(struct.pack("!H", len(reply)) + reply)

    threads = [threading.Thread(target=f, daemon=True) for f in (serve_udp, serve_tcp)]
    for thread in threads:
        thread.start()
    yield port, authoritative
    stop.set()
    for thread in threads:
        thread.join()
    udp.close()
    tcp.close()


def run(port: int, **fields: Any) -> str:
    probe = Probe(name="d", kind=ProbeKind.DNS, port=port, description="t", **fields)
    return asyncio.run(remote_prober(ProbeKind.DNS)("127.0.0.1", port, probe, {"zone": "fossp.test"}))


@pytest.mark.parametrize("protocol", [Protocol.UDP, Protocol.TCP])
def test_records_and_expect(server: tuple[int, bool], protocol: Protocol) -> None:
    port = server[0]
    assert "192.0.2.7" in run(port, query="{zone}", record="A", expect="192.0.2.7", protocol=protocol)
    assert "hello" in run(port, query="fossp.test", record="txt", expect="v=probe", protocol=protocol)
    with pytest.raises(ProbeFailed, match=r"none holds '192\.0\.2\.8'"):
        run(port, query="fossp.test", record="A", expect="192.0.2.8", protocol=protocol)
    with pytest.raises(ProbeFailed, match="NXDOMAIN, 0 answer"):
        run(port, query="other.test", record="A", protocol=protocol)
    with pytest.raises(ProbeFailed, match="NOERROR, 0 answer"):
        run(port, query="fossp.test", record="MX", protocol=protocol)


def test_ptr_by_address_or_by_name(server: tuple[int, bool]) -> None:
    port = server[0]
    assert "web.fossp.test." in run(port, query="192.0.2.7", record="PTR", expect="web.fossp.test")
    assert "web.fossp.test." in run(port, query="7.2.0.192.in-addr.arpa", record="PTR")


def test_soa_needs_an_authoritative_answer(server: tuple[int, bool]) -> None:
    port, authoritative = server
    if authoritative:
        assert "authoritative" in run(port, query="fossp.test", record="SOA", expect="ns.fossp.test")
    else:
        with pytest.raises(ProbeFailed, match="must be authoritative"):
            run(port, query="fossp.test", record="SOA")


def test_no_server_and_no_such_type() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        with pytest.raises(ProbeFailed, match=r"no answer within 0\.5 s"):
            run(port, query="fossp.test", protocol=Protocol.UDP, timeout=0.5)
    with pytest.raises(ProbeFailed, match="not a DNS record type"):
        run(53, query="fossp.test", record="NOPE")
