"""End-to-end on three lab hosts: GlusterFS as a multi-host role, a replica 3 volume with
one brick on each of gl-1, gl-2, gl-3, placed by a profile.

It deploys (bricks, glusterd, then once on gl-1: peer probe, volume create, start), every
member's probes pass (the pool, every brick online, and a client of the volume on a peer),
a second plan is empty; a file written through one server is read through another and
lies on every brick. Failure: glusterd (and with it the brick) stops on gl-3, the file is
still read through the others, the status probe names the missing brick, a file written
meanwhile heals onto gl-3 once it is back. Decommission of the three takes the volume and
the pool apart, returns the packages and /etc, and keeps the bricks (data).

The client is libgfapi (the role's fossp-gluster-check, Python's ctypes on Debian's
libgfapi0), not a FUSE mount: the lab kernel has CONFIG_FUSE_FS=y, but a lab host has no
/dev/fuse and cannot make it (its capabilities drop CAP_MKNOD: `mknod /dev/fuse c 10 229`
is refused), so mount.glusterfs cannot run there.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
ROLE = "FOSSP-FSSGF"
VOLUME = "fossp"
BRICK = "/srv/gluster/brick1"
CHECK = "/usr/local/sbin/fossp-gluster-check"
PROBES = {"pool": True, "glusterd-connect": True, "bricks-online": True, "gfapi-client": True}

gluster_hosts = lab_fixture("gl-1", "gl-2", "gl-3", packages=tuple(role_packages(["glusterfs"])))


def _profile(tmp_path: Path, hosts: list[str]) -> str:
    path = tmp_path / f"gluster-{len(hosts)}.yaml"
    path.write_text(yaml.safe_dump({"fossp_profile": 1, "roles": [{"id": ROLE, "hosts": hosts}]}))
    return str(path)


def _targets(hosts: list[LabHost]) -> list[str]:
    return [arg for host in hosts for arg in ("--target", host.target)]


def _write(host: LabHost, through: LabHost, path: str, data: str) -> None:
    """Write ``path`` on the volume from ``host``, a libgfapi client of ``through``'s glusterd."""
    command = host.ssh_command(CHECK, "write", through.address, VOLUME, path)
    result = subprocess.run(command, input=data, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def _read(host: LabHost, through: LabHost, path: str) -> str:
    return ssh(host, CHECK, "read", through.address, VOLUME, path, timeout=120).stdout


def _wait(host: LabHost, *command: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while True:
        result = ssh(host, *command, check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, f"{host.name}: {' '.join(command)}: {result.stdout}{result.stderr}"
            return result.stdout
        time.sleep(1)


def test_replicated_volume_deploy_probe_fail_over_decommission(gluster_hosts: list[LabHost], tmp_path: Path) -> None:
    started = time.monotonic()
    gl1, gl2, gl3 = gluster_hosts
    before = {host.name: snapshot(host) for host in gluster_hosts}
    profile = _profile(tmp_path, [host.name for host in gluster_hosts])

    # one server is no replicated volume: bad input, before any host is reached
    lone = run_fossp("deploy", "--profile", _profile(tmp_path, [gl1.name]), *_targets([gl1]))
    assert lone.returncode == 2 and "FOSSP-FSSGF needs at least 2 host(s) as server" in lone.stderr, lone

    deployed = fossp_json("deploy", "--profile", profile, *_targets(gluster_hosts))["hosts"]
    for result in deployed:
        assert result["ok"] and result["states"] == {ROLE: "running"}, result
        assert {p["name"]: p["ok"] for p in result["probes"]} == PROBES, result["probes"]
    info = ssh(gl1, "gluster", "volume", "info", VOLUME).stdout
    assert "Type: Replicate" in info and "Status: Started" in info and "1 x 3 = 3" in info, info
    assert [line.split(": ", 1)[1] for line in info.splitlines() if line.startswith("Brick") and ": " in line] == [
        f"{host.address}:{BRICK}" for host in gluster_hosts
    ]
    for host in gluster_hosts:
        assert "all 3 servers connected" in ssh(host, CHECK, "pool", "3").stdout
    assert all(
        plan["changes"] == 0 for plan in fossp_json("plan", "--profile", profile, *_targets(gluster_hosts))["plans"]
    )

    # written through gl-1, read through gl-3 by a client on gl-2; on every brick
    _write(gl1, gl1, "/greeting.txt", "replicated by FOSSP\n")
    assert _read(gl2, gl3, "/greeting.txt") == "replicated by FOSSP\n"
    for host in gluster_hosts:
        assert ssh(host, "cat", f"{BRICK}/greeting.txt").stdout == "replicated by FOSSP\n"

    # gl-3 fails: Debian's glusterd.service takes its brick process down with it
    ssh(gl3, "systemctl", "stop", "glusterd.service")
    assert ssh(gl3, "pgrep", "-f", f"glusterfsd.*{VOLUME}", check=False).returncode == 1
    assert _read(gl2, gl1, "/greeting.txt") == "replicated by FOSSP\n"
    status = fossp_json("status", "--target", gl1.target, expect=1)["hosts"][0]["roles"][0]
    missing = next(p for p in status["probes"] if p["name"] == "bricks-online")
    assert not missing["ok"] and f"2 of 3 bricks online; offline: {gl3.address}:{BRICK}" in missing["output"]
    _write(gl2, gl1, "/while-gl-3-was-down.txt", "healed\n")
    ssh(gl3, "systemctl", "start", "glusterd.service")
    _wait(gl1, CHECK, "bricks", VOLUME)
    _wait(gl1, "gluster", "volume", "heal", VOLUME)  # refused until gl-3's self-heal daemon is back
    # the heal creates the file on gl-3's brick before it copies the data: wait for the bytes
    deadline, healed = time.monotonic() + 120, ""
    while healed != "healed\n" and time.monotonic() < deadline:
        healed = ssh(gl3, "cat", f"{BRICK}/while-gl-3-was-down.txt", check=False).stdout
        if healed != "healed\n":
            ssh(gl1, "gluster", "volume", "heal", VOLUME, check=False)
            time.sleep(2)
    assert healed == "healed\n"
    assert "all 3 bricks online" in ssh(gl3, CHECK, "bricks", VOLUME).stdout

    undone = fossp_json("decommission", "--yes", *_targets(gluster_hosts))["hosts"]
    for host, result in zip(gluster_hosts, undone, strict=True):
        assert result["roles"] == [ROLE] and result["kept"] == ["/srv/gluster"], result
        assert snapshot(host) == before[host.name], host.name
        assert ssh(host, "cat", f"{BRICK}/greeting.txt").stdout == "replicated by FOSSP\n"  # bricks are data
        assert ssh(host, "test", "-e", "/var/lib/glusterd", check=False).returncode == 1
    assert {"undo-change start", "undo-change volume", "undo-change peers"} <= set(undone[0]["undone"]), undone[0]
    print(f"\nglusterfs e2e: {time.monotonic() - started:.0f} s (hosts up before)")
