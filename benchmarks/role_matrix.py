"""What the role matrix costs: each end-to-end role module's time, hosts up to hosts down.

Run as root from the repository: ``.venv/bin/python benchmarks/role_matrix.py`` runs every
module of tests/e2e (the roles on lab hosts) one after another (nothing else should run: the figures are wall
seconds) and prints, per module, the seconds pytest spent bringing its lab hosts up
(setup), in its tests (call) and taking the hosts down (teardown). ``--log FILE`` reads a
saved ``pytest --durations=0`` output instead (e.g. a whole-suite run, modules in parallel).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

E2E = Path(__file__).resolve().parent.parent / "tests" / "e2e"
DURATION = re.compile(r"^(?P<seconds>[\d.]+)s (?P<phase>setup|call|teardown)\s+tests/e2e/(?P<module>[\w.]+)::")


def durations(text: str) -> dict[str, dict[str, float]]:
    """Seconds per module and phase from pytest's ``--durations`` lines."""
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in text.splitlines():
        found = DURATION.match(line.strip())
        if found:
            table[found["module"]][found["phase"]] += float(found["seconds"])
    return table


def run(modules: list[str]) -> str:
    output = []
    for module in modules:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "--durations=0", "--durations-min=0.5", f"tests/e2e/{module}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        print(f"{module}: exit {done.returncode}", file=sys.stderr, flush=True)
        output.append(done.stdout)
    return "\n".join(output)


def report(table: dict[str, dict[str, float]]) -> None:
    print("| module | hosts up (setup) | tests (call) | hosts down (teardown) | total |")
    print("|---|---|---|---|---|")
    totals = defaultdict(float)
    for module in sorted(table, key=lambda m: -sum(table[m].values())):
        phases = table[module]
        for phase, seconds in phases.items():
            totals[phase] += seconds
        cells = " | ".join(f"{phases.get(p, 0):.0f}" for p in ("setup", "call", "teardown"))
        print(f"| {module} | {cells} | {sum(phases.values()):.0f} |")
    cells = " | ".join(f"{totals.get(p, 0):.0f}" for p in ("setup", "call", "teardown"))
    print(f"| all | {cells} | {sum(totals.values()):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="a saved `pytest --durations=0` output to read instead")
    parser.add_argument("modules", nargs="*", help="e2e modules to run (default: every one)")
    args = parser.parse_args()
    modules = args.modules or sorted(path.name for path in E2E.glob("test_*.py"))
    report(durations(args.log.read_text() if args.log else run(modules)))


if __name__ == "__main__":
    main()
