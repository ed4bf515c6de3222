"""apt's resolver is asked once per host state: an unchanged host against unchanged lists is
answered from the cache, anything else asks apt again. (apt itself is replaced by a counter
here; tests/upgrade/test_archive.py runs the real one.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from fossp.upgrade import archive
from fossp.upgrade.model import AptSource, ArchiveIndex, SuiteSpec

SPEC = SuiteSpec("debian-13", (AptSource("http://deb.debian.org/debian", ("trixie",)),))
OUTPUT = "Inst libc6 [2.36-9+deb12u13] (2.41-12 Debian:13.2/stable [amd64])\n"


def test_the_same_host_state_is_simulated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []

    def apt(spec: SuiteSpec, status: bytes, argv: list[str], what: str, timeout: float) -> str:
        calls.append(status)
        return OUTPUT

    monkeypatch.setattr(archive, "ARCHIVE_ROOT", tmp_path)
    monkeypatch.setattr(archive, "_apt_on_host", apt)
    index = ArchiveIndex("debian-13", {}, (), "2026-12-02T00:00:00Z")
    status = b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u13\n\n"
    first = archive.simulate(SPEC, status, "full-upgrade", index=index)
    again = archive.simulate(SPEC, status, "full-upgrade", index=index)
    assert first == again and first.upgraded == (("libc6", "2.36-9+deb12u13", "2.41-12"),)
    assert len(calls) == 1
    archive.simulate(SPEC, status, "upgrade", index=index)  # another action
    archive.simulate(SPEC, status + b"Package: x\n\n", "full-upgrade", index=index)  # another host state
    refreshed = ArchiveIndex("debian-13", {}, (), "2026-12-03T00:00:00Z")
    archive.simulate(SPEC, status, "full-upgrade", index=refreshed)  # new lists
    assert len(calls) == 4
