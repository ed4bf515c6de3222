"""A build killed half way (SIGKILL: no ``finally`` runs) leaves its work folder, a loop
device and a half-written output; the next build removes them, and nothing of a live one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fossp.build.common import LOOP_RECORD, scratch, sweep_scratch

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="loop devices need root")

KILLED_BUILD = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from fossp.build.common import LOOP_RECORD, scratch
    partial = Path(sys.argv[1])
    with scratch("disk", Path(sys.argv[2])) as work:
        subprocess.run(["truncate", "-s", "8M", str(partial)], check=True)
        device = subprocess.run(["losetup", "--find", "--show", str(partial)], check=True,
                                capture_output=True, text=True).stdout.strip()
        (work / LOOP_RECORD).write_text(f"{device} {partial}\\n")
        print(device, flush=True)
        time.sleep(600)
    """
)


def _backing(device: str) -> str | None:
    listed = subprocess.run(["losetup", "-J", "-l", device], capture_output=True, text=True, check=False)
    if listed.returncode != 0 or not listed.stdout.strip():
        return None
    backing = json.loads(listed.stdout)["loopdevices"][0]["back-file"]
    return None if backing is None else str(backing)


@needs_root
def test_the_next_build_cleans_up_after_a_killed_one(tmp_path: Path) -> None:
    partial = tmp_path / "disk.raw.fossp-partial"
    under = tmp_path / "scratch"
    under.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(partial), str(under)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        device = child.stdout.readline().strip()
        assert _backing(device) == str(partial)
        [left] = list(under.iterdir())
        assert str(child.pid) in left.name
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert left.exists() and _backing(device) == str(partial)  # what a SIGKILL leaves
    with scratch("disk", under) as work:
        assert list(under.iterdir()) == [work]
    assert _backing(device) is None and not partial.exists()
    assert list(under.iterdir()) == []


def test_a_running_builds_folder_is_left_alone(tmp_path: Path) -> None:
    with scratch("container", tmp_path) as mine:
        (mine / LOOP_RECORD).write_text("/dev/loop-none /nonexistent\n")
        assert sweep_scratch(tmp_path) == [] and mine.exists()
    dead = tmp_path / "fossp-container-999999999-abc"  # no such process
    dead.mkdir()
    other = tmp_path / "fossp-notes"  # not a work folder's name
    other.mkdir()
    assert sweep_scratch(tmp_path) == [dead] and other.exists()
