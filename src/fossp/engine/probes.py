"""Health probes: prove a role works by speaking its protocol.

TCP, HTTP and DNS probes run from the controller to the host's address (what a client
sees); PostgreSQL and command probes run on the host over the run's connection. A probe
is retried briefly, since a service that was just (re)started may need a moment.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

from fossp.catalog.schema import Probe, ProbeKind, Protocol, Role
from fossp.engine.recipe import fill
from fossp.hosts.connector import Connector

RETRY_SECONDS = 15.0


@dataclass(frozen=True)
class ProbeResult:
    """``ok`` None: this kind of probe cannot run here (offline root, no prober yet)."""

    role: str
    name: str
    kind: str
    ok: bool | None
    output: str


class ProbeFailed(Exception):
    """The probe's protocol answered wrongly or not at all; the message says what happened."""


def _text(value: str | None, settings: dict[str, Any]) -> str:
    return (fill(value, settings) or value) if value else ""


async def _tcp(address: str, port: int, probe: Probe, settings: dict[str, Any]) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), probe.timeout)
    try:
        if probe.send:
            writer.write(_text(probe.send, settings).encode())
            await writer.drain()
        reply = await asyncio.wait_for(reader.read(4096), probe.timeout) if probe.expect or probe.send else b""
    finally:
        writer.close()
    text = reply.decode(errors="replace")
    if probe.expect and _text(probe.expect, settings) not in text:
        raise ProbeFailed(f"connected to {address}:{port}; reply lacks {probe.expect!r}: {text[:200]!r}")
    return f"connected to {address}:{port}"


async def _http(address: str, port: int, probe: Probe, settings: dict[str, Any]) -> str:
    path = _text(probe.path, settings) or "/"
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), probe.timeout)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {address}\r\nUser-Agent: fossp-probe\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), probe.timeout)
    finally:
        writer.close()
    head, _, body = response.decode(errors="replace").partition("\r\n\r\n")
    status_line = head.split("\r\n", 1)[0]
    fields = status_line.split()
    wanted = probe.status or 200
    if len(fields) < 2 or fields[1] != str(wanted):
        raise ProbeFailed(f"GET http://{address}:{port}{path} answered {status_line!r}, wanted {wanted}")
    if probe.expect and _text(probe.expect, settings) not in body:
        raise ProbeFailed(f"GET http://{address}:{port}{path}: body lacks {probe.expect!r}")
    return f"GET http://{address}:{port}{path}: {status_line}, {len(body)} bytes"


RECORD_TYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def dns_query(name: str, record: str) -> tuple[int, bytes]:
    """A DNS query packet (RFC 1035) for ``name``/``record`` and its random ID."""
    ident = secrets.randbelow(65536)
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # recursion desired
    labels = b"".join(bytes([len(part)]) + part.encode("ascii") for part in name.rstrip(".").split(".") if part)
    return ident, header + labels + b"\x00" + struct.pack("!HH", RECORD_TYPES[record], 1)


def dns_answer(packet: bytes, ident: int) -> tuple[str, int, bool]:
    """(rcode name, answer count, authoritative) from a reply's header."""
    if len(packet) < 12:
        raise ProbeFailed(f"short DNS reply ({len(packet)} bytes)")
    got, flags, _, answers, _, _ = struct.unpack("!HHHHHH", packet[:12])
    if got != ident or not flags & 0x8000:
        raise ProbeFailed("the reply does not answer our query")
    return RCODES.get(flags & 0xF, str(flags & 0xF)), answers, bool(flags & 0x0400)


def _exchange(address: str, port: int, query: bytes, protocol: Protocol, timeout: float) -> bytes:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    if protocol is Protocol.TCP:
        with socket.create_connection((address, port), timeout=timeout) as stream:
            stream.sendall(struct.pack("!H", len(query)) + query)
            size = struct.unpack("!H", stream.recv(2))[0]
            return stream.recv(size, socket.MSG_WAITALL)
    with socket.socket(family, socket.SOCK_DGRAM) as datagram:
        datagram.settimeout(timeout)
        datagram.sendto(query, (address, port))
        return datagram.recv(4096)


async def _dns(address: str, port: int, probe: Probe, settings: dict[str, Any]) -> str:
    name = _text(probe.query, settings)
    record = probe.record or "A"
    ident, query = dns_query(name, record)
    reply = await asyncio.to_thread(_exchange, address, port, query, probe.protocol, probe.timeout)
    rcode, answers, authoritative = dns_answer(reply, ident)
    summary = (
        f"{name} {record} @{address}:{port}: {rcode}, {answers} answer(s){', authoritative' if authoritative else ''}"
    )
    if rcode != "NOERROR" or answers == 0 or (record == "SOA" and not authoritative):
        raise ProbeFailed(summary)
    return summary


async def _on_host(connector: Connector, argv: list[str], expect: str) -> str:
    result = await connector.run(argv)
    output = (result.stdout + result.stderr).strip()
    if not result.ok or (expect and expect not in result.stdout):
        raise ProbeFailed(result.describe() if not result.ok else f"output lacks {expect!r}: {output[:300]}")
    return output[:300]


async def _once(probe: Probe, settings: dict[str, Any], connector: Connector) -> str:
    port = int(settings[probe.port_setting]) if probe.port_setting else (probe.port or 0)
    address = connector.address
    if probe.kind is ProbeKind.TCP:
        return await _tcp(address, port, probe, settings)
    if probe.kind is ProbeKind.HTTP:
        return await _http(address, port, probe, settings)
    if probe.kind is ProbeKind.DNS:
        return await _dns(address, port, probe, settings)
    if probe.kind is ProbeKind.POSTGRESQL:
        argv = [
            "env",
            "--chdir=/",
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-X",
            "-tA",
            "-p",
            str(port),
            "-c",
            _text(probe.query, settings),
        ]
        return await _on_host(connector, argv, _text(probe.expect, settings))
    argv = [_text(arg, settings) for arg in probe.argv or []]
    return await _on_host(connector, argv, _text(probe.expect, settings))


PROBED_KINDS = {ProbeKind.TCP, ProbeKind.HTTP, ProbeKind.DNS, ProbeKind.POSTGRESQL, ProbeKind.COMMAND}


async def run_probe(
    role: Role, probe: Probe, settings: dict[str, Any], connector: Connector, retry: float | None = None
) -> ProbeResult:
    """Run one probe, retrying until it passes or ``retry`` seconds (default RETRY_SECONDS) have gone by."""
    if connector.root or probe.kind not in PROBED_KINDS:
        why = "an offline root runs no services" if connector.root else f"no {probe.kind.value} prober yet"
        return ProbeResult(role.id, probe.name, probe.kind.value, None, f"skipped: {why}")
    deadline = time.monotonic() + (RETRY_SECONDS if retry is None else retry)
    while True:
        try:
            output = await _once(probe, settings, connector)
            return ProbeResult(role.id, probe.name, probe.kind.value, True, output)
        except (ProbeFailed, OSError, TimeoutError, UnicodeError) as error:
            message = str(error) or type(error).__name__
            if time.monotonic() >= deadline:
                return ProbeResult(role.id, probe.name, probe.kind.value, False, message)
        await asyncio.sleep(0.5)


async def verify_role(
    role: Role, settings: dict[str, Any], connector: Connector, retry: float | None = None
) -> list[ProbeResult]:
    return [await run_probe(role, probe, settings, connector, retry) for probe in role.probes]
