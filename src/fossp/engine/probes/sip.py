"""SIP: an OPTIONS request over UDP (RFC 3261, section 11), answered by any final SIP/2.0
response. A PBX with no endpoint for the probe answers 401 or 404 rather than 200, and
that still proves its SIP stack parses requests and replies; silence or a datagram that
is not a SIP response for this request fails."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from fossp.catalog.schema import Probe
from fossp.engine.probes.common import ProbeFailed, host_for_url
from fossp.hosts.connector import Connector

_STATUS = re.compile(r"^SIP/2\.0 ([1-6][0-9]{2}) ?(.*)$")


@dataclass(frozen=True)
class SipReply:
    """A response's status code, reason phrase and headers (names lower case, first of each)."""

    status: int
    reason: str
    headers: dict[str, str]


def options_request(target: str, local: str, local_port: int, call_id: str) -> bytes:
    """An out-of-dialog OPTIONS for the server itself (no user part), replies to ``local``."""
    me = f"{host_for_url(local)}:{local_port}"
    lines = [
        f"OPTIONS sip:{target} SIP/2.0",
        f"Via: SIP/2.0/UDP {me};branch=z9hG4bK{secrets.token_hex(8)};rport",
        "Max-Forwards: 70",
        f"From: <sip:fossp-probe@{me}>;tag={secrets.token_hex(4)}",
        f"To: <sip:{target}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:fossp-probe@{me}>",
        "Accept: application/sdp",
        "User-Agent: FOSSP probe",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_reply(data: bytes) -> SipReply:
    """The status line and headers of a SIP response (names lower case), or ProbeFailed."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")
    first, *rest = head.split("\r\n")
    match = _STATUS.match(first)
    if match is None:
        raise ProbeFailed(f"the answer is no SIP/2.0 response: {first[:80]!r}")
    headers: dict[str, str] = {}
    for line in rest:
        name, colon, value = line.partition(":")
        if colon:
            headers.setdefault(name.strip().lower(), value.strip())
    return SipReply(int(match[1]), match[2], headers)


def _local_address(address: str, port: int, family: int) -> str:
    """The controller's address on the route to the server (a UDP connect sends nothing)."""
    with socket.socket(family, socket.SOCK_DGRAM) as route:
        route.connect((address, port))
        return str(route.getsockname()[0])


def _exchange(address: str, port: int, timeout: float) -> SipReply:
    """Send the OPTIONS and wait for the final response with its Call-ID; provisional
    (1xx) responses and other calls' datagrams are passed over until the deadline."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    local = _local_address(address, port, family)
    call_id = f"{secrets.token_hex(12)}@fossp"
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as datagram:
        datagram.bind((local, 0))
        request = options_request(f"{host_for_url(address)}:{port}", local, datagram.getsockname()[1], call_id)
        datagram.sendto(request, (address, port))
        while (left := deadline - time.monotonic()) > 0:
            datagram.settimeout(left)
            try:
                data = datagram.recv(65536)
            except TimeoutError:
                break
            reply = parse_reply(data)
            if reply.headers.get("call-id") == call_id and reply.status >= 200:
                return reply
    raise ProbeFailed(f"no final SIP response within {timeout:g} s")


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    where = f"sip:{host_for_url(address)}:{port} (UDP)"
    try:
        reply = await asyncio.to_thread(_exchange, address, port, probe.timeout)
    except ProbeFailed as error:
        raise ProbeFailed(f"{where}: {error}") from None
    server = reply.headers.get("server") or reply.headers.get("user-agent")
    return f"{where}: OPTIONS answered SIP/2.0 {reply.status} {reply.reason}" + (f" by {server}" if server else "")
