"""Who holds a listening port, read on a real systemd host: a service's own process, or
systemd itself for a socket unit (then named by `systemctl list-sockets`, which the facts
ask for only when pid 1 holds a listener)."""

from __future__ import annotations

import asyncio

from fossp.hosts.connector import open_connector
from fossp.hosts.facts import Facts, gather_facts
from fossp.hosts.inventory import default_inventory, resolve_targets
from fossp.lab.hosts import LabHost
from fossp.lab.testing import ssh

SOCKET_UNIT = "[Socket]\nListenStream=7777\n"
SERVICE_UNIT = "[Service]\nExecStart=/bin/true\n"


def facts_of(host: LabHost) -> Facts:
    async def gather() -> Facts:
        connector = await open_connector(resolve_targets(default_inventory(None), [host.target])[0])
        try:
            return await gather_facts(connector)
        finally:
            await connector.close()

    return asyncio.run(gather())


def test_a_port_systemd_holds_is_named_by_its_socket_unit(lab_pair: list[LabHost]) -> None:
    host = lab_pair[0]
    before = {(item.protocol, item.port): item for item in facts_of(host).listening}
    assert before[("tcp", 22)].unit == "ssh.service" and before[("tcp", 22)].pid != 1
    assert ("tcp", 7777) not in before
    script = (
        'printf "%s" "$1" > /run/systemd/system/fossp-held.socket && '
        'printf "%s" "$2" > /run/systemd/system/fossp-held.service && '
        "systemctl daemon-reload && systemctl start fossp-held.socket"
    )
    ssh(host, "sh", "-c", script, "held", SOCKET_UNIT, SERVICE_UNIT)
    try:
        after = {(item.protocol, item.port): item for item in facts_of(host).listening}
    finally:
        ssh(
            host,
            "sh",
            "-c",
            "systemctl stop fossp-held.socket; rm -f /run/systemd/system/fossp-held.*; systemctl daemon-reload",
        )
    held = after[("tcp", 7777)]
    assert (held.pid, held.unit) == (1, "fossp-held.socket")
