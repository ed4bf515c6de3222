"""TFTP and LDAP packets as bytes, compared with captures of real clients and servers;
the probes' verdicts on parsed replies; the TFTP prober against a UDP socket on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from fossp.catalog.schema import Probe, ProbeKind, Protocol
from fossp.engine import probes, wire
from fossp.engine.probes import ProbeFailed

BIND_OK = bytes.fromhex("300c02010161070a010004000400")
ROOT_DSE_ENTRY = bytes.fromhex("3029020102642404003020301e040e6e616d696e67436f6e7465787473310c040a64633d6578616d706c65")
SEARCH_DONE_OK = bytes.fromhex("300c02010265070a010004000400")
BIND_REFUSED = bytes.fromhex("301302010161 0e0a0131 0400 04074e6f20616e6f6e".replace(" ", ""))


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


def test_ldap_requests_match_what_ldapsearch_sends() -> None:
    assert wire.ldap_anonymous_bind(1) == bytes.fromhex("300c020101600702010304008000")
    search = wire.ldap_root_dse_search(2)
    assert search.startswith(bytes.fromhex("302b020102632604000a0100"))  # message 2, base ""
    assert b"\x87\x0bobjectClass" in search
    assert wire.ldap_unbind(3) == bytes.fromhex("30050201034200")


def test_ber_lengths_long_form_and_truncation() -> None:
    long = wire.ber(wire.OCTET_STRING, b"x" * 200)
    assert long[:3] == b"\x04\x81\xc8"
    assert wire.ber_read(long) == (wire.OCTET_STRING, b"x" * 200, 203)
    assert wire.ber_int(128) == b"\x02\x02\x00\x80"
    with pytest.raises(wire.WireError, match="truncated"):
        wire.ber_read(long[:50])


def test_ldap_replies_parse_into_results_and_entry_values() -> None:
    stream = BIND_OK + ROOT_DSE_ENTRY + SEARCH_DONE_OK
    bind, offset = wire.ldap_message(stream)
    entry, offset = wire.ldap_message(stream, offset)
    done, offset = wire.ldap_message(stream, offset)
    assert offset == len(stream)
    assert (bind.operation, bind.result_code) == (wire.BIND_RESPONSE, 0)
    assert entry.values == ["", "namingContexts: dc=example"]
    assert (done.message_id, done.operation, done.result_code) == (2, wire.SEARCH_DONE, 0)


def test_ldap_verdicts() -> None:
    messages = [wire.ldap_message(m)[0] for m in (BIND_OK, ROOT_DSE_ENTRY, SEARCH_DONE_OK)]
    assert "2 value(s)" in probes._ldap_verdict("ldap://h", messages, "")
    assert probes._ldap_verdict("ldap://h", messages, "dc=example")
    with pytest.raises(ProbeFailed, match="none holds 'dc=other'"):
        probes._ldap_verdict("ldap://h", messages, "dc=other")
    with pytest.raises(ProbeFailed, match="0 value"):
        probes._ldap_verdict("ldap://h", [messages[0], messages[2]], "")
    refused = wire.ldap_message(BIND_REFUSED)[0]
    with pytest.raises(ProbeFailed, match=r"anonymous bind refused \(result 49 'No anon'\)"):
        probes._ldap_verdict("ldap://h", [refused], "")


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
    run = probes._tftp("127.0.0.1", port, _tftp_probe(expect), {})
    if passes:
        assert "tftp://127.0.0.1" in asyncio.run(run)
    else:
        with pytest.raises(ProbeFailed):
            asyncio.run(run)
    thread.join(5)
    assert seen[0] == wire.tftp_read_request("f")
    if reply[1] == wire.TFTP_DATA:
        assert seen[1][:2] == b"\x00\x05", "the transfer is ended with an ERROR packet"
