"""The chroot connector on a real Debian root (a snapshot of the lab's debootstrap base)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.hosts.chroot import ChrootConnector
from fossp.hosts.connector import HostError
from fossp.lab import pool
from fossp.lab.hosts import prepare
from fossp.lab.paths import LabPaths
from fossp.lab.testing import unavailable_reason

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    paths = LabPaths.current()
    prepare(paths)
    folder = paths.pool / "test-chroot"
    pool.delete_subvolume(folder)
    pool.snapshot(paths.base, folder)
    yield folder
    pool.delete_subvolume(folder)


def test_commands_run_inside_the_root_with_its_own_users(root: Path, tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("from the controller\n")
    connector = ChrootConnector(root, binds=((str(tmp_path), "/srv/bound"),))

    async def work() -> tuple[str, str, str]:
        release = await connector.check(["cat", "/etc/debian_version"])
        await connector.write_file("/etc/fossp-owned", b"x\n", 0o640, "root:adm")
        listing = await connector.check(["stat", "-c", "%a %U %G", "/etc/fossp-owned"])
        bound = await connector.run(["sh", "-c", "cat /srv/bound/marker && touch /srv/bound/new"])
        return release.stdout, listing.stdout, bound.stdout + bound.stderr

    release, listing, bound = asyncio.run(work())
    assert release.startswith("12.")
    assert listing.split() == ["640", "root", "adm"]  # the root's group adm, by name
    assert (root / "etc" / "fossp-owned").read_text() == "x\n"
    assert "from the controller" in bound and "Read-only file system" in bound
    assert not (tmp_path / "new").exists()


def test_a_daemon_left_behind_dies_with_its_command(root: Path) -> None:
    connector = ChrootConnector(root)

    async def work() -> str:
        await connector.check(["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo started"])
        seen = await connector.check(["sh", "-c", "ps -e -o comm= | grep -c '^sleep$' || true"])
        return seen.stdout.strip()

    assert asyncio.run(work()) == "0"  # each command has its own PID namespace


def test_a_folder_that_is_no_os_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HostError, match="not an OS root"):
        ChrootConnector(tmp_path)
