"""End-to-end on two lab hosts: the NFS and iSCSI roles, each a server on st-1 and a
client on st-2, placed by one profile and deployed together.

What the lab allows, read from its kernel (docs/roles-plan.md §1): CONFIG_NFSD,
CONFIG_NFS_FS and CONFIG_SUNRPC are absent, CONFIG_TARGET_CORE, CONFIG_CONFIGFS_FS and
CONFIG_SCSI unset, and CONFIG_MODULES unset, so no kernel nfsd, no NFS mount, no LIO
target and no open-iscsi initiator. Debian's recipes therefore serve with userspace
servers, NFS-Ganesha and tgt (an rdwr backing store on an image file), and the clients
are userspace too: libnfs's nfs-cat and FOSSP's iSCSI reader over a TCP socket. Ganesha's
FSAL_VFS opens files by handle (open_by_handle_at), which needs CAP_DAC_READ_SEARCH, and
lab hosts drop it (fossp.lab.boot): the export there is in memory (in_memory, FSAL_MEM,
chosen from the host's capability bounding set), seeded with the marker through NFS.
Fedora's kernel nfsd and LIO recipes are checked on recorded facts
(tests/engine/test_storage_plans.py).

It deploys, every probe passes (the NFS marker read by nfs-cat from st-2, the iSCSI
target discovered and its marker block read from st-2 with CHAP, which a login without
the secret cannot pass), a second plan is empty; each server stopped makes its read
probe fail; decommission returns both hosts' packages and /etc to what they were, and
keeps the iSCSI image (data).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.catalog import load_catalog
from fossp.engine.probes import ProbeResult, run_probe
from fossp.hosts.connector import open_connector
from fossp.hosts.inventory import Inventory, resolve_targets
from fossp.lab import LabHost
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
NFS, ISCSI = "FOSSP-FSSNF", "FOSSP-FSSIS"
PACKAGES = (
    "nfs-ganesha",
    "nfs-ganesha-vfs",
    "nfs-ganesha-mem",
    "libnfs-utils",
    "tgt",
    "libiscsi-bin",
    "python3-minimal",
)
storage_hosts = lab_fixture("st-1", "st-2", packages=PACKAGES)
NFS_SETTINGS = {"export_path": "/srv/nfs", "allowed_network": "10.213.0.0/24", "grace_seconds": 10}
CAP_DAC_READ_SEARCH = 2
CHAP_SECRET = "fossp-chap-1234"
ISCSI_SETTINGS = {"backstore_size": "64M", "chap_password": CHAP_SECRET}
READER = "/usr/local/sbin/fossp-iscsi-read"


def _targets(hosts: list[LabHost]) -> list[str]:
    return [arg for host in hosts for arg in ("--target", host.target)]


def _nfs_settings(server: LabHost) -> dict[str, Any]:
    """The NFS settings, FSAL_MEM where the host cannot run FSAL_VFS, from the facts the
    choice rests on: no kernel NFS or LIO here (so userspace servers), and whether the
    host's capability bounding set keeps CAP_DAC_READ_SEARCH (open_by_handle_at needs it)."""
    filesystems = ssh(server, "cat", "/proc/filesystems").stdout.split()
    assert not {"nfs", "nfs4", "nfsd", "configfs"} & set(filesystems), "the lab's kernel has NFS or configfs now"
    status = ssh(server, "cat", "/proc/1/status").stdout.splitlines()
    bounding = int(next(line.split()[1] for line in status if line.startswith("CapBnd:")), 16)
    return {**NFS_SETTINGS, "in_memory": not bounding & 1 << CAP_DAC_READ_SEARCH}


def _profile(tmp_path: Path, server: LabHost, client: LabHost, nfs: dict[str, Any]) -> str:
    placement = {"server": [server.name], "client": [client.name]}
    roles = [
        {"id": NFS, "settings": nfs, "hosts": placement},
        {"id": ISCSI, "settings": ISCSI_SETTINGS, "hosts": placement},
    ]
    path = tmp_path / "storage.yaml"
    path.write_text(yaml.safe_dump({"fossp_profile": 1, "roles": roles}))
    path.chmod(0o600)  # it holds the CHAP secret
    return str(path)


def _probe(role_id: str, name: str, given: dict[str, Any], server: LabHost, client: LabHost) -> ProbeResult:
    """The role's probe run as deploy runs it: on the client, reaching the server."""
    role = load_catalog().roles[role_id]
    probe = next(p for p in role.probes if p.name == name)
    values = {**{s.name: s.default for s in role.settings}, **given, "target_address": server.address}

    async def once() -> ProbeResult:
        connector = await open_connector(resolve_targets(Inventory(), [client.target])[0])
        try:
            return await run_probe(role, probe, values, connector, retry=0)
        finally:
            await connector.close()

    return asyncio.run(once())


