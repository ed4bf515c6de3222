"""A fleet run with misbehaving hosts among good ones: a host that refuses connections,
one whose SSH server sends its banner and then nothing, one whose link is cut during the
run. The run ends within its bounds, the good host completes, and the summary names each
failure and its cause (benchmarks/faults.py runs the same mix at 200 hosts)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fossp.lab import LabHost
from fossp.lab.faults import mixed_inventory, running
from fossp.lab.testing import unavailable_reason
from tests.conftest import run_fossp

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
CONNECT = 4  # seconds: the connect bound of the run (--timeout connect=4)


def test_refusing_silent_and_cut_hosts_fail_named_the_good_one_completes(
    fault_hosts: list[LabHost], tmp_path: Path
) -> None:
    good, relayed = fault_hosts
    with running() as faults:
        kinds = mixed_inventory(tmp_path, [good], [relayed], refusing=1, silent=1, faults=faults)
        inventory = tmp_path / "inventory.yaml"
        started = time.monotonic()
        args = ("deploy", "nginx", "--inventory", str(inventory), "--target", "mix", "--timeout", f"connect={CONNECT}")
        result = run_fossp(*args, "--json", timeout=600)
        seconds = time.monotonic() - started
        plain = run_fossp(*args, timeout=600)  # the table names each failure and its cause too

    assert result.returncode == 1, result.stderr
    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts[good.name]["ok"] and hosts[good.name]["states"] == {"FOSSP-WDSNG": "running"}
    causes = {"refusing": "Connection refused", "silent": f"within {CONNECT} s", "cut": "connection lost"}
    for name, kind in kinds.items():
        if kind != "good":
            assert not hosts[name]["ok"] and causes[kind] in hosts[name]["error"]["message"], hosts[name]
    # Bounded: the silent host costs its connect bound, not the run's hour.
    assert seconds < 300, f"the run took {seconds:.0f} s"
    rows = {row.split("\t")[0]: row for row in plain.stdout.splitlines() if "\t" in row}
    for name, kind in kinds.items():
        if kind != "good":
            assert "FAILED" in rows[name] and causes[kind] in rows[name], plain.stdout
