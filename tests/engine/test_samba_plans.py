"""The Samba AD DC role planned on recorded facts: on Fedora 40 its exact commands (the
samba-dc packages, the samba-dc firewalld service, FOSSP's DC smb.conf and a krb5.conf.d
drop-in before samba-tool domain provision, the Administrator password on stdin only,
Fedora's smb, nmb and winbind stopped and disabled where they run, samba.service
started); on Debian, the ports Debian's own smbd and nmbd hold are no conflict, as the
recipe stops them; and a password FOSSP generates meets Samba's complexity rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fossp import secrets
from fossp.catalog import load_catalog
from fossp.engine.backends import backend_for
from fossp.engine.operations import Operation
from fossp.engine.planner import plan_role, wanted_roles
from fossp.engine.state import HostState
from fossp.errors import BadInput
from fossp.hosts.facts import Facts, Listener, UnitState

from .conftest import recorded, site_values

ROLE = "FOSSP-LDSSA"
PASSWORD = "Domain-Secret-42"
FILE_SERVER = ("smb", "nmb", "winbind")  # Fedora's units for a member or standalone server
PROVISION = (
    "realm=$1 domain=$2 backend=$3 rfc2307=$4; "
    'set -- --server-role=dc "--realm=$realm" "--domain=$domain" "--dns-backend=$backend"; '
    'if [ "$rfc2307" = on ]; then set -- "$@" --use-rfc2307; fi; '
    'out=$(samba-tool domain provision "$@" 2>&1); rc=$?; '
    "printf '%s\\n' \"$out\" | grep -v 'Admin password:'; exit $rc"
)
SMB_CONF = """\
# Written by FOSSP (role samba-ad): a Samba Active Directory domain controller.
# samba-tool domain provision read it and kept it; FOSSP owns it from then on.
[global]
	workgroup = CORP
	realm = CORP.EXAMPLE.ORG
	server role = active directory domain controller
	dns forwarder = 192.0.2.53
	interfaces = lo 192.0.2.10
	bind interfaces only = yes
	idmap_ldb:use rfc2307 = no

[sysvol]
	path = /var/lib/samba/sysvol
	read only = No

[netlogon]
	path = /var/lib/samba/sysvol/corp.example.org/scripts
	read only = No