def test_nfs_and_iscsi_deploy_read_fail_decommission(storage_hosts: list[LabHost], tmp_path: Path) -> None:
    started = time.monotonic()
    server, client = storage_hosts
    before = {host.name: snapshot(host) for host in storage_hosts}
    nfs = _nfs_settings(server)
    profile = _profile(tmp_path, server, client, nfs)

    deployed = run_fossp("deploy", "--profile", profile, *_targets(storage_hosts), "--json")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    results = {r["host"]: r for r in json.loads(deployed.stdout)["hosts"]}
    assert results[server.target]["states"] == {NFS: "running", ISCSI: "running"}, results[server.target]
    probes = {(p["role"], p["name"]): p for p in results[server.target]["probes"]}
    assert {key: p["ok"] for key, p in probes.items()} == {
        (NFS, "nfs4-port"): True,
        (NFS, "read-marker"): True,
        (ISCSI, "portal-connect"): True,
        (ISCSI, "discovery"): True,
        (ISCSI, "read-marker"): True,
    }, probes
    assert "FOSSP NFS probe: /srv/nfs" in probes[(NFS, "read-marker")]["output"]
    assert probes[(ISCSI, "read-marker")]["output"].startswith(
        "LUN 2: FOSSP iSCSI probe iqn.2015-10.test.fossp:storage"
    )
    assert results[client.target]["ok"] and results[client.target]["probes"] == [], results[client.target]
    assert CHAP_SECRET not in deployed.stdout + deployed.stderr  # a secret: never shown
    # the server's configuration, and tgt's LUNs: 1 the (sparse) image, 2 the probe image
    conf = ssh(server, "cat", "/etc/ganesha/ganesha.conf").stdout
    assert (
        f"Name = {'MEM' if nfs['in_memory'] else 'VFS'};" in conf
        and "Clients = 10.213.0.0/24;" in conf
        and "Grace_Period = 10;" in conf
    )
    luns = ssh(server, "tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert "Backing store path: /var/lib/iscsi-disks/lun0.img" in luns and "Size: 67 MB" in luns, luns
    for host, path in ((server, "/etc/tgt/conf.d/fossp.conf"), (client, "/etc/fossp/iscsi-chap")):
        assert ssh(host, "stat", "-c", "%a %U", path).stdout.split() == ["600", "root"], path
    # CHAP is required: the reader without its secret is refused at login
    ssh(client, "mv", "/etc/fossp/iscsi-chap", "/root/iscsi-chap")
    refused = ssh(client, READER, server.address, "iqn.2015-10.test.fossp:storage", "iqn.2024-01.test.x:y", check=False)
    ssh(client, "mv", "/root/iscsi-chap", "/etc/fossp/iscsi-chap")
    assert refused.returncode != 0 and "login refused" in refused.stderr, refused

    plans = fossp_json("plan", "--profile", profile, *_targets(storage_hosts))["plans"]
    assert [plan["changes"] for plan in plans] == [0, 0], plans

    # Each server stopped: its read probe, from the client, fails.
    ssh(server, "systemctl", "stop", "nfs-ganesha.service")
    down = _probe(NFS, "read-marker", nfs, server, client)
    assert down.ok is False and "nfs-cat" in down.output, down
    ssh(server, "systemctl", "stop", "tgt.service")
    down = _probe(ISCSI, "read-marker", ISCSI_SETTINGS, server, client)
    assert down.ok is False and "Connection refused" in down.output, down
    ssh(server, "systemctl", "start", "tgt.service")
    assert _probe(ISCSI, "read-marker", ISCSI_SETTINGS, server, client).ok is True

    undone = fossp_json("decommission", "--yes", *_targets(storage_hosts))
    assert all(h["ok"] and sorted(h["roles"]) == sorted([NFS, ISCSI]) for h in undone["hosts"]), undone
    for host in storage_hosts:
        (packages, etc), (packages_before, etc_before) = snapshot(host), before[host.name]
        assert packages == packages_before, (host.name, set(packages) ^ set(packages_before))
        assert etc == etc_before, (host.name, set(etc) - set(etc_before), set(etc_before) - set(etc))
    # the image is the administrator's data: kept; FOSSP's probe image is gone
    assert ssh(server, "ls", "/var/lib/iscsi-disks").stdout.split() == ["lun0.img"]
    print(f"storage e2e: {time.monotonic() - started:.0f} s")
