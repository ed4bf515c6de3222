"""Crash safety on lab hosts, against the real sshd, apt and dpkg.

A `fossp deploy` of PostgreSQL + nginx is killed (SIGKILL, on the controller) at every
operation boundary in turn -- just after the k-th ledger entry is written ahead, and in
the middle of each package install while dpkg runs on the host. Each time, `status`
names the run as interrupted (exit 1), the next `deploy` finishes it with every probe
passing, and `decommission --yes` returns the package list and /etc to exactly what they
were before the first deploy. A host whose link is cut mid-run fails within its bound
while another host of the same run completes.

The test watches the host's ledger by reading the host's root folder on the controller
(the lab's BTRFS pool), so the kill lands within milliseconds of the entry being written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fossp.lab import LabHost
from fossp.lab.testing import lab_fixture, unavailable_reason
from tests.conftest import FOSSP, run_fossp

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
ROLES = ("postgresql", "nginx")
crash_hosts = lab_fixture("cs-1", "cs-2")


def _ledger(host: LabHost) -> list[dict[str, Any]]:
    """The host's ledger, read from its root on the controller (no SSH round trip)."""
    try:
        text = (host.root_path / "var/lib/fossp/state.json").read_text()
    except FileNotFoundError:
        return []
    try:
        return list(json.loads(text)["ledger"])
    except ValueError:  # renamed into place atomically, so only a missing file is possible
        return []


#: What dpkg is asked when it changes packages (apt's own queries, such as
#: ``dpkg --print-foreign-architectures`` while a plan simulates, change nothing).
DPKG_CHANGES = {b"--unpack", b"--install", b"--configure", b"--remove", b"--purge"}


def _dpkg_runs_on(host: LabHost) -> bool:
    """A dpkg process changing packages in the host's cgroup (the controller sees every
    host's processes)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            is_dpkg = (entry / "comm").read_text().strip() == "dpkg"
            on_host = is_dpkg and f"fossp-lab/{host.name}" in (entry / "cgroup").read_text()
            if on_host and DPKG_CHANGES & set((entry / "cmdline").read_bytes().split(b"\0")):
                return True
        except OSError:
            continue
    return False


def _deploy_killed_at(host: LabHost, entries: int, mid_install: bool) -> str:
    """Start a deploy and SIGKILL it once the ledger holds ``entries`` entries (and, with
    ``mid_install``, once dpkg runs on the host); return the kind of the last entry."""
    env = {**os.environ, "FOSSP_DB": "sqlite:////nonexistent/gate.db"}
    process = subprocess.Popen(
        [*FOSSP, "deploy", *ROLES, "--target", host.target, "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            ledger = _ledger(host)
            if len(ledger) >= entries and (not mid_install or _dpkg_runs_on(host)):
                process.send_signal(signal.SIGKILL)
                return str(ledger[entries - 1]["kind"])
            assert process.poll() is None, f"deploy ended before entry {entries} (mid_install={mid_install})"
            time.sleep(0.002)
        raise AssertionError(f"entry {entries} never appeared")
    finally:
        process.kill()
        process.wait()


def _converge_and_undo(host: LabHost, before: tuple[list[str], list[str]], label: str) -> None:
    status = run_fossp("status", "--target", host.target, "--no-probe", "--json")
    assert status.returncode == 1, f"{label}: {status.stdout}{status.stderr}"
    states = {r["name"]: r["state"] for r in json.loads(status.stdout)["hosts"][0]["roles"]}
    assert set(states.values()) == {"interrupted"}, f"{label}: {states}"

    planned = fossp_json("plan", *ROLES, "--target", host.target)["plans"][0]
    assert any("did not end" in note for note in planned["notes"]), f"{label}: {planned['notes']}"

    deployed = fossp_json("deploy", *ROLES, "--target", host.target)["hosts"][0]
    assert deployed["ok"] and "did not end" in deployed["recovered"], f"{label}: {deployed}"
    assert {p["name"]: p["ok"] for p in deployed["probes"]} == {"sql-query": True, "http-get": True}, label
    assert fossp_json("plan", *ROLES, "--target", host.target)["plans"][0]["changes"] == 0, label

    fossp_json("decommission", "--yes", "--target", host.target)
    assert snapshot(host) == before, f"{label}: the host differs from before the first deploy"


def _kill_cycles(host: LabHost, points: list[tuple[int, bool]], kinds: list[str], before: Any) -> list[str]:
    done = []
    for entries, mid_install in points:
        label = f"{host.name}: killed at entry {entries}{' during dpkg' if mid_install else ''}"
        kind = _deploy_killed_at(host, entries, mid_install)
        assert kind == kinds[entries - 1], label
        _converge_and_undo(host, before, label)
        done.append(label)
    return done


def test_killed_at_every_operation_boundary_then_deploy_and_decommission(crash_hosts: list[LabHost]) -> None:
    first = crash_hosts[0]
    before = {host.name: snapshot(host) for host in crash_hosts}
    # On a fresh host the first two entries make PostgreSQL's data subvolumes: kill in each.
    fresh = ["subvolume", "subvolume"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_kill_cycles, crash_hosts, [[(1, False)], [(2, False)]], [fresh, fresh], before.values()))
    # Now the data is kept (decommission keeps it): every later deploy makes these changes.
    kinds = _ledger_kinds_of_a_full_run(first, before[first.name])
    assert "subvolume" not in kinds and kinds.count("packages") == 2 and len(kinds) >= 8, kinds
    points = [(k, False) for k in range(1, len(kinds) + 1)]
    points += [(k, True) for k, kind in enumerate(kinds, 1) if kind == "packages"]
    shares = [points[0::2], points[1::2]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        finished = [
            label
            for labels in pool.map(_kill_cycles, crash_hosts, shares, [kinds, kinds], before.values())
            for label in labels
        ]
    assert len(finished) == len(points)


def _ledger_kinds_of_a_full_run(host: LabHost, before: Any) -> list[str]:
    """Deploy, note the ledger's kinds, decommission (data kept) back to ``before``."""
    fossp_json("deploy", *ROLES, "--target", host.target)
    kinds = [entry["kind"] for entry in _ledger(host)]
    fossp_json("decommission", "--yes", "--target", host.target)
    assert snapshot(host) == before
    return kinds


