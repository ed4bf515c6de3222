"""Time `fossp lab up`: cold (debootstrap + repository), then warm with 1 and 3 hosts.

Run as root: ``.venv/bin/python benchmarks/lab_up.py [--cold]``. ``--cold`` uses a
fresh lab folder (FOSSP_LAB_DIR in a temporary directory) so the cached base of
/var/lib/fossp/lab is neither used nor touched; without it the default lab is used.
Host names start with ``bench-`` and are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fossp.lab import down, up


def timed(label: str, action: Callable[[], object]) -> float:
    start = time.monotonic()
    action()
    elapsed = time.monotonic() - start
    print(f"{label:<34} {elapsed:7.2f} s", flush=True)
    return elapsed


def measure() -> None:
    """Each step brings hosts up until sshd accepts the lab key, then takes them down."""
    timed("up 1 host (first in this lab)", lambda: up(["bench-1"]))
    timed("down 1 host", lambda: down(["bench-1"]))
    timed("up 1 host (base cached)", lambda: up(["bench-1"]))
    timed("up 3 more hosts concurrently", lambda: up(["bench-2", "bench-3", "bench-4"]))
    timed("down 4 hosts", lambda: down(["bench-1", "bench-2", "bench-3", "bench-4"]))


def cold_lab() -> tempfile.TemporaryDirectory[str]:
    """A fresh lab folder; its pool is unmounted and removed when the run ends."""
    folder = tempfile.TemporaryDirectory(prefix="fossp-lab-bench-")
    os.environ["FOSSP_LAB_DIR"] = folder.name
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="start from an empty lab folder")
    args = parser.parse_args()
    if not args.cold:
        measure()
        return
    folder = cold_lab()
    try:
        measure()
    finally:
        subprocess.run(["umount", str(Path(folder.name) / "pool")], check=False)
        folder.cleanup()


if __name__ == "__main__":
    main()
