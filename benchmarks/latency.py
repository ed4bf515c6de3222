"""The scale model's round-trip term, measured: a no-op ``fossp plan`` over N lab hosts, each
reached through a relay on the controller that makes its link DELAY ms long each way
(this kernel has no ``sch_netem``, so ``tc netem`` cannot add the delay), with no delay
and with the delays asked for, interleaved round by round.

Run as root from the repository (one command; see benchmarks/README.md)::

    .venv/bin/python benchmarks/latency.py [--hosts 10 50] [--delays 0 10] [--runs 3]

The model (benchmarks/README.md, "Scale") says a run's wall time grows by about six round
trips whatever N is (TCP, key exchange, login, session, facts, probe overlap across hosts),
so the difference between a delay and none should be about ``6 * 2 * delay``. The medians
and that comparison are printed and saved as ``benchmarks/results/latency-YYYY-MM-DD.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fossp.lab.faults import relayed_inventory, running
from fossp.lab.hosts import LabHost, down, up

REPO = Path(__file__).resolve().parents[1]
FOSSP = REPO / ".venv" / "bin" / "fossp"
ROUND_TRIPS = 6  # the model's count; a plan has no probe, so about five are expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 50], help="numbers of hosts N")
    parser.add_argument("--delays", type=float, nargs="+", default=[0, 10], help="one-way delays, ms")
    parser.add_argument("--runs", type=int, default=3, help="rounds per N and delay")
    parser.add_argument("--keep", action="store_true", help="leave the lab hosts up")
    args = parser.parse_args()

    names = [f"latency-{i}" for i in range(1, max(args.hosts) + 1)]
    hosts = up(names)
    try:
        rows = [row for n in args.hosts for row in _measure(hosts[:n], args.delays, args.runs)]
    finally:
        if not args.keep:
            down(names)
    base = {row["hosts"]: row["wall_s"] for row in rows if row["delay_ms"] == 0}
    for row in rows:
        added = row["wall_s"] - base.get(row["hosts"], row["wall_s"])
        row["added_s"] = round(added, 3)
        row["model_added_s"] = round(ROUND_TRIPS * 2 * row["delay_ms"] / 1000, 3)
        row["round_trips_seen"] = round(added / (2 * row["delay_ms"] / 1000), 1) if row["delay_ms"] else None
    print("| N | one-way delay | wall s (median) | added s | model: 6 round trips | round trips seen |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['hosts']} | {row['delay_ms']:g} ms | {row['wall_s']:.2f} | {row['added_s']:.2f} "
            f"| {row['model_added_s']:.2f} | {row['round_trips_seen'] or '-'} |"
        )
    out = REPO / "benchmarks" / "results" / f"latency-{datetime.date.today():%Y-%m-%d}.json"
    out.write_text(json.dumps({"schema_version": 1, "rows": rows}, indent=2) + "\n")
    print(f"saved {out}", file=sys.stderr)


def _measure(hosts: list[LabHost], delays: list[float], runs: int) -> list[dict[str, Any]]:
    """Median wall time of ``fossp plan nginx`` over ``hosts`` per delay, rounds interleaved."""
    walls: dict[float, list[float]] = {delay: [] for delay in delays}
    with tempfile.TemporaryDirectory() as scratch, running() as faults:
        inventories = {}
        for delay in delays:
            folder = Path(scratch) / f"d{delay:g}"
            folder.mkdir()
            inventories[delay] = relayed_inventory(folder, hosts, delay / 1000, faults)
        for _ in range(runs + 1):  # the first round warms caches and is not counted
            for delay in delays:
                argv = [str(FOSSP), "plan", "nginx", "--inventory", str(inventories[delay]), "--target", "mix"]
                argv.append("--json")
                started = time.monotonic()
                done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
                walls[delay].append(time.monotonic() - started)
                if done.returncode != 0:
                    raise SystemExit(f"fossp plan failed ({done.returncode}): {done.stderr[-500:]}")
    return [
        {"hosts": len(hosts), "delay_ms": delay, "wall_s": round(statistics.median(walls[delay][1:]), 3)}
        for delay in delays
    ]


if __name__ == "__main__":
    main()
