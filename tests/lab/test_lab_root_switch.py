"""The root switch survives a crash at any step: the next start finishes it, `down` cleans it.

Real BTRFS in the lab's pool, no host needed: a root with nested subvolumes (its
/.snapshots and a data subvolume) and a pending snapshot, as a restore leaves it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.lab import image
from fossp.lab.paths import LabPaths
from fossp.lab.pool import ensure_pool, is_subvolume
from fossp.lab.system import LabError
from fossp.lab.testing import unavailable_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


def _btrfs(*args: str | Path) -> None:
    subprocess.run(["btrfs", *map(str, args)], check=True, capture_output=True)


@pytest.fixture
def root() -> Iterator[Path]:
    paths = LabPaths.current()
    ensure_pool(paths)
    root = paths.host_root("lt-switch")
    image.remove_root(root)
    _btrfs("subvolume", "create", root)
    (root / "etc").mkdir()
    (root / "etc/ssh").mkdir()
    (root / "etc/ssh/ssh_host_ed25519_key").write_text("the host key\n")
    (root / "etc/config").write_text("before\n")
    _btrfs("subvolume", "create", root / ".snapshots")
    (root / "var/lib").mkdir(parents=True)
    _btrfs("subvolume", "create", root / "var/lib/data")
    (root / ".snapshots/1").mkdir()
    _btrfs("subvolume", "snapshot", "-r", root, root / ".snapshots/1/snapshot")
    (root / "etc/config").write_text("after\n")
    (root / "etc/ssh/ssh_host_ed25519_key").write_text("the host key, renewed\n")
    (root / "var/lib/data/new").write_text("kept\n")
    (root / image.POINTER).write_text("1\n")
    yield root
    image.remove_root(root)


def _assert_switched(root: Path) -> None:
    assert (root / "etc/config").read_text() == "before\n"
    assert (root / "etc/ssh/ssh_host_ed25519_key").read_text() == "the host key, renewed\n"
    assert (root / "var/lib/data/new").read_text() == "kept\n"
    assert is_subvolume(root / ".snapshots") and is_subvolume(root / ".snapshots/1/snapshot")
    assert not (root / image.POINTER).exists()
    assert not any(path.exists() for path in image.switch_paths(root))


def test_a_switch_moves_nested_subvolumes_and_keeps_the_identity(root: Path) -> None:
    assert image.switch_root(root) == 1
    _assert_switched(root)


@pytest.mark.parametrize("crash_at", [1, 2])
def test_a_crash_while_moving_subvolumes_is_finished_next_time(
    root: Path, crash_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    move = image._move_subvolume
    moved: list[Path] = []

    def crashing_move(old_root: Path, new_root: Path, relative: Path) -> None:
        if len(moved) + 1 == crash_at:
            raise KeyboardInterrupt("killed")
        moved.append(relative)
        move(old_root, new_root, relative)

    monkeypatch.setattr(image, "_move_subvolume", crashing_move)
    with pytest.raises(KeyboardInterrupt):
        image.switch_root(root)
    monkeypatch.setattr(image, "_move_subvolume", move)
    image.switch_root(root)
    _assert_switched(root)


def test_a_crash_between_the_renames_is_finished_next_time(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rename = Path.rename

    def crashing_rename(self: Path, target: Path) -> Path:
        if target == image.switch_paths(root)[2]:
            rename(self, target)
            raise KeyboardInterrupt("killed")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", crashing_rename)
    with pytest.raises(KeyboardInterrupt):
        image.switch_root(root)
    monkeypatch.setattr(Path, "rename", rename)
    assert not root.exists()
    image.switch_root(root)
    _assert_switched(root)


def test_remove_root_cleans_a_crashed_switch(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(old_root: Path, new_root: Path, relative: Path) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(image, "_move_subvolume", crash)
    with pytest.raises(KeyboardInterrupt):
        image.switch_root(root)
    image.remove_root(root)
    assert not any(path.exists() for path in (root, *image.switch_paths(root)))


def test_a_pointer_naming_a_folder_with_content_where_a_subvolume_goes_is_refused(root: Path) -> None:
    (root / ".snapshots/2").mkdir()
    _btrfs("subvolume", "snapshot", root, root / ".snapshots/2/snapshot")
    (root / ".snapshots/2/snapshot/var/lib/data").rmdir()
    (root / ".snapshots/2/snapshot/var/lib/data").mkdir()
    (root / ".snapshots/2/snapshot/var/lib/data/stale").write_text("old\n")
    (root / image.POINTER).write_text("2\n")
    with pytest.raises(LabError, match="var/lib/data is not empty"):
        image.switch_root(root)
    assert (root / "etc/config").read_text() == "after\n" and (root / image.POINTER).exists()
