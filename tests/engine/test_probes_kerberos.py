"""The Kerberos probe's fields as the schema takes them, the pre-authentication hint of
Samba's KDC that minikerberos alone chokes on, and its failures without a KDC (the real
TGT and LDAPS search run against a Samba AD DC in tests/e2e/test_samba_ad.py)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from minikerberos.common.target import KerberosTarget
from minikerberos.protocol.asn1_structs import ETYPE_INFO2, METHOD_DATA
from minikerberos.protocol.constants import EncryptionType

from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine.probes import ProbeFailed, Unreachable, remote_prober
from fossp.engine.probes.kerberos import _Client, _credential

PA_GSS = 655  # Heimdal's KRB5_PADATA_GSS, in every PREAUTH_REQUIRED of Samba 4.17's KDC
PA_ETYPE_INFO2 = 19
PA_ENC_TIMESTAMP = 2


def kerberos(**fields: Any) -> Probe:
    return Probe(name="k", kind=ProbeKind.KERBEROS, port=88, description="t", **fields)


def test_a_kerberos_probe_needs_a_principal_and_its_secret() -> None:
    assert kerberos(principal="Administrator@{realm}", password_setting="admin_password").principal
    with pytest.raises(ValueError, match="needs principal and password_setting"):
        kerberos(principal="Administrator@X.TEST")
    with pytest.raises(ValueError, match="principal applies only to kerberos"):
        Probe(name="l", kind=ProbeKind.LDAP, port=389, description="t", principal="a@B")
    assert kerberos(principal="a@B", password_setting="p", tls=True, ca="/ca.pem").tls


def test_an_unknown_pre_authentication_type_is_passed_over() -> None:
    """Samba's KDC lists PA-GSS beside ETYPE-INFO2; only the latter's salt matters."""
    salt = "SAMDOM.FOSSP.TESTAdministrator"
    info = ETYPE_INFO2([{"etype": EncryptionType.AES256_CTS_HMAC_SHA1_96.value, "salt": salt}]).dump()
    hints = [
        {"padata-type": PA_ETYPE_INFO2, "padata-value": info},
        {"padata-type": PA_ENC_TIMESTAMP, "padata-value": b""},
        {"padata-type": PA_GSS, "padata-value": b""},
    ]
    client = _Client(_credential("Administrator", "SAMDOM.FOSSP.TEST", "pw"), KerberosTarget("127.0.0.1"))
    chosen, common = client.select_preferred_encryption_method({"e-data": METHOD_DATA(hints).dump()})
    assert chosen is EncryptionType.AES256_CTS_HMAC_SHA1_96 and common == [chosen]
    assert client.server_supp_enc_methods == {chosen: salt}


def test_a_dead_kdc_is_unreachable_and_a_bad_principal_or_missing_secret_fails() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    probe = kerberos(principal="Administrator@{realm}", password_setting="admin_password", timeout=2)
    settings = {"realm": "samdom.fossp.test", "admin_password": "Domain-Secret-42"}
    with pytest.raises(Unreachable, match=rf"kerberos://127.0.0.1:{port}"):
        asyncio.run(remote_prober(ProbeKind.KERBEROS)("127.0.0.1", port, probe, settings, None))
    with pytest.raises(ProbeFailed, match="has no value"):
        asyncio.run(remote_prober(ProbeKind.KERBEROS)("127.0.0.1", port, probe, {"realm": "X.TEST"}, None))
    nobody = kerberos(principal="Administrator", password_setting="admin_password")
    with pytest.raises(ProbeFailed, match="is not user@REALM"):
        asyncio.run(remote_prober(ProbeKind.KERBEROS)("127.0.0.1", port, nobody, settings, None))
