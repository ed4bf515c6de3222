"""`fossp image build`: a disk too small for the lab's base root is refused before the
root is made (no lab repository work, no apt, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_fossp


def test_a_disk_smaller_than_the_base_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = tmp_path / "lab"
    base = lab / "pool" / "base"
    (base / "etc").mkdir(parents=True)
    (base / "usr.bin").write_bytes(b"\1" * 60 * 1024 * 1024)  # a stand-in base of 60 MiB
    monkeypatch.setenv("FOSSP_LAB_DIR", str(lab))
    profile = tmp_path / "p.yaml"
    profile.write_text("fossp_profile: 1\nroles:\n  - id: FOSSP-WDSNG\n")
    output = tmp_path / "disk.raw"
    done = run_fossp("image", "build", "--profile", str(profile), "-o", str(output), "--size", "0.3")
    assert done.returncode == 2, done.stderr
    assert "disk size 0.30 GiB is too small" in done.stderr and "at least" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in lab.rglob("*")) == ["base", "etc", "pool", "usr.bin"]
    assert not output.exists()
