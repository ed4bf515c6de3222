"""Time bounds: parsed and checked before any host is reached; every command, and a
host's whole run, ends within its bound (local processes and a real sshd)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from fossp.engine.fleet import run_fleet
from fossp.errors import BadInput
from fossp.hosts.connector import Connector, HostError, LocalConnector
from fossp.hosts.inventory import HostSpec, parse_ansible_ini
from fossp.hosts.timeouts import Timeouts, parse_timeout_options, timeouts_for

from .conftest import Sshd


def test_the_command_line_wins_over_the_inventory_which_wins_over_the_defaults() -> None:
    overrides = parse_timeout_options(["packages=900", "30"])
    assert overrides == {"packages": 900.0, "host": 30.0}
    bounds = timeouts_for({"fossp_timeout_packages": 60, "fossp_timeout_facts": 5}, overrides, "h")
    assert (bounds.packages, bounds.facts, bounds.host, bounds.connect) == (900, 5, 30, Timeouts().connect)


def test_ansible_timeout_is_the_connect_bound() -> None:
    inventory = parse_ansible_ini("[web]\nw1 ansible_host=10.0.0.1 ansible_timeout=7\n", "inv.ini")
    host = inventory.hosts["w1"]
    assert timeouts_for(host.vars, {}, host.name).connect == 7


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["bogus=1"], "unknown timeout 'bogus'"),
        (["facts=0"], "timeout 'facts'"),
        (["command=ten"], "timeout 'command'"),
    ],
)
def test_bad_values_name_what_and_where(values: list[str], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_timeout_options(values)


def test_a_bad_inventory_bound_names_the_host() -> None:
    with pytest.raises(BadInput, match=r"db1.*fossp_timeout_forever"):
        timeouts_for({"fossp_timeout_forever": 1}, {}, "db1")


def test_a_local_command_is_stopped_at_its_bound() -> None:
    connector = LocalConnector(timeouts=Timeouts(command=0.3))
    started = time.monotonic()
    with pytest.raises(HostError, match=r"`sleep 30` did not finish within 0.3 s"):
        asyncio.run(connector.run(["sleep", "30"]))
    assert time.monotonic() - started < 5


def test_an_ssh_command_is_stopped_at_its_bound(sshd: Sshd) -> None:
    async def scenario() -> None:
        from fossp.hosts.connector import SshConnector

        connector = await SshConnector.open(sshd.host(), Timeouts(connect=5))
        try:
            await connector.run(["sleep", "30"], timeout=0.5)
        finally:
            await connector.close()

    started = time.monotonic()
    with pytest.raises(HostError, match=r"did not finish within 0\.5 s"):
        asyncio.run(scenario())
    assert time.monotonic() - started < 10


def test_a_hosts_whole_run_is_bounded_and_the_others_finish() -> None:
    async def action(connector: Connector, host: HostSpec, report: Any) -> str:
        report("waiting on purpose")
        await asyncio.sleep(30 if host.name == "slow" else 0)
        return "done"

    hosts = [HostSpec(name=name, address="127.0.0.1", connection="local") for name in ("slow", "quick")]
    started = time.monotonic()
    slow, quick = asyncio.run(run_fleet(hosts, action, timeouts={"host": 0.5}))
    assert time.monotonic() - started < 5
    assert slow.error == "slow: the run did not finish within 0.5 s (stopped at: waiting on purpose)"
    assert quick.ok and quick.value == "done"
