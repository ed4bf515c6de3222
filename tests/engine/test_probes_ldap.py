"""The LDAP probe's fields as the schema takes them, and its failures without a server
(the real binds, searches, LDAPS and StartTLS run against slapd in tests/e2e/test_probes_live.py)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine.probes import ProbeFailed, Unreachable, remote_prober


def ldap(**fields: Any) -> Probe:
    return Probe(name="l", kind=ProbeKind.LDAP, port=389, description="t", **fields)


def test_bind_needs_a_dn_and_a_secret_setting_together() -> None:
    assert ldap(bind_dn="cn=admin,{suffix}", password_setting="admin_password").bind_dn
    with pytest.raises(ValueError, match="needs both bind_dn and password_setting"):
        ldap(bind_dn="cn=admin,dc=x")
    with pytest.raises(ValueError, match="needs both bind_dn and password_setting"):
        ldap(password_setting="admin_password")


def test_tls_fields() -> None:
    assert ldap(starttls=True, ca="/etc/ldap/ca.pem", server_name="ldap.fossp.test").starttls
    with pytest.raises(ValueError, match="exclude each other"):
        ldap(tls=True, starttls=True)
    with pytest.raises(ValueError, match="starttls applies only to ldap"):
        Probe(name="h", kind=ProbeKind.HTTP, port=80, description="t", starttls=True)
    with pytest.raises(ValueError, match="filter needs base"):
        ldap(filter="(uid=a)")


def test_a_dead_port_is_unreachable_and_a_missing_secret_fails() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(Unreachable):
        asyncio.run(remote_prober(ProbeKind.LDAP)("127.0.0.1", port, ldap(timeout=1), {}))
    probe = ldap(bind_dn="cn=admin,dc=x", password_setting="admin_password")
    with pytest.raises(ProbeFailed, match="'admin_password' has no value"):
        asyncio.run(remote_prober(ProbeKind.LDAP)("127.0.0.1", port, probe, {}))