"""


def _plan(facts: Facts, settings: dict[str, Any] | None = None) -> list[Operation]:
    given = site_values("samba-ad", {"admin_password": PASSWORD} if settings is None else settings)
    wanted = wanted_roles(load_catalog(), [(ROLE, given)], {}, facts.host)[0]
    assert facts.family is not None
    return plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))


def _lines(ops: list[Operation]) -> list[tuple[str, str, list[list[str]]]]:
    return [
        ("~" if op.pending else "+" if op.change else "=", f"{op.kind.value} {op.target}", op.commands) for op in ops
    ]


def _op(ops: list[Operation], target: str) -> Operation:
    return next(op for op in ops if op.target == target)


def test_fedora_provisions_the_domain_with_the_password_on_stdin_only() -> None:
    ops = _plan(recorded("fedora40-bare"))
    provision = ["sh", "-c", PROVISION, "samba-provision", "SAMDOM.FOSSP.TEST", "SAMDOM", "SAMBA_INTERNAL", "on"]
    assert _lines(ops) == [
        (
            "+",
            "create-subvolume /var/lib/samba",
            [
                ["mkdir", "-p", "--", "/var/lib"],
                ["btrfs", "subvolume", "create", "--", "/var/lib/samba"],
                ["chmod", "755", "--", "/var/lib/samba"],
            ],
        ),
        (
            "+",
            "install-packages samba-dc samba-client krb5-workstation",
            [["dnf", "-y", "-q", "install", "samba-dc", "samba-client", "krb5-workstation"]],
        ),
        (
            "+",
            "open-firewall service samba-dc",
            [["firewall-cmd", "--add-service=samba-dc"], ["firewall-cmd", "--permanent", "--add-service=samba-dc"]],
        ),
        ("+", "write-file /etc/samba/smb.conf", []),
        ("+", "write-file /etc/krb5.conf.d/fossp-samba-ad.conf", []),
        ("~", "run-step provision", [provision]),
        ("+", "run-step administrator-password", [["samba-tool", "user", "setpassword", "Administrator"]]),
        *[
            ("~", f"{kind}-unit {unit}.service", [])
            for kind in ("stop", "disable")
            for unit in ("smb", "nmb", "winbind")
        ],
        ("~", "enable-unit samba.service", [["systemctl", "enable", "samba.service"]]),
        ("~", "start-unit samba.service", [["systemctl", "restart", "samba.service"]]),
    ]
    assert _op(ops, "administrator-password").stdin == f"{PASSWORD}\n{PASSWORD}\n"
    assert not any(PASSWORD in arg for op in ops for command in op.commands for arg in command)
    assert _op(ops, "/etc/krb5.conf.d/fossp-samba-ad.conf").content.startswith(b"# Written by FOSSP")
    assert b"default_realm = SAMDOM.FOSSP.TEST" in _op(ops, "/etc/krb5.conf.d/fossp-samba-ad.conf").content


def test_the_settings_reach_smb_conf_and_provision() -> None:
    settings = {
        "realm": "CORP.EXAMPLE.ORG",
        "domain": "CORP",
        "admin_password": PASSWORD,
        "dns_forwarder": "192.0.2.53",
        "host_ip": "192.0.2.10",
        "rfc2307": False,
    }
    ops = _plan(recorded("fedora40-bare"), settings)
    assert _op(ops, "/etc/samba/smb.conf").content.decode() == SMB_CONF
    assert _op(ops, "provision").commands[0][-4:] == ["CORP.EXAMPLE.ORG", "CORP", "SAMBA_INTERNAL", "off"]


def test_with_bind_serving_the_zone_samba_runs_no_dns_server() -> None:
    ops = _plan(recorded("fedora40-bare"), {"admin_password": PASSWORD, "dns_backend": "BIND9_DLZ"})
    assert "\tserver services = -dns\n" in _op(ops, "/etc/samba/smb.conf").content.decode()
    assert _op(ops, "provision").commands[0][-2] == "BIND9_DLZ"


def _with_samba_running(facts: Facts) -> Facts:
    """The recorded facts once the samba packages are in and the distribution's file
    server runs (enabled and active), holding the NetBIOS and SMB ports."""
    units = {
        **facts.units,
        "smb.service": UnitState(enabled="enabled", active="active"),
        "nmb.service": UnitState(enabled="disabled", active="inactive"),
        "winbind.service": UnitState(enabled="disabled", active="inactive"),
        "samba.service": UnitState(enabled="disabled", active="inactive"),
    }
    listening = [
        *facts.listening,
        Listener(protocol="tcp", address="0.0.0.0", port=445, pid=900, process="smbd", unit="smb.service"),
        Listener(protocol="tcp", address="0.0.0.0", port=139, pid=900, process="smbd", unit="smb.service"),
    ]
    return facts.model_copy(update={"units": units, "listening": listening})


def test_a_running_file_server_is_stopped_and_disabled_not_refused() -> None:
    ops = _plan(_with_samba_running(recorded("fedora40-bare")))
    units = [line for line in _lines(ops) if line[1].split()[0] in ("stop-unit", "disable-unit")]
    assert units == [
        ("+", "stop-unit smb.service", [["systemctl", "stop", "smb.service"]]),
        ("=", "stop-unit nmb.service", []),
        ("=", "stop-unit winbind.service", []),
        ("+", "disable-unit smb.service", [["systemctl", "disable", "smb.service"]]),
        ("=", "disable-unit nmb.service", []),
        ("=", "disable-unit winbind.service", []),
    ]
    assert _op(ops, "smb.service").undo == [["systemctl", "start", "smb.service"]]


def test_a_port_held_by_a_unit_the_recipe_does_not_stop_is_still_refused() -> None:
    facts = _with_samba_running(recorded("fedora40-bare"))
    stranger = Listener(protocol="tcp", address="0.0.0.0", port=636, pid=901, process="slapd", unit="slapd.service")
    with pytest.raises(BadInput, match=r"port 636/tcp \(LDAPS\) .* is taken by slapd"):
        _plan(facts.model_copy(update={"listening": [*facts.listening, stranger]}))


def test_an_unset_administrator_password_is_generated_complex_and_kept(generated: Path) -> None:
    ops = _plan(recorded("fedora40-bare"), {})
    stdin = _op(ops, "administrator-password").stdin
    assert stdin is not None
    password, again, _ = stdin.split("\n")
    assert password == again and len(password) == 24
    assert all(re.search(kind, password) for kind in ("[A-Z]", "[a-z]", "[0-9]")), password
    assert (generated / "samba-ad" / "fedora40-bare" / "admin_password").read_text().strip() == password
    assert _op(_plan(recorded("fedora40-bare"), {}), "administrator-password").stdin == stdin


def test_random_passwords_always_hold_three_classes() -> None:
    for _ in range(200):
        password = secrets.random_password(18)
        assert len(password) == 24 and re.fullmatch(r"[A-Za-z0-9_-]+", password)
        assert all(re.search(kind, password) for kind in ("[A-Z]", "[a-z]", "[0-9]"))
