"""End-to-end: real lab hosts booted with systemd, reached over SSH with verified host keys."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from tests.conftest import run_fossp

from fossp.lab import LabHost, get
from fossp.lab.hosts import prepare
from fossp.lab.network import netns_path
from fossp.lab.paths import LabPaths
from fossp.lab.testing import lab_hosts, ssh, unavailable_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


def test_each_host_runs_systemd_as_pid_1(lab_pair: list[LabHost]) -> None:
    for host in lab_pair:
        assert ssh(host, "cat", "/proc/1/comm").stdout.strip() == "systemd"
        state = ssh(host, "systemctl", "is-system-running", "--wait", check=False).stdout.strip()
        failed = ssh(host, "systemctl", "--failed", "--no-legend").stdout
        assert state == "running", f"{host.name}: {state}; failed units:\n{failed}"
        assert ssh(host, "hostname").stdout.strip() == host.name


def test_each_host_has_its_own_address_and_no_way_out(lab_pair: list[LabHost]) -> None:
    assert len({host.address for host in lab_pair}) == len(lab_pair)
    for host in lab_pair:
        addresses = ssh(host, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        assert f" {host.address}/" in addresses
        assert "default" not in ssh(host, "ip", "route").stdout


def test_hosts_reach_each_other(lab_pair: list[LabHost]) -> None:
    first, second = lab_pair
    probe = f"exec 3<>/dev/tcp/{second.address}/22 && head -c 7 <&3"
    assert ssh(first, "timeout", "5", "bash", "-c", probe).stdout == "SSH-2.0"


def test_host_keys_are_verified(lab_pair: list[LabHost], tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = lab_pair[0].model_copy(update={"known_hosts_path": empty})
    result = ssh(host, "true", check=False)
    assert result.returncode == 255
    assert "Host key verification failed" in result.stderr


def test_apt_installs_from_the_local_repository(lab_pair: list[LabHost]) -> None:
    host = lab_pair[0]
    ssh(host, "apt-get", "update", "-q")
    sources = ssh(host, "apt-get", "indextargets", "--format", "$(URI)").stdout
    assert sources.strip() and all(uri.startswith("file:") for uri in sources.split())
    ssh(host, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "nginx")
    assert ssh(host, "systemctl", "is-active", "nginx").stdout.strip() == "active"
    with urllib.request.urlopen(f"http://{host.address}/", timeout=10) as response:
        assert response.status == 200


def test_packages_asked_for_apart_need_not_install_together(lab_pair: list[LabHost]) -> None:
    """busybox and busybox-static conflict; asked for by different tests, both are served."""
    for package in ("busybox", "busybox-static"):
        assert package in prepare(LabPaths.current(), packages=[package])["packages"]
    host = lab_pair[0]
    ssh(host, "apt-get", "update", "-q")
    for package in ("busybox", "busybox-static"):
        shown = ssh(host, "apt-cache", "policy", package).stdout
        assert "file:" in shown and "Candidate: (none)" not in shown, shown


def test_list_shows_live_state_and_second_up_changes_nothing(lab_pair: list[LabHost]) -> None:
    listed = json.loads(run_fossp("lab", "list", "--json").stdout)["hosts"]
    by_name = {entry["name"]: entry for entry in listed}
    for host in lab_pair:
        entry = by_name[host.name]
        assert (entry["running"], entry["ssh"], entry["address"]) == (True, True, host.address)
        assert Path(entry["key_path"]).stat().st_mode & 0o777 == 0o600
        assert entry["ssh_user"] == "root" and Path(entry["known_hosts_path"]).is_file()
    again = run_fossp("lab", "up", lab_pair[0].name, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["hosts"][0]["pid"] == lab_pair[0].pid


def test_target_resolves_lab_hosts(lab_pair: list[LabHost]) -> None:
    from fossp.lab import resolve_target

    assert lab_pair[1].target == f"lab:{lab_pair[1].name}"
    assert resolve_target(lab_pair[1].target).address == lab_pair[1].address


def test_a_killed_host_is_seen_stopped_and_restarted_by_up() -> None:
    with lab_hosts("lt-crash") as (host,):
        assert host.pid is not None
        os.kill(host.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while get("lt-crash").running and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not get("lt-crash").running
        ssh(host, "touch", "/root/kept", check=False)
        again = run_fossp("lab", "up", "lt-crash", "--json")
        assert again.returncode == 0, again.stderr
        restarted = get("lt-crash")
        assert restarted.running and restarted.pid != host.pid
        assert ssh(restarted, "cat", "/proc/1/comm").stdout.strip() == "systemd"


def test_down_removes_process_network_root_and_record() -> None:
    paths = LabPaths.current()
    created = run_fossp("lab", "up", "lt-gone", "--json")
    assert created.returncode == 0, created.stderr
    host = LabHost.model_validate(json.loads(created.stdout)["hosts"][0])
    removed = run_fossp("lab", "down", "lt-gone")
    assert removed.returncode == 0, removed.stderr
    assert host.pid is not None and not Path(f"/proc/{host.pid}").exists()
    assert not netns_path("lt-gone").exists()
    assert not Path("/sys/class/net", host.veth).exists()
    assert not host.root_path.exists() and not paths.host_dir("lt-gone").exists()
    assert host.address not in paths.known_hosts.read_text()
    listed = subprocess.run(
        ["btrfs", "subvolume", "list", str(paths.pool)], capture_output=True, text=True, check=True
    ).stdout
    assert "roots/lt-gone" not in listed
    again = run_fossp("lab", "down", "lt-gone")
    assert again.returncode == 2 and "lt-gone" in again.stderr
