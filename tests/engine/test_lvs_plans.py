"""The LVS role planned on recorded facts, as a multi-host role: two directors (keepalived:
VRRP for the virtual IP, unicast to the other director, and IPVS's virtual_server with a
TCP health check per real server, direct routing) and two backends (the virtual IP on lo
with ARP for it off, BusyBox httpd on the virtual port). Each member's exact commands on
Fedora 40, the keepalived.conf each director gets from the placement, the backends' units
(BusyBox's path per family), IPVS off (VRRP only, as the lab kernel needs: it has no IPVS,
see tests/e2e/test_lvs.py) and the placement's bounds."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.engine.operations import Operation
from fossp.engine.render import render_template
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec

from .conftest import cluster_plans

ROLE = "FOSSP-HASLV"
HOSTS = [HostSpec(name=f"lab:lv-{i}", address=f"10.213.0.{20 + i}") for i in (1, 2, 3, 4)]
PLACED = {"director": ["lv-1", "lv-2"], "backend": ["lv-3", "lv-4"]}
VIP = {"virtual_ip": "10.213.0.231"}
SELINUX = ("set-selinux-boolean", "keepalived_connect_any", [["setsebool", "-P", "keepalived_connect_any", "on"]])
FIREWALL = [
    ("open-firewall", "service vrrp", [["firewall-cmd", "--add-service=vrrp"], [
        "firewall-cmd", "--permanent", "--add-service=vrrp"]]),
    ("open-firewall", "port 80/tcp", [["firewall-cmd", "--add-port=80/tcp"], [
        "firewall-cmd", "--permanent", "--add-port=80/tcp"]]),
]  # fmt: skip
FIRST_DIRECTOR_CONF = """\
# Written by FOSSP (role lvs, director lab:lv-1): VRRP keeps the virtual IP on one
# director, and IPVS balances its virtual service over the real servers.

vrrp_instance fossp_lvs {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    unicast_src_ip 10.213.0.21
    unicast_peer {
        10.213.0.22
    }
    virtual_ipaddress {
        10.213.0.231 dev eth0
    }
}

# direct routing: the real servers hold the virtual IP on lo and answer clients themselves
virtual_server 10.213.0.231 80 {
    delay_loop 3
    lb_algo wlc
    lb_kind DR
    protocol TCP

    real_server 10.213.0.23 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }

    real_server 10.213.0.24 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
