"""End-to-end on lab hosts: a directory role on one (389ds on pl-dir, Samba AD on pl-dc),
then `fossp platform apply` on another with the directory named as that host: SSSD is
configured from the role as it was deployed there (389ds: its name, suffix and CA, over
StartTLS; Samba AD: an
adcli join as the domain's Administrator, then the ad provider) and a directory user
resolves on the client; a second apply plans nothing; a named host that runs no directory
role is one line, exit 2, and nothing changes; decommission takes the join back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import fossp_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
directory_hosts = lab_fixture(
    "pl-dir", "pl-sssd", packages=tuple(role_packages(["389ds", "platform"])), scope="function"
)
domain_hosts = lab_fixture("pl-dc", "pl-adc", packages=tuple(role_packages(["samba-ad", "platform"])), scope="function")
REALM = "SAMDOM.PL.TEST"
PASSWORD_ENV = "FOSSP_TEST_DS_PASSWORD"
#: The sample entries give ou=people an ACI that lets anyone read posixAccount users.
DS_SETTINGS = (
    "--set",
    f"389ds.root_password={{from_env: {PASSWORD_ENV}}}",
    "--set",
    '389ds.sample_entries="yes"',
    "--set",
    "389ds.suffix=dc=pl,dc=test",
    "--set",
    "389ds.fqdn=pl-dir.pl.test",  # the name in the instance's certificate, which the client checks
)
USER = ("--uid", "alice", "--cn", "Alice", "--displayName", "Alice", "--uidNumber", "5001", "--gidNumber", "5001")


@pytest.fixture
def password() -> Iterator[str]:
    os.environ[PASSWORD_ENV] = "Directory-Secret-42"
    yield os.environ[PASSWORD_ENV]
    del os.environ[PASSWORD_ENV]


def test_sssd_joins_the_389ds_host_named_as_the_directory(directory_hosts: list[LabHost], password: str) -> None:
    server, client = directory_hosts
    deployed = fossp_json("deploy", "389ds", "--target", server.target, *DS_SETTINGS, timeout=1200)["hosts"][0]
    assert deployed["ok"], deployed
    ssh(server, "dsidm", "localhost", "-b", "dc=pl,dc=test", "user", "create", *USER, "--homeDirectory", "/home/alice")

    # a host that runs no directory role: one line, exit 2, the client untouched
    wrong = run_fossp("platform", "apply", "--target", client.target, "--set", f"directory={client.target}")
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert wrong.stderr.strip().splitlines() == [
        f"fossp: platform.directory: {client.target} runs no directory role FOSSP deployed (389ds, samba-ad); "
        "its roles: none"
    ]
    assert ssh(client, "test", "-e", "/var/lib/fossp/state.json", check=False).returncode == 1

    joined = ("--target", client.target, "--set", f"directory={server.target}")
    applied = fossp_json("platform", "apply", *joined, timeout=1200)["hosts"][0]
    assert applied["states"] == {"FOSSP-PLSPL": "running"}, applied
    sssd_conf = ssh(client, "cat", "/etc/sssd/sssd.conf").stdout
    assert "ldap_uri = ldap://pl-dir.pl.test\n" in sssd_conf and "ldap_search_base = dc=pl,dc=test\n" in sssd_conf
    # StartTLS, the certificate checked against the instance's own CA and the name in it
    assert "ldap_id_use_start_tls = true\nldap_tls_cacert = /etc/sssd/directory-ca.pem\n" in sssd_conf
    ca = ssh(server, "cat", "/etc/dirsrv/slapd-localhost/ca.crt").stdout
    assert ssh(client, "cat", "/etc/sssd/directory-ca.pem").stdout.split() == ca.split()
    assert f"{server.address} pl-dir.pl.test" in ssh(client, "cat", "/etc/hosts").stdout
    assert ssh(client, "systemctl", "is-active", "sssd.service").stdout.strip() == "active"
    entry = ssh(client, "getent", "passwd", "alice").stdout.strip().split(":")
    assert (entry[0], entry[2], entry[3], entry[5]) == ("alice", "5001", "5001", "/home/alice"), entry

    plan = fossp_json("platform", "apply", *joined, "--dry-run")["plans"][0]
    assert plan["changes"] == 0, [op for op in plan["operations"] if op["change"]]
    checked = fossp_json("platform", "check", "--target", client.target)["hosts"][0]
    assert checked["ok"] is True, checked

    fossp_json("decommission", "platform", "--target", client.target, "--yes", timeout=1200)
    assert ssh(client, "test", "-e", "/etc/sssd/sssd.conf", check=False).returncode == 1
    assert "pl-dir.pl.test" not in ssh(client, "cat", "/etc/hosts").stdout
    assert ssh(client, "getent", "passwd", "alice", check=False).returncode == 2  # no directory any more


def test_sssd_joins_the_samba_ad_domain_named_as_its_dc(
    domain_hosts: list[LabHost], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOSSP_SECRETS_DIR", str(tmp_path / "secrets"))  # the DC's generated password
    dc, client = domain_hosts
    site = ("--set", f"samba-ad.realm={REALM}", "--set", "samba-ad.domain=SAMDOM")
    deployed = fossp_json("deploy", "samba-ad", "--target", dc.target, *site, timeout=1800)["hosts"][0]
    assert deployed["ok"], deployed

    joined = ("--target", client.target, "--set", f"directory={dc.target}")
    applied = fossp_json("platform", "apply", *joined, timeout=1200)["hosts"][0]
    assert applied["states"] == {"FOSSP-PLSPL": "running"}, applied
    password = (tmp_path / "secrets" / "samba-ad" / dc.target / "admin_password").read_text().strip()
    assert password not in str(applied)
    assert f"{dc.address} pl-dc.samdom.pl.test" in ssh(client, "cat", "/etc/hosts").stdout
    assert "id_provider = ad\n" in ssh(client, "cat", "/etc/sssd/sssd.conf").stdout
    assert ssh(client, "test", "-s", "/etc/krb5.keytab", check=False).returncode == 0  # the computer account's keys
    entry = ssh(client, "getent", "passwd", "administrator").stdout.strip().split(":")
    assert entry[0] == "administrator" and int(entry[2]) > 10000, entry  # an ID mapped from the user's SID

    plan = fossp_json("platform", "apply", *joined, "--dry-run")["plans"][0]
    assert plan["changes"] == 0, [op for op in plan["operations"] if op["change"]]

    # decommission: the keytab and the DC's hosts line go (the computer account stays in the domain)
    fossp_json("decommission", "platform", "--target", client.target, "--yes", timeout=1200)
    assert "pl-dc.samdom.pl.test" not in ssh(client, "cat", "/etc/hosts").stdout
    assert ssh(client, "test", "-e", "/etc/krb5.keytab", check=False).returncode == 1
    assert ssh(client, "systemctl", "is-active", "ssh.service").stdout.strip() == "active"
