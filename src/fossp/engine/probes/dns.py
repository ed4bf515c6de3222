"""DNS with dnspython: any record type over UDP or TCP, PTR by name or by address; the
answer's records must hold ``expect``, and an SOA must come from an authoritative server."""

from __future__ import annotations

import ipaddress
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.reversename

from fossp.catalog.schema import Probe, Protocol
from fossp.engine.probes.common import ProbeFailed, text
from fossp.hosts.connector import Connector


def question(name: str, record: str) -> dns.message.QueryMessage:
    """A query (recursion desired) for ``name``'s ``record``; a PTR of an address asks for
    its reverse name (in-addr.arpa or ip6.arpa)."""
    try:
        rdtype = dns.rdatatype.from_text(record)
    except dns.rdatatype.UnknownRdatatype:
        raise ProbeFailed(f"{record!r} is not a DNS record type") from None
    qname = dns.name.from_text(name)
    if rdtype == dns.rdatatype.PTR and _is_address(name):
        qname = dns.reversename.from_address(name)
    return dns.message.make_query(qname, rdtype)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    name, record = text(probe.query, settings), (probe.record or "A").upper()
    query = question(name, record)
    where = f"{name} {record} @{address}:{port}/{probe.protocol.value}"
    try:
        if probe.protocol is Protocol.TCP:
            reply = await dns.asyncquery.tcp(query, address, timeout=probe.timeout, port=port)
        else:
            reply = await dns.asyncquery.udp(query, address, timeout=probe.timeout, port=port)
    except dns.exception.Timeout:
        raise ProbeFailed(f"{where}: no answer within {probe.timeout:g} s") from None
    except dns.exception.DNSException as error:
        raise ProbeFailed(f"{where}: {error}") from error
    return verdict(where, reply, query.question[0].rdtype, text(probe.expect, settings))


def verdict(where: str, reply: dns.message.Message, rdtype: int, expect: str) -> str:
    """Pass on NOERROR with records of the type asked (holding ``expect``); SOA needs AA."""
    records = [rdata.to_text() for rrset in reply.answer if rrset.rdtype == rdtype for rdata in rrset]
    authoritative = bool(reply.flags & dns.flags.AA)
    rcode = dns.rcode.to_text(reply.rcode())
    summary = f"{where}: {rcode}, {len(records)} answer(s){', authoritative' if authoritative else ''}"
    if reply.flags & dns.flags.TC:
        summary += ", truncated (ask over tcp)"
    if rcode != "NOERROR" or not records:
        raise ProbeFailed(summary)
    if rdtype == dns.rdatatype.SOA and not authoritative:
        raise ProbeFailed(f"{summary}; an SOA answer must be authoritative")
    if expect and not any(expect in record for record in records):
        raise ProbeFailed(f"{summary}; none holds {expect!r}: {'; '.join(records)[:200]}")
    return f"{summary}: {'; '.join(records)[:200]}"
