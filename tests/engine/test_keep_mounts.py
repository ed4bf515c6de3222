"""Keeping a data folder moves it aside while the packages go; mounts its stopped daemons
left inside it (Docker's btrfs driver) are unmounted first (a folder holding a mount cannot
move), and a folder that is a mount point itself is refused with the reason. Run for real
on this machine's file system (the mounts need root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.engine.decommission import _SET_ASIDE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")


def _aside(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", _SET_ASIDE, "aside", str(data), f"{data}.fossp-kept"], capture_output=True, text=True, check=False
    )


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[list[Path]]:
    """Mount points made by the test; whatever is still mounted goes at its end."""
    made: list[Path] = []
    yield made
    for path in reversed(made):
        subprocess.run(["umount", "-q", str(path)], check=False)


def _bind(path: Path, mounted: list[Path]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "--bind", str(path), str(path)], check=False).returncode != 0:
        pytest.skip("bind mounts are not allowed here")
    mounted.append(path)


def test_mounts_inside_the_data_folder_are_unmounted_then_it_moves(tmp_path: Path, mounted: list[Path]) -> None:
    data = tmp_path / "docker"
    _bind(data / "btrfs", mounted)
    _bind(data / "btrfs" / "subvolumes" / "a", mounted)
    (data / "keep.db").write_text("rows\n")
    done = _aside(data)
    assert done.returncode == 0, done.stderr
    assert not data.exists() and (tmp_path / "docker.fossp-kept" / "keep.db").read_text() == "rows\n"
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()


def test_a_data_folder_that_is_a_mount_point_is_refused(tmp_path: Path, mounted: list[Path]) -> None:
    data = tmp_path / "data"
    _bind(data, mounted)
    done = _aside(data)
    assert done.returncode == 1 and f"{data} is a mount point and cannot move aside" in done.stderr
    assert data.exists() and not (tmp_path / "data.fossp-kept").exists()


def test_a_folder_without_mounts_moves(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    assert _aside(tmp_path / "data").returncode == 0 and (tmp_path / "data.fossp-kept").is_dir()
