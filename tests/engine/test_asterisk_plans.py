"""The Asterisk role planned on recorded Fedora 40 facts: the whole pjsip.conf and rtp.conf
it writes for given settings (extensions, a NAT address set and unset, moved ports), the
extensions' generated password only in those 0640 root:asterisk files, and the firewall
and SELinux operations that follow the ports (the whole RTP range, -a or -m)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.engine.backends import backend_for
from fossp.engine.operations import Operation, OpKind
from fossp.engine.planner import plan_role, wanted_roles
from fossp.engine.state import HostState
from fossp.errors import BadInput

from .conftest import recorded

PASSWORD = "Ext-secret-0123"
TRANSPORTS = """\
; Written by FOSSP (role asterisk); FOSSP rewrites this file on deploy.

[transport-udp]
type=transport
protocol=udp
bind=0.0.0.0:5060
local_net=192.168.0.0/16

[transport-tcp]
type=transport
protocol=tcp
bind=0.0.0.0:5060
local_net=192.168.0.0/16
"""


def extension(number: str, password: str = PASSWORD) -> str:
    return f"""
[{number}]
type=endpoint
context=default
disallow=all
allow=ulaw,alaw,gsm
auth={number}
aors={number}

[{number}]
type=auth
auth_type=userpass
username={number}
password={password}

[{number}]
type=aor
max_contacts=1
"""


def _plan(settings: dict[str, Any], facts_name: str = "fedora40-bare") -> list[Operation]:
    catalog = load_catalog()
    facts = recorded(facts_name)
    assert facts.family is not None
    wanted = wanted_roles(catalog, [("asterisk", settings)], {}, "pbx.yaml")[0]
    return plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))


def _file(ops: list[Operation], path: str) -> Operation:
    return next(op for op in ops if op.kind is OpKind.FILE and op.target == path)


def _text(ops: list[Operation], path: str) -> str:
    return (_file(ops, path).content or b"").decode()


def _commands(ops: list[Operation], kind: OpKind) -> list[str]:
    return [shlex.join(op.commands[0]) for op in ops if op.kind is kind and op.change]


def test_defaults_give_the_two_transports_and_no_endpoint() -> None:
    ops = _plan({"extension_password": PASSWORD})
    assert _text(ops, "/etc/asterisk/pjsip.conf") == TRANSPORTS
    assert _text(ops, "/etc/asterisk/rtp.conf") == (
        "; Written by FOSSP (role asterisk); FOSSP rewrites this file on deploy.\n"
        "[general]\nrtpstart=10000\nrtpend=20000\n"
    )


def test_each_extension_gets_an_endpoint_an_aor_and_an_auth() -> None:
    ops = _plan({"extensions": ["6001", "6002"], "extension_password": PASSWORD})
    assert _text(ops, "/etc/asterisk/pjsip.conf") == TRANSPORTS + extension("6001") + extension("6002")


def test_an_external_address_is_advertised_on_both_transports_only_when_set() -> None:
    ops = _plan({"external_address": "203.0.113.7", "local_net": "10.213.0.0/24", "extension_password": PASSWORD})
    text = _text(ops, "/etc/asterisk/pjsip.conf")
    nat = "local_net=10.213.0.0/24\nexternal_media_address=203.0.113.7\nexternal_signaling_address=203.0.113.7\n"
    assert text.count(nat) == 2
    unset = _text(_plan({"local_net": "10.213.0.0/24", "extension_password": PASSWORD}), "/etc/asterisk/pjsip.conf")
    assert "external_" not in unset and unset.count("local_net=10.213.0.0/24\n") == 2


def test_the_generated_password_is_only_in_the_0640_files(generated: Path) -> None:
    ops = _plan({"extensions": ["6001"]})
    password = (generated / "asterisk" / "pbx.yaml" / "extension_password").read_text().strip()
    assert len(password) >= 18 and f"\npassword={password}\n" in _text(ops, "/etc/asterisk/pjsip.conf")
    for op in ops:
        shown = [*map(shlex.join, op.commands + op.undo), op.stdin or "", op.target, op.reason]
        assert not any(password in text for text in shown), op.target
        if op.kind is OpKind.FILE:
            assert (op.mode, op.owner) == ("640", "root:asterisk"), op.target


def test_a_password_asterisk_would_cut_at_its_semicolon_is_refused() -> None:
    with pytest.raises(BadInput, match="extension_password"):
        _plan({"extension_password": "pass;word-1234"})


def test_moved_ports_move_the_transports_the_rtp_range_the_firewall_and_the_labels() -> None:
    ops = _plan({"sip_port": 5070, "rtp_start": 30000, "rtp_end": 30100, "extension_password": PASSWORD})
    assert _text(ops, "/etc/asterisk/pjsip.conf").count("bind=0.0.0.0:5070\n") == 2
    assert "rtpstart=30000\nrtpend=30100\n" in _text(ops, "/etc/asterisk/rtp.conf")
    assert _commands(ops, OpKind.FIREWALL) == [
        "firewall-cmd --add-port=5070/udp",
        "firewall-cmd --add-port=5070/tcp",
        "firewall-cmd --add-port=30000-30100/udp",
    ]
    assert _commands(ops, OpKind.SELINUX_PORT) == [
        "semanage port -a -t sip_port_t -p udp 5070",
        "semanage port -a -t sip_port_t -p tcp 5070",
        "semanage port -a -t asterisk_port_t -p udp 30000-30100",
    ]


def test_sip_on_a_port_the_policy_gives_another_type_is_modified() -> None:
    """5061 is SIP's already (no-op); 8080/tcp is http_cache_port_t, so -m."""
    labels = _commands(_plan({"sip_port": 8080, "extension_password": PASSWORD}), OpKind.SELINUX_PORT)
    assert labels[:2] == ["semanage port -a -t sip_port_t -p udp 8080", "semanage port -m -t sip_port_t -p tcp 8080"]
    assert _commands(_plan({"sip_port": 5061, "extension_password": PASSWORD}), OpKind.SELINUX_PORT) == [
        "semanage port -a -t asterisk_port_t -p udp 10000-20000"
    ]


def test_an_rtp_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(BadInput, match="'rtp_end' = 9000 is below 'rtp_start' = 10000"):
        _plan({"rtp_end": 9000, "extension_password": PASSWORD})


def test_debian_12_is_refused_with_the_catalogs_reason() -> None:
    with pytest.raises(BadInput, match=r"Asterisk .* is not available on debian: Not in Debian 12; build an LTS"):
        _plan({"extension_password": PASSWORD}, "debian12-bare")
