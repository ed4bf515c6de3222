"""Pure packet builders and parsers for the probes that speak a protocol by hand.

TFTP (RFC 1350) and the RTMP handshake (Adobe's RTMP specification, section 5.2) need
only a few messages to prove a server answers and have no client library worth its
weight, so FOSSP encodes them itself (DHCP's builder lives in
``fossp.engine.probes.dhcp_client``, a script that also runs on peer hosts). Nothing here
touches the network: tests feed bytes and compare bytes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass


class WireError(Exception):
    """A reply that does not parse as the protocol's message."""


# --- TFTP -----------------------------------------------------------------------------

TFTP_RRQ, TFTP_DATA, TFTP_ACK, TFTP_ERROR = 1, 3, 4, 5
TFTP_FILE_NOT_FOUND = 1


def tftp_read_request(path: str) -> bytes:
    """A read request (RRQ) for ``path`` in octet mode."""
    name = path.encode()
    if b"\x00" in name:
        raise WireError("a TFTP file name cannot hold a NUL byte")
    return struct.pack("!H", TFTP_RRQ) + name + b"\x00octet\x00"


def tftp_error(code: int, message: str) -> bytes:
    """An ERROR packet; sent after the first DATA block to end the transfer early."""
    return struct.pack("!HH", TFTP_ERROR, code) + message.encode() + b"\x00"


@dataclass(frozen=True)
class TftpReply:
    """A DATA block (``block`` and ``data``) or an ERROR (``code`` and ``message``)."""

    opcode: int
    block: int = 0
    data: bytes = b""
    code: int = 0
    message: str = ""


def tftp_reply(packet: bytes) -> TftpReply:
    """Parse the server's first answer to a read request."""
    if len(packet) < 4:
        raise WireError(f"short TFTP reply ({len(packet)} bytes)")
    opcode, number = struct.unpack("!HH", packet[:4])
    if opcode == TFTP_DATA:
        return TftpReply(TFTP_DATA, block=number, data=packet[4:])
    if opcode == TFTP_ERROR:
        return TftpReply(TFTP_ERROR, code=number, message=packet[4:].split(b"\x00", 1)[0].decode(errors="replace"))
    raise WireError(f"TFTP opcode {opcode} is neither DATA nor ERROR")


# --- RTMP handshake ---------------------------------------------------------------------

RTMP_VERSION = 3
RTMP_HANDSHAKE_SIZE = 1536


def rtmp_c0_c1(timestamp: int, random: bytes | None = None) -> bytes:
    """C0 (the version byte) and C1: 4-byte time, 4 zero bytes, 1528 random bytes."""
    random = os.urandom(RTMP_HANDSHAKE_SIZE - 8) if random is None else random
    if len(random) != RTMP_HANDSHAKE_SIZE - 8:
        raise WireError(f"C1's random part is {RTMP_HANDSHAKE_SIZE - 8} bytes, not {len(random)}")
    return bytes([RTMP_VERSION]) + struct.pack("!II", timestamp & 0xFFFFFFFF, 0) + random


@dataclass(frozen=True)
class RtmpServerHandshake:
    """S1 and S2, and whether S2 echoes C1's random part as the specification says (nginx-rtmp
    answers a C1 with zero version bytes, the "old" handshake, with a random S2 instead)."""

    s1: bytes
    s2: bytes
    echoed: bool


def rtmp_s0(byte: bytes) -> None:
    """Check S0, the server's version byte (anything else is not an RTMP server)."""
    if byte != bytes([RTMP_VERSION]):
        raise WireError(f"S0 is {byte!r}, not RTMP version {RTMP_VERSION}")


def rtmp_s1_s2(data: bytes, c1: bytes) -> RtmpServerHandshake:
    """Parse S1 and S2 (3072 bytes after S0) against the C1 that was sent."""
    if len(data) != 2 * RTMP_HANDSHAKE_SIZE:
        raise WireError(f"S1+S2 are {2 * RTMP_HANDSHAKE_SIZE} bytes, got {len(data)}")
    s1, s2 = data[:RTMP_HANDSHAKE_SIZE], data[RTMP_HANDSHAKE_SIZE:]
    return RtmpServerHandshake(s1, s2, echoed=s2[8:] == c1[8:])


def rtmp_c2(s1: bytes, read_at: int) -> bytes:
    """C2 echoes S1: its time, the time S1 was read, its random part."""
    return s1[:4] + struct.pack("!I", read_at & 0xFFFFFFFF) + s1[8:]
