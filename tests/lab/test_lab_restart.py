"""Lab hosts restart like servers: a clean power-off, the same identity, a restore's pending root.

Real hosts, real BTRFS inside them (the snapshots are made in the host with btrfs-progs,
as a restore would), real sshd with strict host key checking.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import run_fossp

from fossp.lab import LabHost, down, get, up
from fossp.lab.paths import LabPaths
from fossp.lab.pool import TOP_LEVEL
from fossp.lab.testing import lab_hosts, ssh, unavailable_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

NAME = "lt-restart"
POINTER = "/.snapshots/fossp-next-root"


@pytest.fixture(scope="module")
def host() -> Iterator[LabHost]:
    with lab_hosts(NAME) as (started,):
        yield started


def _sh(host: LabHost, script: str) -> str:
    return ssh(host, "bash", "-ec", script).stdout


def _pool_subvolumes() -> str:
    pool = LabPaths.current().pool
    return subprocess.run(["btrfs", "subvolume", "list", pool], capture_output=True, text=True, check=True).stdout


def _recorded(name: str) -> bool:
    return (LabPaths.current().host_dir(name) / "host.json").exists()


def _restart_cli(name: str) -> tuple[LabHost, float]:
    started = time.monotonic()
    result = run_fossp("lab", "restart", name, "--json")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return LabHost.model_validate(json.loads(result.stdout)["hosts"][0]), elapsed


def test_pid_1_knows_it_runs_in_a_container(host: LabHost) -> None:
    assert "container=fossp-lab" in _sh(host, "tr '\\0' '\\n' < /proc/1/environ").split()
    assert _sh(host, "cat /run/systemd/container").strip() == "fossp-lab"
    # systemd 252 names container types it does not know "container-other".
    detected = ssh(host, "systemd-detect-virt", "--container", check=False).stdout.strip()
    assert detected == "container-other"


def test_restart_is_fast_and_keeps_address_mac_and_host_key(host: LabHost) -> None:
    before = get(NAME)
    after, elapsed = _restart_cli(NAME)
    assert after.running and after.ssh and after.pid != before.pid
    assert (after.address, after.mac, after.host_key) == (before.address, before.mac, before.host_key)
    assert f"link/ether {after.mac} " in _sh(after, "ip -o link show dev eth0")
    # ssh() checks the host key strictly against the lab's known_hosts.
    state = ssh(after, "systemctl", "is-system-running", "--wait", check=False).stdout.strip()
    assert state == "running", ssh(after, "systemctl", "--failed", "--no-legend").stdout
    assert elapsed < 15, f"restart took {elapsed:.1f} s"


def test_poweroff_inside_ends_the_host_and_up_brings_it_back_with_its_pending_root(host: LabHost) -> None:
    before = get(NAME)
    _sh(
        before,
        """
        test -d /.snapshots || btrfs subvolume create /.snapshots
        echo one > /etc/lt-poweroff && mkdir /.snapshots/4 && btrfs subvolume snapshot -r / /.snapshots/4/snapshot
        echo two > /etc/lt-poweroff && echo 4 > /.snapshots/fossp-next-root
        """,
    )
    ssh(before, "systemctl", "poweroff", check=False)
    deadline = time.monotonic() + 15
    while get(NAME).running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not get(NAME).running
    (again,) = up([NAME])
    assert again.ssh and (again.address, again.mac) == (before.address, before.mac)
    assert _sh(again, "cat /etc/lt-poweroff") == "one\n"


def _wait_for_new_pid_1(before: LabHost, timeout: float = 30) -> LabHost:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = get(before.name)
        if now.pid != before.pid and now.ssh:
            return now
        time.sleep(0.2)
    raise AssertionError(f"{before.name} did not come back within {timeout} s")


def test_reboot_inside_brings_the_host_back_with_its_pending_root(host: LabHost) -> None:
    before = get(NAME)
    _sh(
        before,
        """
        test -d /.snapshots || btrfs subvolume create /.snapshots
        echo one > /etc/lt-reboot && mkdir /.snapshots/5 && btrfs subvolume snapshot -r / /.snapshots/5/snapshot
        echo two > /etc/lt-reboot && echo 5 > /.snapshots/fossp-next-root
        """,
    )
    ssh(before, "systemctl", "reboot")
    after = _wait_for_new_pid_1(before)
    assert (after.address, after.mac, after.host_key) == (before.address, before.mac, before.host_key)
    assert _sh(after, "cat /etc/lt-reboot") == "one\n"
    assert len(_sh(after, "journalctl --list-boots --no-pager -q").splitlines()) >= 2


def test_restart_switches_to_a_pending_root_and_keeps_data_and_identity(host: LabHost) -> None:
    before = get(NAME)
    _sh(
        host,
        """
        test -d /.snapshots || btrfs subvolume create /.snapshots
        mkdir -p /var/lib/lt-data && btrfs subvolume create /var/lib/lt-data/db
        echo before > /etc/lt-config
        echo old > /var/lib/lt-data/db/old
        mkdir /.snapshots/1 && btrfs subvolume snapshot -r / /.snapshots/1/snapshot
        echo after > /etc/lt-config
        echo new > /var/lib/lt-data/db/new
        touch /root/made-after-the-snapshot
        echo 1 > /.snapshots/fossp-next-root
        """,
    )
    machine_id = _sh(host, "cat /etc/machine-id")
    after, elapsed = _restart_cli(NAME)
    assert (after.address, after.host_key) == (before.address, before.host_key)
    assert _sh(after, "cat /etc/lt-config") == "before\n"
    assert _sh(after, "ls /var/lib/lt-data/db").split() == ["new", "old"]
    assert _sh(after, "test ! -e /root/made-after-the-snapshot && test ! -e " + POINTER + " && echo ok") == "ok\n"
    assert _sh(after, "cat /etc/machine-id") == machine_id
    assert _sh(after, "ls /.snapshots/1/snapshot/etc/lt-config") == "/.snapshots/1/snapshot/etc/lt-config\n"
    assert ".lt-restart." not in _pool_subvolumes()
    assert elapsed < 20, f"restart with a root switch took {elapsed:.1f} s"


@pytest.mark.parametrize(
    "setup",
    [
        "echo ../1 > " + POINTER,
        "printf '1\\n2\\n' > " + POINTER,
        "echo 999 > " + POINTER,
        "mkdir -p /.snapshots/7/snapshot && echo 7 > " + POINTER,
        "ln -s /etc/passwd " + POINTER,
    ],
    ids=["dot-dot", "two-lines", "missing", "not-a-subvolume", "symlink"],
)
def test_a_bad_pending_root_is_refused_and_changes_nothing(host: LabHost, setup: str) -> None:
    before = get(NAME)
    root_id = _sh(before, "btrfs inspect-internal rootid /")
    _sh(before, f"test -d /.snapshots || btrfs subvolume create /.snapshots; rm -f {POINTER}; {setup}")
    try:
        result = run_fossp("lab", "restart", NAME)
        assert result.returncode == 2
        assert "fossp-next-root" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        still = get(NAME)
        assert still.running and still.pid == before.pid
        assert _sh(still, "btrfs inspect-internal rootid /") == root_id
    finally:
        _sh(before, f"rm -f {POINTER}; rm -rf /.snapshots/7")


def test_down_deletes_nested_snapshots_deepest_first() -> None:
    name = "lt-nested"
    (nested,) = up([name])
    try:
        _sh(
            nested,
            """
            btrfs subvolume create /.snapshots
            mkdir /.snapshots/1 /.snapshots/2
            btrfs subvolume snapshot -r / /.snapshots/1/snapshot
            btrfs subvolume snapshot / /.snapshots/2/snapshot
            btrfs subvolume create /.snapshots/2/snapshot/inner
            btrfs subvolume create /.snapshots/2/snapshot/inner/deeper
            btrfs property set -ts /.snapshots/2/snapshot ro true
            """,
        )
        assert f"roots/{name}/.snapshots/2/snapshot/inner/deeper" in _pool_subvolumes()
        result = run_fossp("lab", "down", name)
        assert result.returncode == 0, result.stderr
        assert f"roots/{name}" not in _pool_subvolumes()
    finally:
        if _recorded(name):
            down([name])


def test_the_pool_is_mounted_at_its_top_level_whatever_its_default(host: LabHost, tmp_path: Path) -> None:
    """Hosts cannot set the default (seccomp); were it set anyway, the lab mounts the top level."""
    pool = LabPaths.current().pool
    with open("/proc/self/mountinfo") as mountinfo:
        (line,) = [entry for entry in mountinfo if entry.split()[4] == str(pool)]
    device = line.split(" - ", 1)[1].split()[1]
    _sh(host, "test -d /.snapshots || btrfs subvolume create /.snapshots; mkdir -p /.snapshots/9")
    _sh(host, "btrfs subvolume snapshot -r / /.snapshots/9/snapshot")
    snapshot = host.root_path / ".snapshots/9/snapshot"
    mount_point = tmp_path / "pool"
    mount_point.mkdir()
    try:
        subprocess.run(["btrfs", "subvolume", "set-default", snapshot], check=True, capture_output=True)
        # The controller mounts the pool with the same option wherever it mounts it.
        subprocess.run(["mount", "-o", TOP_LEVEL, device, mount_point], check=True)
        assert {"base", "roots"} <= {entry.name for entry in mount_point.iterdir()}
        after, _ = _restart_cli(NAME)
        assert after.ssh
    finally:
        subprocess.run(["umount", mount_point], check=False)
        subprocess.run(["btrfs", "subvolume", "set-default", "5", pool], check=True)
