"""End-to-end on one lab host: the single-host container, virtualization and media roles
(Docker, systemd-nspawn, libvirt with QEMU/TCG, libvirt LXC, Icecast, nginx with the RTMP
module) deploy, pass their probes where the lab's kernel allows it (each exception names
the fact read on the host), plan nothing more, and decommission back to the host as it was.

The deploys are split in four runs: a run re-plans after every change that alters the
facts, at most eight times (engine/apply.py MAX_ROUNDS), and libvirt alone needs about six.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_hosts, ssh, unavailable_reason

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
GROUPS: tuple[tuple[str, ...], ...] = (
    ("docker", "systemd-nspawn"),
    ("icecast", "nginx", "nginx-rtmp"),
    ("libvirt",),
    ("libvirt-lxc",),
)
# Per group: `--set ROLE.NAME=...` also adds ROLE to the run.
SETTINGS: tuple[tuple[str, ...], ...] = (
    (),
    ("--set", "icecast.source_password=fossp-source-1", "--set", "icecast.admin_password=fossp-admin-1"),
    # A lab host lacks CAP_MKNOD and its cgroup v1 controllers are read-only: QEMU runs
    # without a private /dev and without cgroup controllers there (real hosts keep both).
    ("--set", "libvirt.nested_container=true"),
    (),
)
CAP_MKNOD = 27


@pytest.fixture(scope="module")
def host() -> Iterator[LabHost]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    roles = [role for group in GROUPS for role in group] + ["isc-dhcp"]
    with lab_hosts("sr-1", packages=tuple(role_packages(roles))) as hosts:
        yield hosts[0]


def _probes(result: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    return {p["name"]: (p["ok"], p["output"]) for p in result["probes"]}


def _cpuset_read_only(host: LabHost) -> bool:
    """Whether the host's cgroup v1 cpuset hierarchy is mounted read-only (runc must mkdir there)."""
    for line in ssh(host, "cat", "/proc/self/mountinfo").stdout.splitlines():
        fields = line.split()
        if fields[4] == "/sys/fs/cgroup/cpuset":
            return "ro" in fields[5].split(",")
    return False


def _has_mknod(host: LabHost) -> bool:
    status = ssh(host, "cat", "/proc/self/status").stdout
    bounding = next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:"))
    return bool(int(bounding, 16) >> CAP_MKNOD & 1)


def test_single_host_roles_deploy_verify_again_decommission(host: LabHost) -> None:
    started = time.monotonic()
    before = snapshot(host)

    # Docker's daemon runs, but runc puts every container in the cgroup v1 controllers,
    # which a lab host mounts read-only: the container probe fails there, and only there.
    cpuset_ro = _cpuset_read_only(host)
    first = fossp_json("deploy", *GROUPS[0], "--target", host.target, *SETTINGS[0], expect=1 if cpuset_ro else 0)
    result = first["hosts"][0]
    assert result["states"] == {"FOSSP-CTSDO": "error" if cpuset_ro else "running", "FOSSP-CTSSN": "running"}, result
    probes = _probes(result)
    assert probes["machined-list"][0] and probes["nspawn-run"][0], result
    assert "fossp-nspawn-ok" in probes["nspawn-run"][1]
    assert probes["daemon-info"][0], result
    # overlay2 works on the lab's BTRFS root (kernel overlayfs over btrfs; btrfs and vfs start too)
    info = ssh(host, "docker", "info", "--format", "{{.Driver}} {{.CgroupDriver}} {{.LoggingDriver}}").stdout
    assert info.split() == ["overlay2", "systemd", "journald"], info
    if cpuset_ro:
        assert not probes["container-run"][0]
        assert "read-only file system" in probes["container-run"][1], probes["container-run"]
    else:
        assert probes["container-run"][0] and "fossp-docker-ok" in probes["container-run"][1]

    media = fossp_json("deploy", *GROUPS[1], "--target", host.target, *SETTINGS[1])["hosts"][0]
    assert media["ok"], media
    for name in ("status-json", "source-to-listener", "http-get", "rtmp-handshake"):
        assert _probes(media)[name][0], (name, media)

    libvirt = fossp_json("deploy", *GROUPS[2], "--target", host.target, *SETTINGS[2])["hosts"][0]
    assert libvirt["ok"] and libvirt["states"] == {"FOSSP-VISLI": "running"}, libvirt
    probes = _probes(libvirt)
    assert "Shutdown Finished after guest request" in probes["boot-domain"][1]
    assert "fossp-libvirt-ok" in probes["serial-marker"][1]

    # libvirt_lxc makes each container's /dev with mknod: without CAP_MKNOD (read from the
    # host's bounding set) no LXC domain can start, so the daemon and its driver are checked.
    lxc = fossp_json("deploy", *GROUPS[3], "--target", host.target, *SETTINGS[3])["hosts"][0]
    assert lxc["ok"] and _probes(lxc)["lxc-hypervisor"][0], lxc
    assert not _has_mknod(host), "a lab host with CAP_MKNOD could start an LXC domain: add that probe"

    # ISC DHCP's upstream is dead: deploy refuses it before touching the host.
    refused = run_refused("isc-dhcp", host)
    assert "upstream is dead" in refused

    for group, settings in zip(GROUPS, SETTINGS, strict=True):
        plan = fossp_json("plan", *group, "--target", host.target, *settings)["plans"][0]
        assert plan["changes"] == 0, [op for op in plan["operations"] if op.get("change")]

    undone = fossp_json("decommission", "--yes", "--target", host.target)
    assert len(undone["hosts"][0]["roles"]) == 7
    assert snapshot(host) == before
    print(f"single-host roles: {time.monotonic() - started:.0f} s")


def run_refused(role: str, host: LabHost) -> str:
    from tests.conftest import run_fossp

    result = run_fossp("deploy", role, "--target", host.target)
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr
