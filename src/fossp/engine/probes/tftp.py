"""TFTP: a read request gets a DATA block (holding ``expect``) or, without ``expect``, an ERROR."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from fossp.catalog.schema import Probe
from fossp.engine import wire
from fossp.engine.probes.common import ProbeFailed, text
from fossp.hosts.connector import Connector


def _exchange(address: str, port: int, path: str, timeout: float) -> wire.TftpReply:
    """Send a read request; the reply comes from the transfer's own port, which gets an
    ERROR after a DATA block so the server stops sending."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as datagram:
        datagram.settimeout(timeout)
        datagram.sendto(wire.tftp_read_request(path), (address, port))
        packet, sender = datagram.recvfrom(65536)
        reply = wire.tftp_reply(packet)
        if reply.opcode == wire.TFTP_DATA:
            datagram.sendto(wire.tftp_error(0, "probe done"), sender)
        return reply


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    path = text(probe.path, settings) or "fossp-probe"
    expect = text(probe.expect, settings)
    reply = await asyncio.to_thread(_exchange, address, port, path, probe.timeout)
    where = f"tftp://{address}:{port}/{path}"
    if reply.opcode == wire.TFTP_ERROR:
        summary = f"{where}: server answered ERROR {reply.code} {reply.message!r}"
        if expect:
            raise ProbeFailed(f"{summary}; wanted data holding {expect!r}")
        return summary
    if expect and expect not in reply.data.decode(errors="replace"):
        raise ProbeFailed(f"{where}: first block lacks {expect!r}")
    return f"{where}: DATA block {reply.block}, {len(reply.data)} bytes"
