"""The directory SSSD joins, named as a host: its FOSSP state in, SSSD's settings out (pure),
and the bad input that stops a run before any host changes."""

from __future__ import annotations

import pytest

from fossp.catalog import Catalog
from fossp.engine.cluster import HostWork
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec
from fossp.platform.directory import DirectoryHost, directory_settings, parse_directory_host, resolve_directories

CA = "-----BEGIN CERTIFICATE-----\nMIIB\nAAAA/+==\n-----END CERTIFICATE-----\n"


def _host(
    role_name: str, address: str = "10.0.0.5", cas: dict[str, str] | None = None, **settings: object
) -> DirectoryHost:
    instance = {"role_id": "X", "role_name": role_name, "state": "running", "settings": settings}
    return DirectoryHost("lab:dir", address, "pl-dir", {"instances": {"X": instance}}, cas or {})


def test_the_389ds_role_as_deployed_gives_the_uri_and_the_base() -> None:
    assert directory_settings(_host("389ds", suffix="dc=pl,dc=test", ldap_port=389)) == (
        "389ds",
        {"ldap_uri": "ldap://10.0.0.5", "ldap_search_base": "dc=pl,dc=test"},
    )
    moved = _host("389ds", "ds.example", suffix="o=site", ldap_port=3389)
    assert directory_settings(moved)[1]["ldap_uri"] == "ldap://ds.example:3389"


def test_a_389ds_certificate_for_a_real_name_brings_starttls_with_its_ca() -> None:
    """dscreate's certificate names the instance's fqdn: the client reaches that name (its
    address in /etc/hosts) and checks the certificate against the instance's own CA."""
    cas = {"/etc/dirsrv/slapd-localhost/ca.crt": CA}
    named = _host(
        "389ds", cas=cas, suffix="dc=pl,dc=test", ldap_port=389, fqdn="dir.pl.test", instance_name="localhost"
    )
    assert directory_settings(named)[1] == {
        "ldap_uri": "ldap://dir.pl.test",
        "ldap_search_base": "dc=pl,dc=test",
        "directory_server": "dir.pl.test",
        "directory_address": "10.0.0.5",
        "ldap_ca_cert": "MIIBAAAA/+==",
    }
    unnamed = _host("389ds", cas=cas, suffix="dc=pl,dc=test", fqdn="localhost", instance_name="localhost")
    assert "ldap_ca_cert" not in directory_settings(unnamed)[1]  # no name a client could check: plain LDAP


def test_the_read_script_output_is_parsed_into_the_hosts_facts() -> None:
    spec = HostSpec(name="lab:dir", address="10.0.0.5")
    text = '{"instances": {}}\n@@fossp:hostname\npl-dir\n@@fossp:ca /etc/dirsrv/slapd-a/ca.crt\n' + CA
    host = parse_directory_host(spec, text)
    assert (host.hostname, host.state, host.cas) == ("pl-dir", {"instances": {}}, {"/etc/dirsrv/slapd-a/ca.crt": CA})
    assert parse_directory_host(spec, "\n@@fossp:hostname\npl-dir\n").state == {}  # FOSSP never ran there
    with pytest.raises(BadInput, match="is damaged"):
        parse_directory_host(spec, "{not json\n@@fossp:hostname\nx\n")


def test_a_samba_dc_is_joined_by_the_name_provisioning_gave_it() -> None:
    """Provisioning names the DC HOSTNAME.realm: Kerberos needs that name, /etc/hosts its address."""
    assert directory_settings(_host("samba-ad", realm="SAMDOM.PL.TEST", domain="SAMDOM")) == (
        "samba-ad",
        {
            "ldap_uri": "ldap://pl-dir.samdom.pl.test",
            "ad_domain": "samdom.pl.test",
            "directory_server": "pl-dir.samdom.pl.test",
            "directory_address": "10.0.0.5",
        },
    )


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({}, "platform.directory: lab:dir runs no directory role FOSSP deployed (389ds, samba-ad); its roles: none"),
        (
            _host("nginx").state,
            "platform.directory: lab:dir runs no directory role FOSSP deployed (389ds, samba-ad); its roles: nginx",
        ),
    ],
)
def test_a_host_without_a_directory_role_is_bad_input(state: dict[str, object], message: str) -> None:
    with pytest.raises(BadInput) as raised:
        directory_settings(DirectoryHost("lab:dir", "10.0.0.5", "pl-dir", state))
    assert raised.value.message.startswith(message)


def test_the_host_and_a_uri_together_are_refused_before_any_host_is_read(catalog: Catalog) -> None:
    platform = catalog.role("platform").id
    work = {"lab:c": HostWork(choices=[(platform, {"directory": "lab:dir", "ldap_uri": "ldap://x"})])}

    def lookup(name: str) -> HostSpec:
        raise AssertionError(f"{name} must not be read")

    with pytest.raises(BadInput, match=r"give the directory host or platform\.ldap_uri, not both"):
        resolve_directories(catalog, work, lookup)
    unnamed = {"lab:c": HostWork(choices=[(platform, {"ldap_uri": "ldap://x"})])}
    resolve_directories(catalog, unnamed, lookup)  # no directory named: nothing read, nothing changed
    assert unnamed["lab:c"].choices == [(platform, {"ldap_uri": "ldap://x"})]


def test_a_server_reached_by_a_dns_name_gets_no_hosts_line() -> None:
    """Only an IPv4 address goes into the client's /etc/hosts; a DNS name is found by DNS there too."""
    assert "directory_address" not in directory_settings(_host("samba-ad", "dc.example.org", realm="AD.EXAMPLE"))[1]
