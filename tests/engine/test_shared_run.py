"""The hosts of one run that meet (multi-host roles, probes from a peer) never wait for a
host that ended, even one never reached; a run whose roles need no peer shares nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from fossp.catalog import load_catalog
from fossp.engine.cluster import ClusterRun, HostWork
from fossp.engine.fleet import run_fleet
from fossp.engine.jobs import cluster_run
from fossp.hosts.inventory import HostSpec


def test_an_unreached_host_leaves_the_meeting_points() -> None:
    unreachable = HostSpec(name="gone", address="127.0.0.1", port=9)  # the discard port: nothing listens
    run = ClusterRun({"gone", "here"}, members=set())

    async def action(*_: Any) -> None:
        raise AssertionError("never reached")

    async def both() -> list[str]:
        fleet = asyncio.ensure_future(run_fleet([unreachable], action, ended=run.give_up))
        failed = await asyncio.wait_for(run.verified.arrive("here"), 60)
        assert not (await fleet)[0].ok
        return failed

    assert asyncio.run(both()) == ["gone"]


def test_only_runs_with_a_peer_probe_or_a_multi_host_role_share_connections() -> None:
    catalog = load_catalog()
    two = {name: HostWork(choices=[(catalog.role("nginx").id, {})]) for name in ("a", "b")}
    assert cluster_run(catalog, two) is None
    dhcp = {name: HostWork(choices=[(catalog.role("isc-dhcp").id, {})]) for name in ("a", "b")}
    shared = cluster_run(catalog, dhcp)
    assert shared is not None and shared.verified.expected == {"a", "b"} and shared.ready.expected == set()
    assert cluster_run(catalog, {"a": dhcp["a"]}) is None  # one host: no peer
