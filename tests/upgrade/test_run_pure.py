"""The upgrade run's pure parts and its data swap, which must be safe to run again after a kill."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fossp.hosts.facts import Facts
from fossp.upgrade.facts import UpgradeFacts
from fossp.upgrade.record import UpgradeRecord
from fossp.upgrade.run import SWAP_SCRIPT, _apt_action_argv, _resumable, aside_path, finish_command, upgrade_changes
from fossp.upgrade.service import CheckRequest


def record(step: str, finished: bool = False, target: str = "debian 13 (trixie)") -> UpgradeRecord:
    stamp = "2026-12-02T00:00:00+00:00"
    return UpgradeRecord(
        run_id="r1", target=target, level="major", to="13", step=step, started=stamp, updated=stamp, finished=finished
    )


@pytest.mark.parametrize(
    ("step", "finished", "pending"),
    [
        ("snapshot", False, False),  # stopped before its download: nothing changed
        ("download", False, True),
        ("packages", False, True),
        ("rollback", False, True),
        ("done", True, False),
    ],
)
def test_which_records_are_pending(step: str, finished: bool, pending: bool) -> None:
    assert record(step, finished).pending is pending


def test_only_a_pending_run_to_the_same_target_is_resumed() -> None:
    assert _resumable(record("packages"), "debian 13 (trixie)") is not None
    assert _resumable(record("packages"), "debian 12 service pack") is None
    assert _resumable(record("snapshot"), "debian 13 (trixie)") is None
    assert _resumable(record("done", finished=True), "debian 13 (trixie)") is None
    assert _resumable(None, "debian 13 (trixie)") is None


def test_the_finish_command_repeats_the_request_quoted() -> None:
    assert finish_command(CheckRequest(to="13")) == "fossp upgrade run --to 13"
    fix = CheckRequest(level="interim-fix", packages=("openssl", "libc6"))
    assert finish_command(fix) == "fossp upgrade run --level interim-fix --package openssl --package libc6"
    assert finish_command(CheckRequest(to="Debian 12.16")) == "fossp upgrade run --to 'Debian 12.16'"


def test_upgrade_changes_compares_the_facts_before_and_after() -> None:
    before = UpgradeFacts(Facts(host="h", packages={"a": "1", "b": "1", "gone": "1"}), point_release="12.15")
    after = UpgradeFacts(Facts(host="h", packages={"a": "2", "b": "1", "new": "1"}), point_release="13.8")
    assert upgrade_changes(before, after) == {
        "release": {"from": "12.15", "to": "13.8"},
        "upgraded": 1,
        "added": ["new"],
        "removed": ["gone"],
    }


@pytest.fixture
def swap_env(tmp_path: Path) -> dict[str, str]:
    """A stand-in `btrfs` (cp -a) on PATH: the script's own moves are what is tested, for real."""
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "btrfs"
    fake.write_text('#!/bin/sh\n[ "$1 $2" = "subvolume snapshot" ] || exit 2\ncp -a -- "$3" "$4"\n')
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}


def _swap(env: dict[str, str], live: Path, copy: Path, aside: Path) -> None:
    subprocess.run(["sh", "-c", SWAP_SCRIPT, "swap", str(live), str(copy), str(aside)], env=env, check=True)


def _tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    live, copy = tmp_path / "postgresql", tmp_path / "copy"
    live.mkdir()
    (live / "rows").write_text("after the failed upgrade\n")
    copy.mkdir()
    (copy / "rows").write_text("before the upgrade\n")
    return live, copy, Path(aside_path(str(live), "r1"))


def test_the_swap_puts_the_copy_back_and_keeps_the_failed_data_aside(swap_env: dict[str, str], tmp_path: Path) -> None:
    live, copy, aside = _tree(tmp_path)
    _swap(swap_env, live, copy, aside)
    assert (live / "rows").read_text() == "before the upgrade\n"
    assert (aside / "rows").read_text() == "after the failed upgrade\n"
    assert aside.name == "postgresql.fossp-failed-r1" and aside.parent == live.parent  # a rename, never a copy
    _swap(swap_env, live, copy, aside)  # run again (a killed rollback resumed): nothing moves twice
    assert (live / "rows").read_text() == "before the upgrade\n"
    assert (aside / "rows").read_text() == "after the failed upgrade\n"
    assert not Path(f"{live}.fossp-new").exists()


def test_a_swap_killed_after_moving_the_live_data_aside_finishes(swap_env: dict[str, str], tmp_path: Path) -> None:
    live, copy, aside = _tree(tmp_path)
    subprocess.run(["cp", "-a", str(copy), f"{live}.fossp-new"], check=True)  # the killed run's steps
    live.rename(aside)
    _swap(swap_env, live, copy, aside)
    assert (live / "rows").read_text() == "before the upgrade\n"
    assert (aside / "rows").read_text() == "after the failed upgrade\n"


def test_conffile_decisions_reach_dpkg() -> None:
    kept = _apt_action_argv("full-upgrade")
    assert "Dpkg::Options::=--force-confold" in kept and "Dpkg::Options::=--force-confnew" not in kept
    new = _apt_action_argv(("libssl3",), "new")
    assert "Dpkg::Options::=--force-confnew" in new and "Dpkg::Options::=--force-confold" not in new
    assert new[-1] == "libssl3" and "--only-upgrade" in new
    assert "--without-new-pkgs" in _apt_action_argv("minimal")
