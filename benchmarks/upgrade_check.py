"""Upgrade check speed: `fossp upgrade check --to 13` on a lab host, against Leapp's figures.

Run as root from the repository: ``.venv/bin/python benchmarks/upgrade_check.py [--runs 5]
[--host bench-up]``. It brings up a lab host (Debian 12, a few hundred packages),
deploys PostgreSQL, nginx and BIND on it, then times the whole command line: cold (the
archive metadata and the scratch root fetched and built), the first check of the host
(apt resolves its upgrade), and warm ``--runs`` times (that answer cached), with and
without the configuration check, and reports the medians with their ratio to
Leapp's preupgrade: 26 s at best (database sync off) and 9 minutes by default
(oamg/leapp#732, see anchors.md). Leapp cannot run here (no RHEL host): its figures are
the recorded ones. The host is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

LEAPP_BEST = 26.0
LEAPP_DEFAULT = 9 * 60.0
FOSSP = [sys.executable, "-m", "fossp"]


def fossp(*args: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    result = subprocess.run([*FOSSP, *args, "--json"], capture_output=True, text=True, check=False, timeout=1800)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"fossp {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return seconds, json.loads(result.stdout) if result.stdout.strip() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--host", default="bench-up")
    parser.add_argument("--keep-cache", action="store_true", help="do not time a cold run")
    args = parser.parse_args()
    target = f"lab:{args.host}"
    subprocess.run([*FOSSP, "lab", "up", args.host], check=True, capture_output=True)
    try:
        subprocess.run([*FOSSP, "deploy", "postgresql", "nginx", "bind", "-t", target], check=True, capture_output=True)
        check = ["upgrade", "check", "--to", "13", "--target", target]
        if not args.keep_cache:
            for cache in (Path("/var/cache/fossp/archive/debian-13"), Path("/var/cache/fossp/scratch/debian-13")):
                shutil.rmtree(cache, ignore_errors=True)
            cold, report = fossp(*check)
            print(f"cold (metadata fetched, scratch root built): {cold:.1f} s")
        # Hosts built alike have the same dpkg status: forget earlier answers, so apt resolves this one.
        for release in ("debian-12", "debian-13"):
            shutil.rmtree(Path("/var/cache/fossp/archive") / release / "simulations", ignore_errors=True)
        first, _ = fossp(*check)
        print(f"first check of this host (archive metadata and scratch root cached): {first:.1f} s")
        warm = [fossp(*check)[0] for _ in range(args.runs)]
        bare = [fossp(*check, "--no-config-check")[0] for _ in range(args.runs)]
        _, report = fossp(*check)
        [host] = report["reports"]  # type: ignore[index]
        packages = subprocess.run(
            [*FOSSP, "facts", "-t", target, "--json"], capture_output=True, text=True, check=True
        ).stdout
        count = len(json.loads(packages)["hosts"][0]["packages"])
        print(f"host: {count} packages; {host['prediction']['upgraded']} to upgrade")  # type: ignore[index]
        for name, times in (("warm, with config check", warm), ("warm, --no-config-check", bare)):
            median = statistics.median(times)
            print(
                f"{name}: median {median:.2f} s of {len(times)} "
                f"(x{median / LEAPP_BEST:.2f} of Leapp's best {LEAPP_BEST:.0f} s, "
                f"x{median / LEAPP_DEFAULT:.3f} of its default {LEAPP_DEFAULT / 60:.0f} min)"
            )
    finally:
        subprocess.run([*FOSSP, "lab", "down", args.host], check=False, capture_output=True)


if __name__ == "__main__":
    main()
