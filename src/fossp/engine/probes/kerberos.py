"""Kerberos with minikerberos (pure Python, no system krb5 configuration on the
controller): an AS-REQ for ``principal`` with the password from a secret setting gets a
ticket-granting ticket from the KDC at the host's address, which proves the KDC holds the
account's keys. With ``tls`` (an Active Directory domain controller), the DC is then asked
over LDAP for its naming context and DNS host name, and the same account binds over LDAPS
(the certificate checked against ``ca`` read on the host, for that name) and searches the
domain for its domain object. Samba refuses simple binds without TLS, hence LDAPS.

The search binds with the password, not the ticket: a SASL GSSAPI bind needs a service
ticket, and minikerberos' TGS-REQ carries no checksum of its request body, which Heimdal's
KDC (Samba's) rightly refuses (KRB_AP_ERR_INAPP_CKSUM); python-gssapi would need the
system's Kerberos libraries and a krb5.conf for the realm on the controller."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from ldap3 import BASE, Connection, Server
from minikerberos.aioclient import AIOKerberosClient
from minikerberos.common.creds import KerberosCredential
from minikerberos.common.target import KerberosTarget
from minikerberos.protocol.asn1_structs import METHOD_DATA
from minikerberos.protocol.constants import EncryptionType, PaDataType
from minikerberos.protocol.errors import KerberosError

from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine.probes import ldap
from fossp.engine.probes.common import ProbeFailed, Unreachable, password, text
from fossp.hosts.connector import Connector

LDAP_PORT = 389
LDAPS_PORT = 636
DOMAIN_FILTER = "(objectClass=domain)"


class _Client(AIOKerberosClient):
    """minikerberos stops at pre-authentication types it does not know; Heimdal's KDC
    (Samba's) lists PA-GSS (655) among them. Only the known ones carry the salts it needs."""

    def select_preferred_encryption_method(self, rep: dict[str, Any]) -> Any:
        known = {member.value for member in PaDataType}
        methods = [m for m in METHOD_DATA.load(rep["e-data"]).native if m["padata-type"] in known]
        return super().select_preferred_encryption_method({**rep, "e-data": METHOD_DATA(methods).dump()})


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    user, realm = _principal(text(probe.principal, settings))
    target = KerberosTarget(address, port=port, timeout=math.ceil(probe.timeout))
    client = _Client(_credential(user, realm, password(probe, settings)), target)
    where = f"kerberos://{address}:{port}"
    await _ask(where, client.get_TGT())
    etype = EncryptionType(client.kerberos_cipher_type).name
    summary = f"{where}: TGT for {user}@{realm} ({etype}) until {client.kerberos_TGT_encpart['endtime']}"
    if not probe.tls:
        return summary
    naming_context, host_name = await asyncio.to_thread(_root_dse, address, probe.timeout)
    search = probe.model_copy(
        update={
            "kind": ProbeKind.LDAP,
            "principal": None,
            "bind_dn": f"{user}@{realm}",
            "server_name": host_name,
            "base": naming_context,
            "filter": DOMAIN_FILTER,
        }
    )
    found = await ldap.probe(address, LDAPS_PORT, search, settings, connector)
    return f"{summary}; {found}"


def _principal(value: str) -> tuple[str, str]:
    user, _, realm = value.rpartition("@")
    if not user or not realm:
        raise ProbeFailed(f"principal {value!r} is not user@REALM")
    return user, realm.upper()


def _credential(user: str, realm: str, secret: str) -> KerberosCredential:
    credential = KerberosCredential()
    credential.username, credential.domain, credential.password = user, realm, secret
    return credential


async def _ask(where: str, request: Any) -> None:
    """Await a KDC exchange; a refusal is a failure that names the KDC's error code."""
    try:
        await request
    except KerberosError as error:
        raise ProbeFailed(f"{where}: {error.errorcode.name}") from error
    except (ConnectionError, TimeoutError) as error:
        raise Unreachable(f"{where}: {error or type(error).__name__}") from error


def _root_dse(address: str, timeout: float) -> tuple[str, str]:
    """The domain's naming context and the DC's DNS host name, read anonymously."""
    where = f"ldap://{address}:{LDAP_PORT}"
    server = Server(address, port=LDAP_PORT, connect_timeout=timeout)
    connection = Connection(server, receive_timeout=math.ceil(timeout))
    with ldap.session(where, connection):
        connection.search("", "(objectClass=*)", search_scope=BASE, attributes=["defaultNamingContext", "dnsHostName"])
        entry = (connection.response or [{}])[0].get("attributes", {})
    context, host_name = _first(entry.get("defaultNamingContext")), _first(entry.get("dnsHostName"))
    if not context or not host_name:
        raise ProbeFailed(f"{where}: the root DSE names no defaultNamingContext and dnsHostName (not an AD DC?)")
    return context, host_name


def _first(value: Any) -> str:
    """An attribute's (first) value: without the server's schema ldap3 gives lists."""
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value) if value else ""
