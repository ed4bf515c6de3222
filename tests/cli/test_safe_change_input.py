"""Bad input to the safe-change commands: one line, exit 2, no host reached, nothing changed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_fossp

UNREACHED = "127.0.0.1:9"  # the discard port: a command that reached it would fail differently


def test_an_unwritable_backup_folder_is_refused_before_any_host(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    result = run_fossp(
        "decommission", "--purge", "--yes", "--backup-dir", str(blocker / "backups"), "--target", UNREACHED
    )
    assert result.returncode == 2, result.stderr
    assert f"--backup-dir {blocker / 'backups'}: cannot create it" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_purge_without_yes_in_a_script_is_refused() -> None:
    result = run_fossp("decommission", "--purge", "--target", UNREACHED)
    assert result.returncode == 2 and "--yes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
