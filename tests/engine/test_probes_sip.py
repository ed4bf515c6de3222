"""The SIP probe against a real UDP responder on loopback: one that answers OPTIONS as a
SIP server does (a provisional response first, then the final one, echoing Via, Call-ID
and CSeq), one that answers 401 as a PBX without an endpoint for the caller does, one
that answers other calls only, one that answers in another protocol, and a silent port."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine.probes import ProbeFailed, remote_prober
from fossp.engine.probes.sip import parse_reply

#: What the responder sends back for a request: a list of datagrams.
Answer = Callable[[bytes], list[bytes]]
received: list[bytes] = []


def _echoed(request: bytes) -> str:
    """The request's Via, From, To, Call-ID and CSeq lines, as a response copies them."""
    lines = request.decode().split("\r\n")
    names = ("via:", "from:", "to:", "call-id:", "cseq:")
    return "".join(f"{line}\r\n" for line in lines if line.lower().startswith(names))


def sip_status(*statuses: str) -> Answer:
    def answer(request: bytes) -> list[bytes]:
        return [
            f"SIP/2.0 {status}\r\n{_echoed(request)}Server: Asterisk PBX 20.5.0\r\nContent-Length: 0\r\n\r\n".encode()
            for status in statuses
        ]

    return answer


def other_call(request: bytes) -> list[bytes]:
    text = _echoed(request).replace("Call-ID: ", "Call-ID: not-", 1)
    return [f"SIP/2.0 200 OK\r\n{text}Content-Length: 0\r\n\r\n".encode()]


def not_sip(request: bytes) -> list[bytes]:
    return [b"HTTP/1.1 400 Bad Request\r\n\r\n"]


def silent(request: bytes) -> list[bytes]:
    return []


@contextmanager
def responder(answer: Answer) -> Iterator[int]:
    """A UDP server on loopback answering each datagram with ``answer``; yields its port."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                request, sender = server.recvfrom(65536)
            except TimeoutError:
                continue
            received.append(request)
            for datagram in answer(request):
                server.sendto(datagram, sender)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


def run(answer: Answer) -> str:
    received.clear()
    with responder(answer) as port:
        probe = Probe(name="s", kind=ProbeKind.SIP, port=port, description="t", timeout=0.5)
        return asyncio.run(remote_prober(ProbeKind.SIP)("127.0.0.1", port, probe, {}, None))


def test_a_sip_server_answering_200_after_a_provisional_response_passes() -> None:
    output = run(sip_status("100 Trying", "200 OK"))
    assert output.endswith("(UDP): OPTIONS answered SIP/2.0 200 OK by Asterisk PBX 20.5.0")
    [request] = received
    head = request.decode()
    assert head.startswith("OPTIONS sip:127.0.0.1:") and head.endswith("Content-Length: 0\r\n\r\n")
    assert "\r\nCSeq: 1 OPTIONS\r\n" in head and "\r\nVia: SIP/2.0/UDP 127.0.0.1:" in head


@pytest.mark.parametrize("status", ["401 Unauthorized", "404 Not Found"])
def test_a_pbx_that_refuses_the_unknown_caller_still_answers(status: str) -> None:
    assert f"answered SIP/2.0 {status}" in run(sip_status(status))


def test_a_silent_port_fails() -> None:
    with pytest.raises(ProbeFailed, match=r"\(UDP\): no final SIP response within 0.5 s"):
        run(silent)


def test_only_provisional_or_other_calls_responses_fail() -> None:
    with pytest.raises(ProbeFailed, match="no final SIP response"):
        run(sip_status("100 Trying"))
    with pytest.raises(ProbeFailed, match="no final SIP response"):
        run(other_call)


def test_an_answer_in_another_protocol_fails() -> None:
    with pytest.raises(ProbeFailed, match=r"no SIP/2.0 response: 'HTTP/1.1 400 Bad Request'"):
        run(not_sip)


def test_reply_headers_are_read_case_insensitively() -> None:
    reply = parse_reply(b"SIP/2.0 200 OK\r\ncall-id: abc\r\nSERVER: x\r\n\r\nbody")
    assert (reply.status, reply.reason, reply.headers) == (200, "OK", {"call-id": "abc", "server": "x"})
