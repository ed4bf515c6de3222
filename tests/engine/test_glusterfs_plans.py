"""GlusterFS on recorded Fedora 40 facts: three servers placed by a profile; each gets the
brick subvolume, packages, firewall, brick folder and glusterd; the first runs the
cluster steps (peer probe, volume create, start), with exact commands and undo."""

from __future__ import annotations

import pytest

from fossp.engine.operations import Operation
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec

from .conftest import cluster_plans

ROLE = "FOSSP-FSSGF"
HOSTS = [HostSpec(name=f"gl-{i}", address=f"192.0.2.{10 + i}") for i in range(1, 4)]
ADDRESSES = [h.address for h in HOSTS]


def _plans(facts_name: str = "fedora40-bare", settings: dict[str, object] | None = None) -> dict[str, list[Operation]]:
    return cluster_plans(ROLE, {"server": [h.name for h in HOSTS]}, HOSTS, settings, facts_name)


def _lines(ops: list[Operation]) -> list[str]:
    return [f"{'~' if op.pending else '+' if op.change else '='} {op.kind.value} {op.target}" for op in ops]


def _step(ops: list[Operation], name: str) -> Operation:
    return next(op for op in ops if op.kind.value == "run-step" and op.target == name)


def test_every_server_gets_its_brick_and_glusterd_and_the_first_forms_the_volume() -> None:
    plans = _plans()
    first, other = _lines(plans["gl-1"]), _lines(plans["gl-2"])
    member = [
        "+ create-subvolume /srv/gluster",
        "+ install-packages glusterfs-server glusterfs-fuse",
        "+ open-firewall port 24007/tcp",
        "+ open-firewall port 49152/tcp",
        "+ create-dir /srv/gluster/brick1",
        "+ write-file /usr/local/sbin/fossp-gluster-check",
        "~ enable-unit glusterd.service",
        "~ start-unit glusterd.service",
        "+ run-step member",
    ]
    assert other == member and _lines(plans["gl-3"]) == member
    assert first == [*member, "+ run-step peers", "+ run-step volume", "+ run-step start"]
    by_kind = {(op.kind.value, op.target): op for op in plans["gl-2"]}
    assert by_kind["install-packages", "glusterfs-server glusterfs-fuse"].commands == [
        ["dnf", "-y", "-q", "install", "glusterfs-server", "glusterfs-fuse"]
    ]
    management = by_kind["open-firewall", "port 24007/tcp"]
    assert management.commands == [
        ["firewall-cmd", "--add-port=24007/tcp"],
        ["firewall-cmd", "--permanent", "--add-port=24007/tcp"],
    ]
    assert management.undo == [
        ["firewall-cmd", "--remove-port=24007/tcp"],
        ["firewall-cmd", "--permanent", "--remove-port=24007/tcp"],
    ]
    assert by_kind["open-firewall", "port 49152/tcp"].commands[1] == [
        "firewall-cmd",
        "--permanent",
        "--add-port=49152/tcp",
    ]
    assert by_kind["enable-unit", "glusterd.service"].commands == [["systemctl", "enable", "glusterd.service"]]
    assert by_kind["start-unit", "glusterd.service"].commands == [["systemctl", "restart", "glusterd.service"]]
    assert by_kind["run-step", "member"].commands == [["gluster", "pool", "list"]]
    assert all(op.cluster for op in plans["gl-1"][-3:]) and not plans["gl-1"][-4].cluster


def test_the_cluster_steps_take_every_address_as_its_own_argument() -> None:
    ops = _plans()["gl-1"]
    subvolume = ops[0]
    assert subvolume.commands == [
        ["mkdir", "-p", "--", "/srv"],
        ["btrfs", "subvolume", "create", "--", "/srv/gluster"],
        ["chmod", "755", "--", "/srv/gluster"],
    ]
    peers = _step(ops, "peers")
    [[sh, c, script, name, me, *members]] = peers.commands
    assert (sh, c, name, me, members) == ("sh", "-c", "peers", "192.0.2.11", ADDRESSES)
    assert 'gluster peer probe "$peer"' in script and "192.0.2" not in script
    [undo] = peers.undo
    assert undo[:2] == ["sh", "-c"] and undo[3:] == ["detach", "192.0.2.11", *ADDRESSES]
    assert 'gluster --mode=script peer detach "$peer"' in peers.undo[0][2]

    volume = _step(ops, "volume")
    [[_, _, script, *args]] = volume.commands
    assert args == ["create", "fossp", "3", *(f"{a}:/srv/gluster/brick1" for a in ADDRESSES)]
    assert 'gluster --mode=script volume create "$name" replica "$replica" "$@" force' in script
    assert '[ "$replica" -ne $# ]' in script  # replica must equal the servers: refused by the step
    assert volume.undo[0][3:] == ["delete", "fossp"] and "volume delete" in volume.undo[0][2]
    assert not volume.undo_on_purge  # deleting the volume keeps the bricks' data

    start = _step(ops, "start")
    assert start.commands[0][3:] == ["start", "fossp"] and 'gluster volume start "$1"' in start.commands[0][2]
    assert start.undo[0][3:] == ["stop", "fossp"] and "gluster --mode=script volume stop" in start.undo[0][2]


def test_a_volume_name_reaches_the_steps_as_data() -> None:
    ops = _plans(settings={"volume_name": "media", "brick_path": "/srv/gluster/media"})["gl-1"]
    assert _step(ops, "volume").commands[0][3:6] == ["create", "media", "3"]
    assert _step(ops, "volume").commands[0][6] == "192.0.2.11:/srv/gluster/media"


def test_a_brick_outside_the_data_folder_is_bad_input() -> None:
    with pytest.raises(BadInput, match=r"brick_path"):
        _plans(settings={"brick_path": "/var/brick"})


def test_the_peers_setting_is_gone_the_placement_gives_the_servers() -> None:
    with pytest.raises(BadInput, match=r"peers"):
        _plans(settings={"peers": ["gl-2"]})


@pytest.mark.parametrize("replica", [2, 4])
def test_a_replica_count_other_than_the_servers_is_bad_input_before_any_host(replica: int) -> None:
    with pytest.raises(BadInput, match=r"p.yaml: .*replica"):
        _plans(settings={"replica": replica})