def test_a_cut_link_fails_its_host_within_the_bound_and_the_other_completes(
    crash_hosts: list[LabHost], tmp_path: Path
) -> None:
    lost, other = crash_hosts
    before = snapshot(lost)
    lines = ["fossp_inventory: 1", "hosts:"]
    for host in crash_hosts:
        extra = ", vars: {fossp_timeout_keepalive: 1}" if host is lost else ""
        lines.append(
            f"  {host.name}: {{address: {host.address}, key: {host.key_path}, "
            f"known_hosts: {host.known_hosts_path}{extra}}}"
        )
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    process = subprocess.Popen(
        [*FOSSP, "deploy", "postgresql", "--inventory", str(inventory), "--target", "all", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not any(entry["kind"] == "packages" for entry in _ledger(lost)):
            assert time.monotonic() - started < 120 and process.poll() is None
            time.sleep(0.01)
        subprocess.run(["ip", "link", "set", lost.veth, "down"], check=True)
        cut = time.monotonic() - started
        out, err = process.communicate(timeout=300)
    finally:
        subprocess.run(["ip", "link", "set", lost.veth, "up"], check=True)
        process.kill()
    assert process.returncode == 1, err
    results = {h["host"]: h for h in json.loads(out)["hosts"]}
    failed = results[lost.name]
    assert not failed["ok"] and "connection lost" in failed["error"]["message"], failed
    assert "install-packages" in failed["error"]["message"], failed["error"]  # says where it stopped
    assert failed["seconds"] < cut + 3 * 1 + 5, (failed["seconds"], cut)  # three missed keepalives, 1 s apart
    assert results[other.name]["ok"] and results[other.name]["states"] == {"FOSSP-DASPO": "running"}

    again = fossp_json("deploy", "postgresql", "--target", lost.target)["hosts"][0]
    assert again["ok"] and again["states"] == {"FOSSP-DASPO": "running"}, again
    for host in crash_hosts:
        fossp_json("decommission", "--yes", "--target", host.target)
    assert snapshot(lost) == before


@pytest.mark.parametrize(
    ("value", "message"),
    [("bogus=1", "unknown timeout 'bogus'"), ("packages=-5", "timeout 'packages'"), ("soon", "timeout 'host'")],
)
def test_bad_timeouts_are_refused_before_any_host_is_reached(value: str, message: str) -> None:
    result = run_fossp("deploy", "nginx", "--target", "127.0.0.1:9", "--timeout", value)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _decommission_killed_when(host: LabHost, ready: Any) -> bool:
    """Start `decommission --yes` and SIGKILL it once ``ready()`` holds; False when it
    ended on its own first (on a loaded machine the kill point can be its last moment)."""
    process = subprocess.Popen(
        [*FOSSP, "decommission", "--yes", "--target", host.target, "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    try:
        while not ready():
            assert process.poll() is None, "decommission ended before the kill point"
            assert time.monotonic() < deadline, "the kill point never came"
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    return process.returncode == -signal.SIGKILL


def test_a_killed_decommission_is_finished_by_the_next_one(crash_hosts: list[LabHost]) -> None:
    """Killed once its data is set aside, and once in the middle of the package purge: the
    next `decommission --yes` finishes, the data is back in place, the host as before."""
    host = crash_hosts[0]
    before = snapshot(host)
    aside = host.root_path / "var/lib/postgresql.fossp-kept"
    for ready in (aside.exists, lambda: _dpkg_runs_on(host)):
        for _attempt in range(3):
            fossp_json("deploy", *ROLES, "--target", host.target)
            if _decommission_killed_when(host, ready):
                break
        else:
            pytest.fail("three decommissions ended before the kill landed")
        status = run_fossp("status", "--target", host.target, "--no-probe", "--json")
        assert status.returncode == 1 and "interrupted" in status.stdout
        done = fossp_json("decommission", "--yes", "--target", host.target)["hosts"][0]
        assert done["ok"] and "did not end" in done["recovered"], done
        assert snapshot(host) == before
        assert (host.root_path / "var/lib/postgresql").is_dir() and not aside.exists()
        assert fossp_json("status", "--target", host.target)["hosts"][0]["roles"] == []
