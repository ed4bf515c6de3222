"""The protocol probes against real services on lab hosts pr-1 and pr-2, each passing on
a healthy service and failing once it is stopped: slapd (anonymous root DSE, a simple
bind with a secret, a base search, LDAPS and StartTLS with a self-signed certificate read
from the host), Kea deployed by fossp (a DHCP OFFER to the controller, and to pr-2 through
the peer script), nginx's RTMP module (the handshake) and Icecast (source to listener)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fossp.catalog.schema import Probe, ProbeKind, Protocol
from fossp.engine.probes import ProbeFailed, dhcp, remote_prober
from fossp.hosts.connector import Connector, open_connector
from fossp.hosts.inventory import Inventory, resolve_targets
from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason

from .conftest import fossp_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
SERVER_PACKAGES = ("slapd", "ldap-utils", "openssl", "nginx", "libnginx-mod-rtmp", "icecast2")
probe_hosts = lab_fixture("pr-1", "pr-2", packages=(*role_packages(["kea"]), *SERVER_PACKAGES, "python3-minimal"))
APT = ("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q", "--no-install-recommends")
SECRET = "probe-secret-42"
SETTINGS = {"suffix": "dc=fossp,dc=test", "admin_password": SECRET, "source_password": SECRET}
CERT = "/etc/ldap/probe-cert.pem"


def install(host: LabHost, *packages: str) -> None:
    """Install from the lab's local repository (its index read afresh)."""
    ssh(host, "apt-get", "-q", "update")
    ssh(host, *APT, "install", *packages)


