"""Start-up: how long `fossp --help` and the catalog commands take, for one or more source
trees side by side (the rounds interleaved, so the machine's load hits each tree alike).

    .venv/bin/python benchmarks/startup.py [--runs 10] [--tree NAME=SRC_DIR ...]

Without --tree it times this checkout's src/. A tree is run as this venv's `fossp` with
that src/ first on PYTHONPATH (e.g. an older commit's ``git archive HEAD~3 src | tar -x -C
/tmp/old``). Output into a pipe (no terminal), no gate database, each tree its own catalog
cache (FOSSP_CACHE_DIR), warmed with the bytecode by an untimed first round; ``--cold``
empties the cache before every run. Prints the median wall and CPU (user + system)
seconds of each command per tree.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOSSP = REPO / ".venv" / "bin" / "fossp"
COMMANDS = (("--help",), ("roles", "list"), ("lifecycle",), ("recommend", "database"))


def timed(src: Path, args: tuple[str, ...], env: dict[str, str], cold: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of `fossp ARGS` from ``src``."""
    cache = Path(env["FOSSP_CACHE_DIR"])
    if cold and cache.exists():
        shutil.rmtree(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(FOSSP), *args], env={**env, "PYTHONPATH": str(src)}, capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tree", action="append", default=[], help="NAME=SRC_DIR (repeatable)")
    parser.add_argument("--cold", action="store_true", help="no catalog cache: emptied before each run")
    options = parser.parse_args()
    trees = dict(tree.split("=", 1) for tree in options.tree) or {"this": str(REPO / "src")}
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    scratch = Path(tempfile.mkdtemp(prefix="fossp-bench-"))
    env["FOSSP_DB"] = f"sqlite:///{scratch}/no-gate.db"
    results: dict[tuple[str, tuple[str, ...]], list[tuple[float, float]]] = {}
    for round_ in range(options.runs + 1):  # round 0 warms bytecode and caches, untimed
        for name, src in trees.items():
            for args in COMMANDS:
                sample = timed(Path(src), args, {**env, "FOSSP_CACHE_DIR": str(scratch / name)}, options.cold)
                if round_:
                    results.setdefault((name, args), []).append(sample)
    shutil.rmtree(scratch)
    print(f"load average {os.getloadavg()[0]:.1f}; median of {options.runs}, seconds wall (CPU)")
    print("| command | " + " | ".join(trees) + " |")
    print("|---|" + "---|" * len(trees))
    for args in COMMANDS:
        cells = []
        for name in trees:
            walls, cpus = zip(*results[(name, args)], strict=True)
            cells.append(f"{statistics.median(walls):.3f} ({statistics.median(cpus):.3f})")
        print(f"| fossp {' '.join(args)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
