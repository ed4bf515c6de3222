"""LDAP with ldap3: an anonymous or simple bind (the password from a secret setting, in
memory only) over plain LDAP, LDAPS or StartTLS, then a search of the root DSE or of
``base``; the entries returned must hold ``expect``."""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPSocketOpenError

from fossp.catalog.schema import Probe
from fossp.engine.probes.common import ProbeFailed, Unreachable, ca_certificates, password, text
from fossp.hosts.connector import Connector

SIZE_LIMIT = 100
SIZE_LIMIT_EXCEEDED = 4


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    secure = probe.tls or probe.starttls
    ca = await ca_certificates(probe, settings, connector) if secure else None
    secret = password(probe, settings) if probe.password_setting else ""
    return await asyncio.to_thread(_session, address, port, probe, settings, ca, secret)


def _server(address: str, port: int, probe: Probe, server_name: str, ca: str | None) -> Server:
    tls = None
    if probe.tls or probe.starttls:  # the certificate must match the address or server_name
        names = [server_name] if server_name else None
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_data=ca, sni=server_name or None, valid_names=names)
    return Server(address, port=port, use_ssl=probe.tls, tls=tls, connect_timeout=probe.timeout, get_info=NONE)


def _session(address: str, port: int, probe: Probe, settings: dict[str, Any], ca: str | None, secret: str) -> str:
    where = f"{'ldaps' if probe.tls else 'ldap'}://{address}:{port}{' (StartTLS)' if probe.starttls else ''}"
    bind_dn = text(probe.bind_dn, settings)
    server = _server(address, port, probe, text(probe.server_name, settings), ca)
    receive = math.ceil(probe.timeout)  # whole seconds: ldap3 packs it into SO_RCVTIMEO
    connection = Connection(server, user=bind_dn or None, password=secret or None, receive_timeout=receive)
    with session(where, connection):
        if probe.starttls:
            connection.start_tls()
        if not connection.bind():
            raise ProbeFailed(f"{where}: {_who(bind_dn)} bind refused ({_result(connection)})")
        return _search(where, connection, probe, settings)


@contextmanager
def session(where: str, connection: Connection) -> Iterator[Connection]:
    """The connection opened, ldap3's errors as probe outcomes (down: Unreachable, any other
    LDAP error: ProbeFailed naming ``where``), and the connection always closed."""
    try:
        connection.open()
        yield connection
    except LDAPSocketOpenError as error:
        raise Unreachable(f"{where}: {error}") from error
    except LDAPException as error:
        raise ProbeFailed(f"{where}: {type(error).__name__}: {error}") from error
    finally:
        connection.unbind()


def _who(bind_dn: str) -> str:
    return f"simple ({bind_dn})" if bind_dn else "anonymous"


def _result(connection: Connection) -> str:
    result = connection.result or {}
    return f"result {result.get('result')} {result.get('description', '')} {result.get('message', '')!r}".rstrip()


def _search(where: str, connection: Connection, probe: Probe, settings: dict[str, Any]) -> str:
    base = text(probe.base, settings)
    search_filter = text(probe.filter, settings) or "(objectClass=*)"
    connection.search(
        base,
        search_filter,
        search_scope=SUBTREE if base else BASE,
        attributes=["*"] if base else ["*", "+"],
        size_limit=SIZE_LIMIT,
    )
    values = [
        value
        for entry in connection.response or []
        if entry.get("type") == "searchResEntry"
        for value in _values(entry)
    ]
    what = f"search of {base!r} {search_filter}" if base else "root DSE search"
    code = (connection.result or {}).get("result")
    summary = f"{where}: {_who(text(probe.bind_dn, settings))} bind, {what} result {code}, {len(values)} value(s)"
    if code not in (0, SIZE_LIMIT_EXCEEDED) or not values:
        raise ProbeFailed(f"{summary} ({_result(connection)})")
    expect = text(probe.expect, settings)
    if expect and not any(expect in value for value in values):
        raise ProbeFailed(f"{summary}; none holds {expect!r}")
    return summary


def _values(entry: dict[str, Any]) -> list[str]:
    """The entry's DN, then ``attribute: value`` for each value."""
    attributes = entry.get("raw_attributes") or {}
    shown = [f"{name}: {_decoded(value)}" for name, values in attributes.items() for value in values]
    return [entry.get("dn", ""), *shown]


def _decoded(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
