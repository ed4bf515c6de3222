"""Fleet faults at scale: a FOSSP run over N hosts of which some refuse connections, some
hang after the SSH banner and some have their link cut mid-run (fossp.lab.faults).

Run as root from the repository (one command; see benchmarks/README.md)::

    .venv/bin/python benchmarks/faults.py [--good 185] [--refusing 5] [--silent 5] [--cut 5]
        [--command plan] [--connect 10] [--keep]

It brings up the good and the cut lab hosts (``faults-1`` ...), runs ``fossp COMMAND nginx``
over all of them with ``--timeout connect=SECONDS --json``, and checks what the issue asks:
the run ends in bounded time (the connect bound plus the good hosts' own time), every good
host completes, and each failure is named with its cause. The record is saved as
``benchmarks/results/faults-YYYY-MM-DD.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fossp.lab.faults import mixed_inventory, running
from fossp.lab.hosts import LabHost, down, up

REPO = Path(__file__).resolve().parents[1]
FOSSP = REPO / ".venv" / "bin" / "fossp"
CAUSES = {"refusing": "Connection refused", "silent": "no SSH handshake within", "cut": "connection lost"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", type=int, default=185, help="lab hosts that behave")
    parser.add_argument("--refusing", type=int, default=5, help="ports that refuse connections")
    parser.add_argument("--silent", type=int, default=5, help="SSH servers silent after their banner")
    parser.add_argument("--cut", type=int, default=5, help="lab hosts whose link is cut mid-run")
    parser.add_argument("--command", default="plan", choices=("plan", "deploy"), help="what runs on every host")
    parser.add_argument("--connect", type=float, default=10, help="the run's connect bound, seconds")
    parser.add_argument("--keep", action="store_true", help="leave the lab hosts up")
    args = parser.parse_args()

    names = [f"faults-{i}" for i in range(1, args.good + args.cut + 1)]
    started = time.monotonic()
    hosts: list[LabHost] = up(names)
    print(f"lab: {len(hosts)} hosts up in {time.monotonic() - started:.0f} s", file=sys.stderr)
    try:
        record = _run(args, hosts[: args.good], hosts[args.good :])
    finally:
        if not args.keep:
            down(names)
    out = REPO / "benchmarks" / "results" / f"faults-{datetime.date.today():%Y-%m-%d}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "failures"}, indent=2))
    print(f"saved {out}")
    if not record["passed"]:
        raise SystemExit(1)


def _run(args: argparse.Namespace, good: list[LabHost], cut: list[LabHost]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch, running() as faults:
        folder = Path(scratch)
        kinds = mixed_inventory(folder, good, cut, args.refusing, args.silent, faults)
        argv = [str(FOSSP), args.command, "nginx", "--inventory", str(folder / "inventory.yaml"), "--target", "mix"]
        argv += ["--timeout", f"connect={args.connect:g}", "--json"]
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=3600)
        seconds = time.monotonic() - started
    results = _by_host(json.loads(done.stdout))
    wrong = [name for name, kind in kinds.items() if not _as_expected(kind, results.get(name))]
    return {
        "command": f"fossp {args.command} nginx",
        "hosts": len(kinds),
        "good": args.good,
        "refusing": args.refusing,
        "silent": args.silent,
        "cut": args.cut,
        "connect_bound_s": args.connect,
        "wall_s": round(seconds, 2),
        "exit_code": done.returncode,
        "good_completed": sum(1 for name, kind in kinds.items() if kind == "good" and results[name]["ok"]),
        "not_as_expected": wrong,
        "passed": not wrong and done.returncode == 1,
        "failures": {name: results[name].get("error") for name, kind in kinds.items() if kind != "good"},
    }


def _by_host(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each host's result as ``{ok, error}``: deploy lists ``hosts``; plan lists ``plans``
    and the hosts it could not plan under ``errors``."""
    if "hosts" in document:
        found = {h["host"]: h for h in document["hosts"]}
    else:
        found = {p["host"]: {"ok": True} for p in document["plans"]}
        found |= {e["host"]: {"ok": False, "error": e["error"]} for e in document.get("errors", [])}
    for result in found.values():  # an error is {message, where, code}
        if isinstance(result.get("error"), dict):
            result["error"] = result["error"]["message"]
    return found


def _as_expected(kind: str, result: dict[str, object] | None) -> bool:
    """A good host completed; a faulty one failed, its error naming the cause."""
    if result is None:
        return False
    if kind == "good":
        return result.get("ok") is True
    return result.get("ok") is False and CAUSES[kind] in str(result.get("error"))


if __name__ == "__main__":
    main()
