"""TFTP and RTMP handshake packets as bytes, compared with captures of real clients and
servers and the specifications' layouts; the TFTP prober against a UDP socket on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from fossp.catalog.schema import Probe, ProbeKind, Protocol
from fossp.engine import wire
from fossp.engine.probes import ProbeFailed, tftp


def test_tftp_read_request_and_replies() -> None:
    assert wire.tftp_read_request("pxelinux.0") == b"\x00\x01pxelinux.0\x00octet\x00"
    assert wire.tftp_reply(b"\x00\x03\x00\x01hello") == wire.TftpReply(wire.TFTP_DATA, block=1, data=b"hello")
    error = wire.tftp_reply(b"\x00\x05\x00\x01File not found\x00")
    assert (error.opcode, error.code, error.message) == (wire.TFTP_ERROR, 1, "File not found")
    assert wire.tftp_error(0, "done") == b"\x00\x05\x00\x00done\x00"
    with pytest.raises(wire.WireError, match="neither DATA nor ERROR"):
        wire.tftp_reply(b"\x00\x04\x00\x01")
    with pytest.raises(wire.WireError, match="short"):
        wire.tftp_reply(b"\x00")


def test_rtmp_c0_c1_layout() -> None:
    random = bytes(range(256)) * 5 + bytes(248)
    packet = wire.rtmp_c0_c1(0x1_0000_0005, random)
    assert len(packet) == 1 + 1536 and packet[0] == 3
    assert packet[1:9] == b"\x00\x00\x00\x05\x00\x00\x00\x00"  # time (32 bits), then four zero bytes
    assert packet[9:] == random
    assert wire.rtmp_c0_c1(0)[9:] != wire.rtmp_c0_c1(0)[9:], "the random part is random"
    with pytest.raises(wire.WireError, match="1528"):
        wire.rtmp_c0_c1(0, b"short")


def test_rtmp_server_handshake_echo_or_not_and_c2() -> None:
    c1 = wire.rtmp_c0_c1(7)[1:]
    s1 = b"\x00\x00\x00\x09" + bytes(4) + b"s" * 1528
    echoed = wire.rtmp_s1_s2(s1 + c1[:4] + b"\x00\x00\x00\x01" + c1[8:], c1)
    assert echoed.echoed and echoed.s1 == s1
    assert not wire.rtmp_s1_s2(s1 + bytes(1536), c1).echoed
    assert wire.rtmp_c2(s1, 42) == s1[:4] + b"\x00\x00\x00\x2a" + s1[8:]
    wire.rtmp_s0(b"\x03")
    with pytest.raises(wire.WireError, match="not RTMP version 3"):
        wire.rtmp_s0(b"H")
    with pytest.raises(wire.WireError, match="3072"):
        wire.rtmp_s1_s2(s1, c1)


def _one_reply_server(reply: bytes) -> tuple[int, threading.Thread, list[bytes]]:
    """A UDP socket on loopback that answers one packet with ``reply`` from another port
    (as TFTP transfers do) and records what it then receives on that port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    seen: list[bytes] = []

    def serve() -> None:
        with listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as transfer:
            request, client = listener.recvfrom(1024)
            seen.append(request)
            transfer.bind(("127.0.0.1", 0))
            transfer.settimeout(2)
            transfer.sendto(reply, client)
            if reply[1] == wire.TFTP_DATA:
                seen.append(transfer.recv(1024))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, seen


def _tftp_probe(expect: str | None) -> Probe:
    return Probe(
        name="t", kind=ProbeKind.TFTP, port=69, protocol=Protocol.UDP, path="f", expect=expect, description="t"
    )


@pytest.mark.parametrize(
    ("reply", "expect", "passes"),
    [
        (b"\x00\x03\x00\x01hello tftp", None, True),
        (b"\x00\x03\x00\x01hello tftp", "hello", True),
        (b"\x00\x03\x00\x01hello tftp", "bye", False),
        (b"\x00\x05\x00\x01File not found\x00", None, True),
        (b"\x00\x05\x00\x01File not found\x00", "hello", False),
    ],
)
def test_tftp_probe_over_loopback(reply: bytes, expect: str | None, passes: bool) -> None:
    port, thread, seen = _one_reply_server(reply)
    run = tftp.probe("127.0.0.1", port, _tftp_probe(expect), {})
    if passes:
        assert "tftp://127.0.0.1" in asyncio.run(run)
    else:
        with pytest.raises(ProbeFailed):
            asyncio.run(run)
    thread.join(5)
    assert seen[0] == wire.tftp_read_request("f")
    if reply[1] == wire.TFTP_DATA:
        assert seen[1][:2] == b"\x00\x05", "the transfer is ended with an ERROR packet"
