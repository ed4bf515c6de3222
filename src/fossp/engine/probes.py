"""Health probes: prove a role works by speaking its protocol.

TCP, HTTP, DNS, TFTP and LDAP probes run from the controller to the host's address (what
a client sees); PostgreSQL, MySQL and command probes run on the host over the run's
connection, as the database's local administrator. A probe is retried briefly, since a
service that was just (re)started may need a moment.
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
from fossp.engine import wire
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


def _tftp_exchange(address: str, port: int, path: str, timeout: float) -> wire.TftpReply:
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


async def _tftp(address: str, port: int, probe: Probe, settings: dict[str, Any]) -> str:
    path = _text(probe.path, settings) or "fossp-probe"
    expect = _text(probe.expect, settings)
    reply = await asyncio.to_thread(_tftp_exchange, address, port, path, probe.timeout)
    where = f"tftp://{address}:{port}/{path}"
    if reply.opcode == wire.TFTP_ERROR:
        summary = f"{where}: server answered ERROR {reply.code} {reply.message!r}"
        if expect:
            raise ProbeFailed(f"{summary}; wanted data holding {expect!r}")
        return summary
    if expect and expect not in reply.data.decode(errors="replace"):
        raise ProbeFailed(f"{where}: first block lacks {expect!r}")
    return f"{where}: DATA block {reply.block}, {len(reply.data)} bytes"


async def _ldap_replies(reader: asyncio.StreamReader, timeout: float) -> list[wire.LdapMessage]:
    """Messages until the SearchResultDone (or a failed bind, which ends the exchange)."""
    buffer, messages = b"", []
    while True:
        chunk = await asyncio.wait_for(reader.read(65536), timeout)
        if not chunk:
            raise ProbeFailed("the server closed the connection before the search finished")
        buffer += chunk
        while True:
            try:
                message, used = wire.ldap_message(buffer)
            except wire.WireError:
                break  # incomplete: read more
            buffer = buffer[used:]
            messages.append(message)
            failed_bind = message.operation == wire.BIND_RESPONSE and message.result_code != 0
            if message.operation == wire.SEARCH_DONE or failed_bind:
                return messages


async def _ldap(address: str, port: int, probe: Probe, settings: dict[str, Any]) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), probe.timeout)
    try:
        writer.write(wire.ldap_anonymous_bind(1) + wire.ldap_root_dse_search(2))
        await writer.drain()
        messages = await _ldap_replies(reader, probe.timeout)
        writer.write(wire.ldap_unbind(3))
    finally:
        writer.close()
    return _ldap_verdict(f"ldap://{address}:{port}", messages, _text(probe.expect, settings))


def _ldap_verdict(where: str, messages: list[wire.LdapMessage], expect: str) -> str:
    """Pass on a clean anonymous bind and a root DSE entry (holding ``expect``, if given)."""
    last = messages[-1]
    if last.operation == wire.BIND_RESPONSE:
        raise ProbeFailed(f"{where}: anonymous bind refused (result {last.result_code} {last.diagnostic!r})")
    values = [value for m in messages if m.operation == wire.SEARCH_ENTRY for value in m.values]
    summary = f"{where}: root DSE search result {last.result_code}, {len(values)} value(s)"
    if last.result_code != 0 or not values:
        raise ProbeFailed(f"{summary} {last.diagnostic!r}".rstrip(" '"))
    if expect and not any(expect in value for value in values):
        raise ProbeFailed(f"{summary}; none holds {expect!r}")
    return summary


async def _on_host(connector: Connector, argv: list[str], expect: str) -> str:
    result = await connector.run(argv)
    output = (result.stdout + result.stderr).strip()
    if not result.ok or (expect and expect not in result.stdout):
        raise ProbeFailed(result.describe() if not result.ok else f"output lacks {expect!r}: {output[:300]}")
    return output[:300]


def _host_argv(probe: Probe, port: int, settings: dict[str, Any]) -> list[str]:
    """The command an on-host probe runs: the query travels as one argument, never as shell text."""
    query = _text(probe.query, settings)
    if probe.kind is ProbeKind.POSTGRESQL:
        return [
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
            query,
        ]
    if probe.kind is ProbeKind.MYSQL:  # root through the unix socket: Debian and Fedora's default auth
        return [
            "mysql",
            "--user=root",
            "--protocol=socket",
            "--batch",
            "--skip-column-names",
            "-e",
            query,
        ]
    return [_text(arg, settings) for arg in probe.argv or []]


#: Probes that run from the controller, as a client would reach the role.
REMOTE = {
    ProbeKind.TCP: _tcp,
    ProbeKind.HTTP: _http,
    ProbeKind.DNS: _dns,
    ProbeKind.TFTP: _tftp,
    ProbeKind.LDAP: _ldap,
}


async def _once(probe: Probe, settings: dict[str, Any], connector: Connector) -> str:
    port = int(settings[probe.port_setting]) if probe.port_setting else (probe.port or 0)
    remote = REMOTE.get(probe.kind)
    if remote is not None:
        return await remote(connector.address, port, probe, settings)
    return await _on_host(connector, _host_argv(probe, port, settings), _text(probe.expect, settings))


PROBED_KINDS = {*REMOTE, ProbeKind.POSTGRESQL, ProbeKind.MYSQL, ProbeKind.COMMAND}


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
        except (ProbeFailed, wire.WireError, OSError, TimeoutError, UnicodeError) as error:
            message = str(error) or type(error).__name__
            if time.monotonic() >= deadline:
                return ProbeResult(role.id, probe.name, probe.kind.value, False, message)
        await asyncio.sleep(0.5)


async def verify_role(
    role: Role, settings: dict[str, Any], connector: Connector, retry: float | None = None
) -> list[ProbeResult]:
    return [await run_probe(role, probe, settings, connector, retry) for probe in role.probes]
