"""The packaged catalog: every role of the seed, with IDs that reproduce the seed's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fossp.catalog import Catalog
from fossp.catalog.schema import CatalogStatus, Family

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_40f4beaeb526950b.txt"

# The seed's lifecycle table, (service, role, role ID), as printed in the seed.
SEED_TABLE = [
    ("Application Services", "WildFly", "FOSSP-APSWI"),
    ("Backup Services", "Bacula", "FOSSP-BASBA"),
    ("Cloud Services", "Eucalyptus", "FOSSP-CLSEU"),
    ("Cloud Services", "Openstack", "FOSSP-CLSOS"),
    ("Container Services", "Docker", "FOSSP-CTSDO"),
    ("Container Services", "Libvirt-lxc", "FOSSP-CTSLI"),
    ("Container Services", "Systemd-nspawn", "FOSSP-CTSSN"),
    ("Database Services", "MariaDB", "FOSSP-DASMA"),
    ("Database Services", "PostgreSQL", "FOSSP-DASPO"),
    ("Deployment Services", "Katello", "FOSSP-DESKA"),
    ("Failover Clustering Services", "Corosync", "FOSSP-FCSCO"),
    ("File and Storage Services", "GlusterFS", "FOSSP-FSSGF"),
    ("File and Storage Services", "iSCSI", "FOSSP-FSSIS"),
    ("File and Storage Services", "NFS", "FOSSP-FSSNF"),
    ("High Availability and Load Balancing Services", "HAProxy", "FOSSP-HASHA"),
    ("High Availability and Load Balancing Services", "LVS", "FOSSP-HASLV"),
    ("High Availability and Load Balancing Services", "Corosync", "FOSSP-HASCO"),
    ("High Performance Services", "OSGDC Stuff", "FOSSP-HPSOS"),
    ("Lightweight Directory Services", "389ds", "FOSSP-LDS38"),
    ("Lightweight Directory Services", "Samba4 - AD", "FOSSP-LDSSA"),
    ("Media Streaming Services", "Flumotion", "FOSSP-MSSFL"),
    ("Media Streaming Services", "Erlyvideo", "FOSSP-MSSER"),
]

# Every implementation the seed names (its role sections), by catalog name.
SEED_IMPLEMENTATIONS = [
    "wildfly",
    "bareos",
    "bacula",
    "eucalyptus",
    "openstack",
    "docker",
    "libvirt-lxc",
    "systemd-nspawn",
    "mariadb",
    "postgresql",
    "katello",
    "corosync-failover",
    "corosync-ha",
    "glusterfs",
    "iscsi",
    "nfs",
    "haproxy",
    "lvs",
    "hpc",
    "389ds",
    "samba-ad",
    "flumotion",
    "erlyvideo",
    "tftp",
    "bind",
    "isc-dhcp",
    "asterisk",
    "libvirt",
    "httpd",
    "nginx",
]


def test_the_embedded_table_is_the_seeds_table() -> None:
    if not SEED.exists():
        pytest.skip(f"the seed is not beside the repository ({SEED})")
    ids_in_seed = re.findall(r"FOSSP-[A-Z0-9]{5}", SEED.read_text())
    assert ids_in_seed == [row[2] for row in SEED_TABLE]


@pytest.mark.parametrize(("service", "role", "role_id"), SEED_TABLE)
def test_every_seed_id_is_in_the_catalog_under_its_service(
    catalog: Catalog, service: str, role: str, role_id: str
) -> None:
    entry = catalog.roles[role_id]
    assert catalog.services[entry.service].name == service
    assert entry.lifecycle.release == "01-112615"
    assert entry.lifecycle.release_date.isoformat() == "2015-10-26"
    assert entry.lifecycle.support_end is None


def test_every_implementation_in_the_seed_has_an_entry(catalog: Catalog) -> None:
    names = {role.name for role in catalog.roles.values()}
    assert sorted(set(SEED_IMPLEMENTATIONS) - names) == []


def test_roles_outside_the_table_follow_the_id_rule(catalog: Catalog) -> None:
    """Network, Telephony, Virtualization and Web get codes by the seed's rule."""
    table_ids = {row[2] for row in SEED_TABLE}
    for role in catalog.roles.values():
        if role.id in table_ids:
            continue
        service = catalog.services[role.service]
        assert role.id == f"FOSSP-{service.code}S{role.code}"
    codes = {s.key: s.code for s in catalog.services.values()}
    assert (codes["network"], codes["telephony"], codes["virtualization"], codes["web"]) == ("NE", "TE", "VI", "WD")


def test_role_ids_and_names_are_unique(catalog: Catalog) -> None:
    roles = list(catalog.roles.values())
    assert len({r.id for r in roles}) == len({r.name for r in roles}) == len(roles)


def test_unpackaged_and_dead_roles_say_why_and_what_instead(catalog: Catalog) -> None:
    for role in catalog.roles.values():
        for family in Family:
            entry = role.packages[family]
            assert entry.available or entry.note, f"{role.id} {family}"
        if role.upstream.status == "dead":
            assert role.upstream.replacement and role.upstream.reason
            assert role.lifecycle.status is not CatalogStatus.LAUNCHED, role.id


def test_launched_roles_are_deployable_and_probed(catalog: Catalog) -> None:
    for role in catalog.roles.values():
        if role.lifecycle.status is CatalogStatus.LAUNCHED:
            assert any(role.available_on(f) for f in Family), role.id
            assert role.probes, role.id
            # a multi-host role's units may be its parts' only (an NFS server, LVS directors, backends)
            defaults = {s.name: s.default for s in role.settings}
            assert all(role.units_for(f, defaults) for f in Family if role.available_on(f)), role.id


def test_every_feature_is_provided(catalog: Catalog) -> None:
    for feature in catalog.features:
        assert catalog.providers(feature), feature
