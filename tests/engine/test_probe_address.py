"""A network probe may dial another address than the host's (a virtual address): its
``address_setting`` names a setting holding an address, checked when the role loads;
a multi-host role probes that address once, from the first member of the probe's parts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from fossp.catalog import load_catalog
from fossp.catalog.schema import Probe, ProbeKind, Role
from fossp.engine.apply import _runs_once_elsewhere
from fossp.engine.cluster import Member, Membership
from fossp.engine.probes import run_probe

UNROUTED = "192.0.2.1"  # TEST-NET-1: the host's own address is never dialled here


def _role(probe: dict[str, Any], setting: dict[str, Any]) -> Role:
    data = load_catalog().role("haproxy").model_dump(mode="json", exclude_none=True)
    data["settings"] = [*data["settings"], setting]
    data["probes"] = [probe]
    return Role.model_validate(data)


VIP = {"name": "vip", "type": "ip", "default": "127.0.0.1", "description": "The virtual address."}
TCP = {"name": "vip", "kind": "tcp", "port": 22, "address_setting": "vip", "description": "t"}


@pytest.mark.parametrize(
    ("probe", "setting", "message"),
    [
        ({**TCP, "address_setting": "nope"}, VIP, "address_setting refers to unknown setting 'nope'"),
        (TCP, {**VIP, "type": "integer", "default": 1}, "'vip' is of type integer, not an address"),
        (
            {"name": "c", "kind": "command", "argv": ["true"], "address_setting": "vip", "description": "t"},
            VIP,
            "address_setting applies only to",
        ),
    ],
)
def test_an_address_setting_must_name_an_address_setting(
    probe: dict[str, Any], setting: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _role(probe, setting)


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_the_probe_dials_the_settings_address_not_the_hosts(listener: int) -> None:
    role = _role({**TCP, "port": listener}, VIP)
    host: Any = SimpleNamespace(address=UNROUTED, root=None)
    result = asyncio.run(run_probe(role, role.probes[0], {"vip": "127.0.0.1"}, host, retry=0))
    assert result.ok is True, result.output
    unset = asyncio.run(run_probe(role, role.probes[0], {"vip": ""}, host, retry=0))
    assert unset.ok is None and "setting vip (the address to probe) is not set" in unset.output


def test_a_multi_host_role_probes_the_shared_address_once() -> None:
    members = (Member("a", "10.0.0.1", "node"), Member("b", "10.0.0.2", "node"), Member("c", "10.0.0.3", "spare"))
    probe = Probe(name="vip", kind=ProbeKind.TCP, port=22, address_setting="vip", description="t")
    assert _runs_once_elsewhere(probe, Membership("R", members[0], members)) is None
    assert _runs_once_elsewhere(probe, Membership("R", members[1], members)) == "skipped: vip is probed once, from a"
    spare = probe.model_copy(update={"parts": ["spare"]})
    assert _runs_once_elsewhere(spare, Membership("R", members[2], members)) is None
    plain = probe.model_copy(update={"address_setting": None})
    assert _runs_once_elsewhere(plain, Membership("R", members[1], members)) is None
