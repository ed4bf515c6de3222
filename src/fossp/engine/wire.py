"""Pure packet builders and parsers for the probes that speak a protocol by hand.

TFTP (RFC 1350) and LDAP (RFC 4511, BER encoded per X.690) need only a few messages to
prove a server answers, so FOSSP encodes them itself rather than adding client
libraries. Nothing here touches the network: tests feed bytes and compare bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field


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


# --- BER and LDAP -----------------------------------------------------------------------

SEQUENCE, INTEGER, OCTET_STRING, ENUMERATED, BOOLEAN, SET = 0x30, 0x02, 0x04, 0x0A, 0x01, 0x31
BIND_REQUEST, BIND_RESPONSE = 0x60, 0x61
SEARCH_REQUEST, SEARCH_ENTRY, SEARCH_DONE, SEARCH_REFERENCE = 0x63, 0x64, 0x65, 0x73
UNBIND_REQUEST = 0x42
SIMPLE_AUTH = 0x80  # [0] primitive: the simple password
PRESENT_FILTER = 0x87  # [7] primitive: (attribute=*)


def ber(tag: int, content: bytes) -> bytes:
    """One BER element: tag, definite length (short or long form), content."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def ber_int(value: int, tag: int = INTEGER) -> bytes:
    """A non-negative integer (two's complement, minimal octets)."""
    return ber(tag, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def ber_read(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """(tag, content, offset after the element) of the element at ``offset``."""
    if offset + 2 > len(data):
        raise WireError("truncated BER element")
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise WireError("unsupported or truncated BER length")
        size = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        size = first
    end = start + size
    if end > len(data):
        raise WireError("truncated BER element")
    return tag, data[start:end], end


def ber_items(content: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) elements inside a constructed element's content."""
    items, offset = [], 0
    while offset < len(content):
        tag, body, offset = ber_read(content, offset)
        items.append((tag, body))
    return items


def _message(message_id: int, operation: bytes) -> bytes:
    return ber(SEQUENCE, ber_int(message_id) + operation)


def ldap_anonymous_bind(message_id: int) -> bytes:
    """BindRequest: LDAPv3, empty name, empty simple password."""
    return _message(message_id, ber(BIND_REQUEST, ber_int(3) + ber(OCTET_STRING, b"") + ber(SIMPLE_AUTH, b"")))


def ldap_root_dse_search(message_id: int) -> bytes:
    """SearchRequest: base "" scope base, (objectClass=*), all user and operational attributes."""
    attributes = ber(SEQUENCE, ber(OCTET_STRING, b"*") + ber(OCTET_STRING, b"+"))
    request = (
        ber(OCTET_STRING, b"")
        + ber_int(0, ENUMERATED)  # baseObject
        + ber_int(0, ENUMERATED)  # neverDerefAliases
        + ber_int(0)  # no size limit
        + ber_int(0)  # no time limit
        + ber(BOOLEAN, b"\x00")  # types only: no
        + ber(PRESENT_FILTER, b"objectClass")
        + attributes
    )
    return _message(message_id, ber(SEARCH_REQUEST, request))


def ldap_unbind(message_id: int) -> bytes:
    return _message(message_id, ber(UNBIND_REQUEST, b""))


@dataclass(frozen=True)
class LdapMessage:
    """A response: its message ID, operation tag, result code (for results) and entry text."""

    message_id: int
    operation: int
    result_code: int | None = None
    diagnostic: str = ""
    values: list[str] = field(default_factory=list)


def ldap_message(data: bytes, offset: int = 0) -> tuple[LdapMessage, int]:
    """Parse one LDAPMessage at ``offset``; return it and the offset after it."""
    tag, content, end = ber_read(data, offset)
    if tag != SEQUENCE:
        raise WireError(f"LDAP message starts with tag {tag:#x}, not a SEQUENCE")
    parts = ber_items(content)
    if len(parts) < 2 or parts[0][0] != INTEGER:
        raise WireError("LDAP message lacks its ID or operation")
    message_id = int.from_bytes(parts[0][1], "big")
    operation, body = parts[1]
    if operation == SEARCH_ENTRY:
        return LdapMessage(message_id, operation, values=_entry_values(body)), end
    if operation in (BIND_RESPONSE, SEARCH_DONE):
        result = ber_items(body)
        if len(result) < 3 or result[0][0] != ENUMERATED:
            raise WireError("LDAP result lacks its result code")
        diagnostic = result[2][1].decode(errors="replace")
        return LdapMessage(message_id, operation, int.from_bytes(result[0][1], "big"), diagnostic), end
    return LdapMessage(message_id, operation), end


def _entry_values(body: bytes) -> list[str]:
    """The DN, then ``attribute: value`` for each value of a SearchResultEntry."""
    items = ber_items(body)
    if not items:
        raise WireError("empty LDAP search entry")
    values = [items[0][1].decode(errors="replace")]
    for _, attribute in ber_items(items[1][1]) if len(items) > 1 else []:
        parts = ber_items(attribute)
        name = parts[0][1].decode(errors="replace")
        values += [f"{name}: {value.decode(errors='replace')}" for _, value in ber_items(parts[1][1])]
    return values