def stdin_ssh(host: LabHost, data: str, *command: str) -> None:
    """Run ``command`` with ``data`` on its stdin (secrets and configuration never in argv)."""
    import subprocess

    result = subprocess.run(host.ssh_command(*command), input=data, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"


async def probe_once(host: LabHost, settings: dict[str, Any] = SETTINGS, **fields: Any) -> str:
    """One controller-side probe run against ``host``, with its connection (for CA files)."""
    probe = Probe(name="live", description="e2e", **fields)
    connector: Connector = await open_connector(resolve_targets(Inventory(), [host.target])[0])
    try:
        return await remote_prober(probe.kind)(host.address, probe.port or 0, probe, settings, connector)
    finally:
        await connector.close()


def run(host: LabHost, **fields: Any) -> str:
    return asyncio.run(probe_once(host, **fields))


def slapd_with_tls(host: LabHost) -> None:
    """slapd for dc=fossp,dc=test (admin password by debconf, on stdin), a self-signed
    certificate for ldap.fossp.test only, and LDAPS beside LDAP."""
    selections = "".join(
        f"slapd {key}\n"
        for key in (
            f"slapd/password1 password {SECRET}",
            f"slapd/password2 password {SECRET}",
            "slapd/domain string fossp.test",
            "shared/organization string fossp",
        )
    )
    stdin_ssh(host, selections, "debconf-set-selections")
    install(host, "slapd", "ldap-utils", "openssl")
    ssh(host, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "2", "-subj", "/CN=ldap.fossp.test", "-addext", "subjectAltName=DNS:ldap.fossp.test",
        "-keyout", "/etc/ldap/probe-key.pem", "-out", CERT)  # fmt: skip
    ssh(host, "chown", "openldap:openldap", "/etc/ldap/probe-key.pem")
    ldif = (
        "dn: cn=config\nchangetype: modify\nreplace: olcTLSCertificateFile\n"
        f"olcTLSCertificateFile: {CERT}\n-\nreplace: olcTLSCertificateKeyFile\n"
        "olcTLSCertificateKeyFile: /etc/ldap/probe-key.pem\n"
    )
    stdin_ssh(host, ldif, "ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///")
    services = 'SLAPD_SERVICES="ldap:/// ldaps:/// ldapi:///"'
    ssh(host, "sed", "-i", f"s|^SLAPD_SERVICES=.*|{services}|", "/etc/default/slapd")
    ssh(host, "systemctl", "restart", "slapd")


def test_ldap_bind_search_ldaps_starttls_and_a_stopped_slapd(probe_hosts: list[LabHost]) -> None:
    host = probe_hosts[0]
    slapd_with_tls(host)
    assert "result 0" in run(host, kind=ProbeKind.LDAP, port=389, expect="{suffix}")
    bind = {"bind_dn": "cn=admin,{suffix}", "password_setting": "admin_password"}
    found = run(host, kind=ProbeKind.LDAP, port=389, **bind, base="{suffix}", filter="(o=*)", expect="o: fossp")
    assert "simple (cn=admin,dc=fossp,dc=test) bind" in found and SECRET not in found
    with pytest.raises(ProbeFailed, match="bind refused") as refused:
        asyncio.run(probe_once(host, {**SETTINGS, "admin_password": "not-the-secret"}, kind=ProbeKind.LDAP,
                               port=389, **bind))  # fmt: skip
    assert "not-the-secret" not in str(refused.value)
    tls = {"ca": CERT, "server_name": "ldap.fossp.test"}
    assert "ldaps://" in run(host, kind=ProbeKind.LDAP, port=636, tls=True, **tls, **bind, base="{suffix}")
    assert "(StartTLS)" in run(host, kind=ProbeKind.LDAP, port=389, starttls=True, **tls)
    with pytest.raises(ProbeFailed):  # the certificate names ldap.fossp.test, not the address
        run(host, kind=ProbeKind.LDAP, port=636, tls=True, ca=CERT)
    ssh(host, "systemctl", "stop", "slapd")
    with pytest.raises(OSError):
        run(host, kind=ProbeKind.LDAP, port=389, timeout=2)


def test_kea_offers_to_the_controller_and_to_a_peer(probe_hosts: list[LabHost]) -> None:
    server, peer = probe_hosts
    settings = (
        *("--set", "kea.interfaces=[eth0]", "--set", "kea.subnet=10.213.0.0/24"),
        *("--set", "kea.range_start=10.213.0.230", "--set", "kea.range_end=10.213.0.240"),
        *("--set", "kea.router=10.213.0.1", "--set", "kea.dns_servers=[10.213.0.1]"),
        *("--set", "kea.domain_name=fossp.test"),
    )
    result = fossp_json("deploy", "kea", "--target", server.target, *settings)["hosts"][0]
    outputs = {p["name"]: (p["ok"], p["output"]) for p in result["probes"]}
    assert outputs["dhcp-offer"][0] is True and f"from {server.address}" in outputs["dhcp-offer"][1], outputs
    install(peer, "python3-minimal")
    probe = Probe(name="offer", kind=ProbeKind.DHCP, port=67, protocol=Protocol.UDP, expect="10.213.0.0/24",
                  description="e2e", timeout=5)  # fmt: skip

    async def from_peer() -> str:
        connector = await open_connector(resolve_targets(Inventory(), [peer.target])[0])
        try:
            return await dhcp.from_peer(connector, server.address, 67, probe, {})
        finally:
            await connector.close()

    offered = asyncio.run(from_peer())
    assert "DHCPOFFER of 10.213.0.2" in offered and "pr-2's eth0" in offered
    ssh(server, "systemctl", "stop", "kea-dhcp4-server")
    with pytest.raises(ProbeFailed, match="no DHCPOFFER from"):
        asyncio.run(from_peer())
    with pytest.raises(ProbeFailed, match="no DHCPOFFER from"):
        run(server, kind=ProbeKind.DHCP, port=67, protocol=Protocol.UDP, timeout=3)
    fossp_json("decommission", "--yes", "--target", server.target)


def test_rtmp_handshake_with_nginx_and_icecast_source_to_listener(probe_hosts: list[LabHost]) -> None:
    host = probe_hosts[1]
    install(host, "nginx", "libnginx-mod-rtmp", "icecast2")
    rtmp = "rtmp { server { listen 1935; application live { live on; } } }\n"
    stdin_ssh(host, rtmp, "tee", "/etc/nginx/modules-enabled/99-fossp-rtmp.conf")
    ssh(host, "systemctl", "restart", "nginx")
    assert "handshake done" in run(host, kind=ProbeKind.RTMP, port=1935)
    password = f"s|<source-password>[^<]*</source-password>|<source-password>{SECRET}</source-password>|"
    stdin_ssh(host, password, "sed", "-i", "-f", "/dev/stdin", "/etc/icecast2/icecast.xml")
    ssh(host, "systemctl", "restart", "icecast2")
    stream = {"kind": ProbeKind.STREAM, "port": 8000, "path": "/fossp-probe", "password_setting": "source_password"}
    streamed = run(host, **stream, timeout=10)
    assert "listener received" in streamed and SECRET not in streamed
    ssh(host, "systemctl", "stop", "nginx", "icecast2")
    with pytest.raises(OSError):
        run(host, kind=ProbeKind.RTMP, port=1935, timeout=2)
    with pytest.raises(OSError):
        run(host, **stream, timeout=2)
