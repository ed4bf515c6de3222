"""Decommission of a cluster's members: the first member (which undoes the cluster steps,
needing every member's daemons) ends before the others begin; a member whose first member
failed stops with a line saying so; hosts of other clusters or none do not wait."""

from __future__ import annotations

import asyncio

import pytest

from fossp.engine.decommission import Removal, first_members
from fossp.engine.jobs import Order
from fossp.hosts.connector import HostError

GLUSTER = ["lab:gl-1", "lab:gl-2", "lab:gl-3"]


def _plans(**members: list[str]) -> dict[str, Removal]:
    plans = {host: Removal(host=host) for host in [*GLUSTER, "lab:web"]}
    for role_id, hosts in members.items():
        for host in hosts:
            plans[host].members[role_id] = hosts
    return plans


def test_members_follow_the_first_member_others_do_not_wait() -> None:
    order = first_members(_plans(GLUSTER=GLUSTER))
    assert order == {"lab:gl-1": [], "lab:gl-2": ["lab:gl-1"], "lab:gl-3": ["lab:gl-1"], "lab:web": []}


def test_a_first_member_outside_the_run_or_waiting_itself_is_not_waited_for() -> None:
    plans = _plans(A=GLUSTER, B=["lab:gl-2", "lab:gl-1"])  # each the other's first: no cycle
    order = first_members(plans)
    assert all(not (wanted and any(order[first] for first in wanted)) for wanted in order.values())
    del plans["lab:gl-1"]
    assert first_members(plans)["lab:gl-3"] == []


def _run(order: Order, first_ok: bool) -> list[str]:
    events: list[str] = []

    async def first() -> None:
        await asyncio.sleep(0.05)
        events.append("gl-1 done")
        if first_ok:
            order.finished.add("lab:gl-1")
        order.give_up("lab:gl-1")

    async def member() -> None:
        await order.wait("lab:gl-2", lambda _: None)
        events.append("gl-2 starts")

    async def both() -> None:
        await asyncio.gather(first(), member())

    asyncio.run(both())
    return events


def test_a_member_starts_once_its_first_member_finished() -> None:
    assert _run(Order(first_members(_plans(GLUSTER=GLUSTER))), True) == ["gl-1 done", "gl-2 starts"]


def test_a_member_whose_first_member_failed_stops_saying_why() -> None:
    with pytest.raises(HostError, match="lab:gl-2: not decommissioned: lab:gl-1, the cluster's first member"):
        _run(Order(first_members(_plans(GLUSTER=GLUSTER))), False)
