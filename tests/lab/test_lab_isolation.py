"""A lab host holds only its own mounts and devices and lacks the capabilities it must not have.

The last test pins down what a host can still reach (README.md, "What a lab host can reach").
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.lab import LabHost
from fossp.lab.boot import DROPPED_CAPABILITIES
from fossp.lab.keys import ssh_argv
from fossp.lab.paths import LabPaths
from fossp.lab.testing import lab_hosts, ssh, unavailable_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

#: /dev of a host: what the launcher makes, plus the links systemd adds.
HOST_DEV = {
    "console", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
    "urandom", "zero", "initctl", "log",
}  # fmt: skip


@pytest.fixture(scope="module")
def host() -> Iterator[LabHost]:
    with lab_hosts("lt-iso") as (started,):
        yield started


def _sh(host: LabHost, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return ssh(host, "bash", "-c", script, check=check)


def test_the_host_sees_none_of_the_controllers_mounts(host: LabHost) -> None:
    inside = {line.split()[4] for line in _sh(host, "cat /proc/self/mountinfo").stdout.splitlines()}
    with open("/proc/self/mountinfo") as mountinfo:
        controller = {line.split()[4] for line in mountinfo}
    # Only paths both have by name (/, /proc, /sys, /dev ...) may appear, and they are the host's own.
    assert str(LabPaths.current().pool) not in inside and "/run/netns" not in inside
    assert inside & controller <= {"/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/run", "/tmp"} | {
        path for path in controller if path.startswith("/sys/fs/cgroup")
    }


def test_the_host_has_its_own_small_dev_and_ptys(host: LabHost) -> None:
    assert set(_sh(host, "ls /dev").stdout.split()) <= HOST_DEV
    destination = f"{host.ssh_user}@{host.address}"
    argv = ssh_argv(host.key_path, host.known_hosts_path, destination)
    tty = subprocess.run([*argv, "-tt", "tty"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert tty.stdout.strip().startswith("/dev/pts/"), tty


def test_the_host_lacks_the_dropped_capabilities(host: LabHost) -> None:
    bounding = int(_sh(host, "awk '/^CapBnd/ {print $2}' /proc/1/status").stdout, 16)
    for name, number in DROPPED_CAPABILITIES.items():
        assert not bounding & (1 << number), name
    made = _sh(host, "mknod /tmp/disk b 7 0", check=False)
    assert made.returncode != 0 and "Operation not permitted" in made.stderr


def test_the_host_opens_no_controller_device_even_through_devtmpfs(host: LabHost) -> None:
    # It keeps CAP_SYS_ADMIN, so it can mount the kernel's devtmpfs; the devices cgroup says no.
    script = "mkdir -p /mnt/dev && mount -t devtmpfs none /mnt/dev && head -c1 /mnt/dev/loop0; umount /mnt/dev"
    opened = _sh(host, script, check=False)
    assert "/mnt/dev/loop0" in opened.stderr and "Operation not permitted" in opened.stderr


def test_the_host_cannot_set_the_pools_default_or_delete_subvolumes_by_id(host: LabHost) -> None:
    scratch = LabPaths.current().pool / "lt-scratch"
    subprocess.run(["btrfs", "subvolume", "create", scratch], check=True, capture_output=True)
    try:
        scratch_id = subprocess.run(
            ["btrfs", "inspect-internal", "rootid", scratch], capture_output=True, text=True, check=True
        ).stdout.strip()
        deleted = _sh(host, f"btrfs subvolume delete --subvolid {scratch_id} /", check=False)
        assert deleted.returncode != 0 and "Operation not permitted" in deleted.stderr and scratch.is_dir()
        default = _sh(host, f"btrfs subvolume set-default {scratch_id} /", check=False)
        assert default.returncode != 0 and "Operation not permitted" in default.stderr
        # Its own snapshots it still makes and deletes (by path).
        _sh(host, "btrfs subvolume snapshot -r / /lt-snap && btrfs subvolume delete /lt-snap")
    finally:
        subprocess.run(["btrfs", "subvolume", "delete", scratch], check=True, capture_output=True)


def test_the_host_has_its_own_boot_id(host: LabHost) -> None:
    inside = _sh(host, "cat /proc/sys/kernel/random/boot_id").stdout
    assert inside != Path("/proc/sys/kernel/random/boot_id").read_text()


def test_what_a_host_can_still_reach(host: LabHost) -> None:
    """Known limits of namespaces with CAP_SYS_ADMIN kept: listed in README.md."""
    # The pool's subvolumes by ioctl (names only: it cannot open the other roots).
    assert " path base\n" in _sh(host, "btrfs subvolume list /").stdout
    assert _sh(host, "ls /base", check=False).returncode != 0
    # The controller's cgroup trees (no cgroup namespace: systemd needs its path in them),
    # read-only but for the host's own folders.
    assert host.name in _sh(host, "ls /sys/fs/cgroup/systemd/fossp-lab").stdout.split()
    refused = _sh(host, "mkdir /sys/fs/cgroup/systemd/lt-probe", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    _sh(host, f"mkdir /sys/fs/cgroup/systemd/fossp-lab/{host.name}/lt-probe")
    _sh(host, f"rmdir /sys/fs/cgroup/systemd/fossp-lab/{host.name}/lt-probe")
