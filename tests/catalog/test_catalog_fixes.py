"""The catalog errors found in review (issue 9, section 5), each pinned by its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fossp.catalog.loader import DATA_DIR, parse_model, read_yaml
from fossp.catalog.schema import Family, PortSpec, ProbeKind, Role, placeholders
from fossp.engine.render import render_template

ROLES = DATA_DIR / "roles"


def role(name: str) -> Role:
    path: Path = ROLES / f"{name}.yaml"
    return parse_model(Role, read_yaml(path), str(path))


def test_debian_bacula_installs_the_director_and_leaves_the_catalog_to_fossp() -> None:
    """bacula-director-pgsql is only the catalog backend (apt-cache depends: it does not pull
    in bacula-director); dbconfig-no-thanks satisfies its ``dbconfig-pgsql | dbconfig-no-thanks``."""
    bacula = role("bacula")
    packages = bacula.packages_for(Family.DEBIAN, "director")
    assert {"bacula-director", "bacula-director-pgsql", "dbconfig-no-thanks"} <= set(packages)
    assert "dbconfig-pgsql" not in packages  # it conflicts with dbconfig-no-thanks
    # the unit bacula-director ships (bacula-dir is its alias)
    assert "bacula-director.service" in bacula.units_for(Family.DEBIAN, {}, "director")
    assert bacula.packages_for(Family.DEBIAN, "client") == ["bacula-fd"]  # a client runs the file daemon only


def test_bareos_units_are_the_real_ones_not_their_aliases() -> None:
    bareos = role("bareos")
    for family in Family:
        assert bareos.units[family] == ["bareos-dir.service", "bareos-sd.service", "bareos-fd.service"]


def test_isc_dhcp_is_available_on_fedora_deprecated_not_retired() -> None:
    dhcp = role("isc-dhcp")
    fedora = dhcp.packages[Family.FEDORA]
    assert dhcp.available_on(Family.FEDORA) and fedora.packages == ["dhcp-server"]
    assert fedora.note is not None and "deprecated" in fedora.note.lower() and "retired" not in fedora.note.lower()
    assert dhcp.units[Family.FEDORA] == ["dhcpd.service"] and Family.FEDORA in dhcp.backup_paths


@pytest.mark.parametrize("mode", ["http", "tcp"])
def test_haproxy_probes_hold_in_both_modes(mode: str) -> None:
    """In tcp mode the configuration has no monitor URI (an HTTP probe would reach a back end):
    the front-end probe connects, which HAProxy answers itself in either mode."""
    haproxy = role("haproxy")
    settings = {s.name: s.default for s in haproxy.settings} | {"mode": mode}
    config = render_template("haproxy/haproxy.cfg.j2", settings).decode()
    assert (f"monitor-uri {settings['monitor_uri']}" in config) is (mode == "http")
    assert [p.kind for p in haproxy.probes] == [ProbeKind.TCP, ProbeKind.COMMAND]
    assert haproxy.probes[0].port_setting == "frontend_port"


def test_389ds_runs_and_is_probed_as_its_instance() -> None:
    """dirsrv.target can be active while the instance is down: the unit is the instance's."""
    ds = role("389ds")
    for family in Family:
        [unit] = ds.units[family]
        assert unit == "dirsrv@{instance_name}.service"
        assert placeholders(unit) <= {s.name for s in ds.settings}
        assert unit.format(instance_name=ds.setting("instance_name").default) == "dirsrv@localhost.service"  # type: ignore[union-attr]


def test_unit_names_take_setting_placeholders_and_nothing_else() -> None:
    data = read_yaml(ROLES / "389ds.yaml")
    for bad in ["dirsrv@{instance name}.service", "dirsrv@{x};rm.service", "dirsrv@{}.service"]:
        with pytest.raises(ValidationError, match="units"):
            Role.model_validate({**data, "units": {"debian": [bad]}})


def test_a_port_range_ends_above_its_start() -> None:
    assert PortSpec.model_validate({"port": 10000, "to_port": 20000, "purpose": "RTP"}).to_port == 20000
    with pytest.raises(ValidationError, match="must be above port"):
        PortSpec(port=20000, to_port=10000, purpose="backwards")


def test_a_range_whose_last_port_a_setting_holds_needs_a_range_and_a_port_setting() -> None:
    spec = {"port": 10000, "to_port": 20000, "purpose": "RTP", "setting": "rtp_start", "to_port_setting": "rtp_end"}
    assert PortSpec.model_validate(spec).to_port_setting == "rtp_end"
    for missing in ("to_port", "setting"):
        with pytest.raises(ValidationError, match="to_port_setting needs a range"):
            PortSpec.model_validate({k: v for k, v in spec.items() if k != missing})


def test_asterisks_rtp_end_must_be_a_port_setting_of_the_role() -> None:
    data = read_yaml(ROLES / "asterisk.yaml")
    ports = [{**p, "to_port_setting": "local_net"} if p.get("to_port_setting") else p for p in data["ports"]]
    with pytest.raises(ValidationError, match="setting 'local_net' moves a port but is not of type port"):
        Role.model_validate({**data, "ports": ports})
    ports = [{**p, "to_port_setting": "rtp_stop"} if p.get("to_port_setting") else p for p in data["ports"]]
    with pytest.raises(ValidationError, match="ports refers to unknown setting 'rtp_stop'"):
        Role.model_validate({**data, "ports": ports})
