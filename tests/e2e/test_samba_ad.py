"""End-to-end on a lab host: the seed's flow, `fossp recommend "windows domain logins"
--save p.yaml` then `fossp deploy --profile p.yaml`, ends in a provisioned Samba AD
domain. The controller (another host than the DC) gets a Kerberos TGT for Administrator
with the password FOSSP generated and searches the domain over LDAPS; a re-plan is empty;
a stopped samba-ad-dc fails that probe; decommission --purge archives the domain and
returns the host's packages and /etc to what they were."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import dns.resolver
import pytest

from fossp.catalog import load_catalog
from fossp.catalog.schema import Probe
from fossp.engine.probes import kerberos
from fossp.engine.probes.common import ProbeFailed
from fossp.hosts.connector import Result
from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
#: sa-1 is the DC; sa-2 a domain client with MIT's kinit and OpenLDAP's GSSAPI-capable ldapsearch.
CLIENT_PACKAGES = ("krb5-user", "ldap-utils", "libsasl2-modules-gssapi-mit")
samba_hosts = lab_fixture("sa-1", "sa-2", packages=(*role_packages(["samba-ad"]), *CLIENT_PACKAGES))
REALM = "SAMDOM.FOSSP.TEST"
DC_NAME = "sa-1.samdom.fossp.test"  # provisioning names the DC HOSTNAME.REALM in lower case
CLIENT_KRB5 = f"""[libdefaults]
	default_realm = {REALM}
	dns_lookup_kdc = false
	rdns = false
	dns_canonicalize_hostname = false
[realms]
	{REALM} = {{
		kdc = {DC_NAME}
	}}
"""


class _CaReader:
    """What the kerberos probe asks of a connector: the CA file, read on the DC over SSH."""

    def __init__(self, host: LabHost) -> None:
        self.host = host

    async def check(self, argv: list[str]) -> Result:
        result = ssh(self.host, *argv)
        return Result(argv=tuple(argv), exit_status=0, stdout=result.stdout, stderr="")


def _probe() -> Probe:
    return next(p for p in load_catalog().role("samba-ad").probes if p.kind.value == "kerberos")


def _kerberos(host: LabHost, password: str) -> str:
    settings = {"realm": REALM, "admin_password": password}
    return asyncio.run(kerberos.probe(host.address, 88, _probe(), settings, _CaReader(host)))  # type: ignore[arg-type]


def _on(host: LabHost, *argv: str, stdin: str = "") -> str:
    """Run ``argv`` on ``host`` with ``stdin`` (a password, a file's text: never argv)."""
    done = subprocess.run(host.ssh_command(*argv), input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"on {host.name}: {' '.join(argv)}: {done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def _client_searches_the_domain(client: LabHost, dc: LabHost, password: str) -> str:
    """A domain client as Linux machines are set up: the DC's name in /etc/hosts, a
    krb5.conf for the realm, kinit with the password on stdin, then an LDAP search
    authenticated by the Kerberos ticket (SASL GSSAPI; -N: the DC's name as given)."""
    _on(client, "apt-get", "-qq", "update")
    _on(client, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-qq", "install", "-y", *CLIENT_PACKAGES)
    _on(client, "sh", "-c", 'printf "%s %s\\n" "$1" "$2" >> /etc/hosts', "hosts", dc.address, DC_NAME)
    _on(client, "sh", "-c", "cat > /etc/krb5.conf", stdin=CLIENT_KRB5)
    _on(client, "kinit", f"Administrator@{REALM}", stdin=password + "\n")
    base = "DC=samdom,DC=fossp,DC=test"
    ldap_uri = f"ldap://{DC_NAME}"
    return _on(
        client, "ldapsearch", "-N", "-Y", "GSSAPI", "-H", ldap_uri, "-b", base, "-s", "base", "(objectClass=domain)"
    )


def test_windows_domain_logins_end_in_a_working_domain(
    samba_hosts: list[LabHost], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, client = samba_hosts
    monkeypatch.setenv("FOSSP_SECRETS_DIR", str(tmp_path / "secrets"))
    before = snapshot(host)
    started = time.monotonic()
    profile = tmp_path / "p.yaml"
    site = ("--set", f"samba-ad.realm={REALM}", "--set", "samba-ad.domain=SAMDOM")  # no default: a script gives them
    recommended = run_fossp("recommend", "windows domain logins", *site, "--save", str(profile))
    assert recommended.returncode == 0 and "FOSSP-LDSSA" in profile.read_text(), recommended.stdout

    result = fossp_json("deploy", "--profile", str(profile), "--target", host.target)["hosts"][0]
    assert result["ok"] and result["states"] == {"FOSSP-LDSSA": "running"}, result
    probes = {p["name"]: p for p in result["probes"]}
    assert {name: p["ok"] for name, p in probes.items()} == {
        "kerberos-ldap": True,
        "root-dse": True,
        "ldap-srv": True,
        "domain-info": True,
    }, probes
    assert f"TGT for Administrator@{REALM}" in probes["kerberos-ldap"]["output"]
    assert "search of 'DC=samdom,DC=fossp,DC=test' (objectClass=domain) result 0" in probes["kerberos-ldap"]["output"]
    password = (tmp_path / "secrets" / "samba-ad" / host.target / "admin_password").read_text().strip()
    assert len(password) >= 24 and password not in str(result)
    assert "Admin password" not in ssh(host, "journalctl", "--no-pager", "-q").stdout
    # the DC's own units only: Debian's smbd, nmbd and winbind went, samba-ad-dc runs them itself
    units = ssh(host, "systemctl", "is-active", "smbd", "nmbd", "winbind", "samba-ad-dc", check=False).stdout.split()
    assert units == ["inactive", "inactive", "inactive", "active"]

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host.address]  # the domain's DNS names the DC by its LAN address only
    assert {record.address for record in resolver.resolve(DC_NAME, "A")} == {host.address}
    found = _client_searches_the_domain(client, host, password)
    assert "SASL/GSSAPI authentication started" in found and "dn: DC=samdom,DC=fossp,DC=test" in found, found

    assert fossp_json("plan", "--profile", str(profile), "--target", host.target)["plans"][0]["changes"] == 0

    ssh(host, "systemctl", "stop", "samba-ad-dc.service")
    with pytest.raises(ProbeFailed, match="kerberos://"):
        _kerberos(host, password)  # the KDC no longer answers: the probe fails, it does not pass quietly
    down = fossp_json("status", "--target", host.target, expect=1)["hosts"][0]["roles"][0]
    # samba exits non-zero on SIGTERM, so systemd may call the stopped unit failed
    assert down["state"] == "error" and down["problems"][0] in (
        "unit samba-ad-dc.service is inactive",
        "unit samba-ad-dc.service is failed",
    ), down
    ssh(host, "systemctl", "start", "samba-ad-dc.service")
    deadline = time.monotonic() + 60
    while True:  # the DC takes a moment to listen again
        try:
            _kerberos(host, password)
            break
        except ProbeFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    with pytest.raises(ProbeFailed, match="KDC_ERR_PREAUTH_FAILED"):
        _kerberos(host, password + "-wrong")

    undone = fossp_json("decommission", "--purge", "--yes", "--target", host.target)["hosts"][0]
    assert undone["ok"] and undone["roles"] == ["FOSSP-LDSSA"], undone
    assert snapshot(host) == before
    assert ssh(host, "test", "-e", "/var/lib/samba", check=False).returncode == 1
    print(f"samba-ad cycle: {time.monotonic() - started:.0f} s")