"""


def _plans(
    settings: dict[str, Any], facts_name: str = "fedora40-bare", placed: dict[str, list[str]] = PLACED
) -> dict[str, list[Operation]]:
    return cluster_plans(ROLE, placed, HOSTS, settings, facts_name)


def _changes(ops: list[Operation]) -> list[tuple[str, str, list[list[str]]]]:
    return [(op.kind.value, op.target, op.commands) for op in ops if op.change]


def _content(ops: list[Operation], path: str) -> str:
    return next(op.content for op in ops if op.target == path and op.content is not None).decode()


def _units(*names: str) -> list[tuple[str, str, list[list[str]]]]:
    return [
        change
        for unit in names
        for change in (
            ("enable-unit", unit, [["systemctl", "enable", unit]]),
            ("start-unit", unit, [["systemctl", "restart", unit]]),
        )
    ]


def _ipvs_step(ops: list[Operation]) -> list[list[str]]:
    return next(op.commands for op in ops if op.target == "ipvs-in-kernel")


@pytest.mark.parametrize("host", ["lab:lv-1", "lab:lv-2"])
def test_a_director_gets_keepalived_and_ipvsadm_on_fedora(host: str) -> None:
    ops = _plans(VIP)[host]
    packages = ["iproute", "procps-ng", "keepalived", "ipvsadm"]
    assert _changes(ops) == [
        ("install-packages", " ".join(packages), [["dnf", "-y", "-q", "install", *packages]]),
        SELINUX,
        *FIREWALL,
        ("run-step", "ipvs-in-kernel", _ipvs_step(ops)),
        ("write-file", "/usr/local/sbin/fossp-lvs-check", []),
        ("write-file", "/etc/keepalived/keepalived.conf", []),
        *_units("keepalived.service"),
    ]
    [[shell, flag, script, name]] = _ipvs_step(ops)
    assert (shell, flag, name) == ("sh", "-c", "ipvs")
    assert "modprobe ip_vs" in script and "set lvs.ipvs to false for VRRP only" in script


@pytest.mark.parametrize("host", ["lab:lv-3", "lab:lv-4"])
def test_a_backend_gets_the_address_on_lo_and_a_web_server_on_fedora(host: str) -> None:
    ops = _plans(VIP)[host]
    packages = ["iproute", "procps-ng", "busybox"]
    assert _changes(ops) == [
        ("install-packages", " ".join(packages), [["dnf", "-y", "-q", "install", *packages]]),
        SELINUX,
        *FIREWALL,
        ("write-file", "/usr/local/sbin/fossp-lvs-check", []),
        ("write-file", "/etc/systemd/system/fossp-lvs-real.service", []),
        ("write-file", "/etc/systemd/system/fossp-lvs-web.service", []),
        ("create-dir", "/srv/fossp-lvs", [["mkdir", "-p", "-m", "755", "--", "/srv/fossp-lvs"]]),
        ("write-file", "/srv/fossp-lvs/index.html", []),
        ("run-step", "daemon-reload", [["systemctl", "daemon-reload"]]),
        *_units("fossp-lvs-real.service", "fossp-lvs-web.service"),
    ]
    page = _content(ops, "/srv/fossp-lvs/index.html")
    assert f"Real server {host} of the virtual service 10.213.0.231:80" in page


def test_the_directors_keepalived_conf_comes_from_the_placement() -> None:
    plans = _plans(VIP)
    assert _content(plans["lab:lv-1"], "/etc/keepalived/keepalived.conf") == FIRST_DIRECTOR_CONF
    second = _content(plans["lab:lv-2"], "/etc/keepalived/keepalived.conf")
    # the second director: BACKUP, 10 lower, and the first one is its unicast peer
    expected = (
        FIRST_DIRECTOR_CONF.replace("lab:lv-1", "lab:lv-2")
        .replace("state MASTER", "state BACKUP")
        .replace("priority 150", "priority 140")
        .replace("unicast_src_ip 10.213.0.21", "unicast_src_ip 10.213.0.22")
        .replace("        10.213.0.22\n", "        10.213.0.21\n")
    )
    assert second == expected


def test_the_backends_units_hold_the_address_and_serve_the_port() -> None:
    ops = _plans({**VIP, "virtual_port": 8080})["lab:lv-3"]
    real = _content(ops, "/etc/systemd/system/fossp-lvs-real.service").splitlines()
    assert [line for line in real if line.startswith("Exec")] == [
        "ExecStart=/sbin/sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2",
        "ExecStart=/sbin/ip address replace 10.213.0.231/32 dev lo",
        "ExecStop=/sbin/ip address del 10.213.0.231/32 dev lo",
        "ExecStop=/sbin/sysctl -q -w net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0",
    ]
    web = _content(ops, "/etc/systemd/system/fossp-lvs-web.service").splitlines()
    assert "ExecStart=/usr/sbin/busybox httpd -f -p 8080 -h /srv/fossp-lvs" in web
    assert {"DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE"} <= set(web)
    assert [op.target for op in ops if op.kind.value == "open-firewall"] == ["service vrrp", "port 8080/tcp"]
    debian = _plans(VIP, "debian12-bare")["lab:lv-3"]
    assert (
        "ExecStart=/bin/busybox httpd -f -p 80 -h /srv/fossp-lvs"
        in _content(debian, "/etc/systemd/system/fossp-lvs-web.service").splitlines()
    )


def test_settings_reach_the_virtual_server_and_vrrp() -> None:
    settings = {**VIP, "scheduler": "rr", "interface": "ens3", "vrrp_router_id": 231, "vrrp_priority": 200}
    conf = _content(_plans(settings)["lab:lv-2"], "/etc/keepalived/keepalived.conf").splitlines()
    wanted = {"    lb_algo rr", "    interface ens3", "    virtual_router_id 231", "    priority 190"}
    assert wanted <= set(conf)
    assert "        10.213.0.231 dev ens3" in conf


def test_ipvs_off_keeps_the_virtual_ip_only() -> None:
    plans = _plans({**VIP, "ipvs": False})
    conf = _content(plans["lab:lv-1"], "/etc/keepalived/keepalived.conf")
    assert "vrrp_instance fossp_lvs {" in conf and "virtual_server" not in conf and "IPVS" not in conf
    assert "ipvs-in-kernel" not in {target for _, target, _ in _changes(plans["lab:lv-1"])}
    # the backends are the same: direct routing does not depend on how the directors balance
    assert _changes(plans["lab:lv-3"]) == _changes(_plans(VIP)["lab:lv-3"])


def test_one_director_holds_the_address_without_peers() -> None:
    plans = _plans(VIP, placed={"director": ["lv-1"], "backend": ["lv-2"]})
    conf = _content(plans["lab:lv-1"], "/etc/keepalived/keepalived.conf")
    assert "state MASTER" in conf and "unicast" not in conf
    assert "real_server 10.213.0.22 80 {" in conf and conf.count("real_server ") == 1


def test_a_placement_without_backends_is_refused() -> None:
    with pytest.raises(BadInput, match=r"p.yaml: FOSSP-HASLV needs at least 1 host\(s\) as backend .* places 0"):
        _plans(VIP, placed={"director": ["lv-1", "lv-2"]})


def test_an_ipv6_virtual_ip_is_refused() -> None:
    with pytest.raises(BadInput, match=r"virtual_ip.*'fd00::31' does not match"):
        _plans({"virtual_ip": "fd00::31"})


def test_the_placement_replaces_the_real_servers_and_vrrp_state_settings() -> None:
    names = {s.name for s in load_catalog().roles[ROLE].settings}
    assert not names & {"real_servers", "vrrp_state", "forwarding"}


TABLE = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.213.0.231:80 wlc
  -> 10.213.0.23:80               Route   1      0          0
"""


