"""The directory SSSD joins, named as a host: its FOSSP state in, SSSD's settings out (pure),
and the bad input that stops a run before any host changes."""

from __future__ import annotations

import pytest

from fossp.catalog import Catalog
from fossp.engine.cluster import HostWork
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec
from fossp.platform.directory import directory_settings, resolve_directories


def _state(role_name: str, **settings: object) -> dict[str, object]:
    instance = {"role_id": "X", "role_name": role_name, "state": "running", "settings": settings}
    return {"instances": {"X": instance}}


def test_the_389ds_role_as_deployed_gives_the_uri_and_the_base() -> None:
    state = _state("389ds", suffix="dc=pl,dc=test", ldap_port=389)
    assert directory_settings("lab:dir", "10.0.0.5", state) == {
        "ldap_uri": "ldap://10.0.0.5",
        "ldap_search_base": "dc=pl,dc=test",
    }
    moved = _state("389ds", suffix="o=site", ldap_port=3389)
    assert directory_settings("lab:dir", "ds.example", moved)["ldap_uri"] == "ldap://ds.example:3389"


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({}, "platform.directory: lab:dir runs no directory role FOSSP deployed (389ds); its roles: none"),
        (
            _state("nginx"),
            "platform.directory: lab:dir runs no directory role FOSSP deployed (389ds); its roles: nginx",
        ),
        (_state("samba-ad", realm="AD.TEST"), "platform.directory: lab:dir runs samba-ad; SSSD's join"),
    ],
)
def test_a_host_without_a_directory_role_is_bad_input(state: dict[str, object], message: str) -> None:
    with pytest.raises(BadInput) as raised:
        directory_settings("lab:dir", "10.0.0.5", state)
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