def _check_ipvs(tmp_path: Path, table: str | None) -> subprocess.CompletedProcess[str]:
    """The probes' check script's IPVS part, against a stand-in ipvsadm printing ``table``
    (None: no such virtual service), as the lab kernel cannot give a real one."""
    script = tmp_path / "fossp-lvs-check"
    script.write_bytes(render_template("lvs/fossp-lvs-check.sh.j2", {}))
    stub = tmp_path / "bin" / "ipvsadm"
    stub.parent.mkdir()
    body = f"cat <<'EOF'\n{table}EOF\n" if table is not None else "echo 'No such service' >&2; exit 1\n"
    stub.write_text("#!/bin/sh\n" + body)
    stub.chmod(0o755)
    argv = ["bash", str(script), "ipvs", "10.213.0.231", "80", "10.213.0.23,10.213.0.24"]
    env = {"PATH": f"{stub.parent}:/usr/bin:/bin"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=10, check=False)


def test_the_ipvs_check_names_a_real_server_its_health_check_removed(tmp_path: Path) -> None:
    one_left = _check_ipvs(tmp_path, TABLE)
    assert one_left.returncode == 1
    assert "IPVS 10.213.0.231:80 lacks real server(s) 10.213.0.24 (their health check fails)" in one_left.stderr


def test_the_ipvs_check_passes_with_every_real_server(tmp_path: Path) -> None:
    both = _check_ipvs(tmp_path, TABLE + "  -> 10.213.0.24:80               Route   1      0          0\n")
    assert both.returncode == 0 and both.stdout == "IPVS 10.213.0.231:80 balances over 10.213.0.23,10.213.0.24\n"


def test_the_ipvs_check_fails_without_the_virtual_service(tmp_path: Path) -> None:
    missing = _check_ipvs(tmp_path, None)
    assert missing.returncode == 1 and "no IPVS virtual service 10.213.0.231:80: No such service" in missing.stderr
