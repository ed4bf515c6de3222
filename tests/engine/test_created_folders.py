"""The folders a change creates, found by listing before and after it: a change to one
path walks only below that path's deepest existing folder, and the check after it (or
after a crash, in recovery) walks the same folders; other changes walk every tracked
folder. Runs the real scripts in an offline root (a folder standing in for a host)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fossp.engine.apply import listed_paths
from fossp.engine.operations import Operation, OpKind
from fossp.engine.recovery import TRACKED_FOLDERS, created_folders_script, save_listing
from fossp.hosts.connector import RootConnector


def created(root: Path, paths: tuple[str, ...], change: list[str]) -> tuple[list[str], list[str]]:
    """(walked folders, folders created) for making the ``change`` folders in ``root``."""
    connector = RootConnector(str(root))

    async def scenario() -> str:
        await save_listing(connector, "/var/lib/fossp/runs/r1/folders-1", paths)
        for folder in change:
            (root / folder.lstrip("/")).mkdir(parents=True)
        return (await connector.check(created_folders_script(connector, "/var/lib/fossp/runs/r1/folders-1"))).stdout

    found = asyncio.run(scenario())
    roots = (root / "var/lib/fossp/runs/r1/folders-1.roots").read_text().splitlines()
    return [r.removeprefix(str(root)) or "/" for r in roots], [f.removeprefix(str(root)) for f in found.split()]


def make_root(tmp_path: Path) -> Path:
    for folder in ("etc/nginx/conf.d", "var/lib/dpkg", "var/log", "srv"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


def test_a_file_change_walks_only_its_own_folder_and_finds_the_parents_it_made(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    walked, found = created(root, ("/srv/www/fossp/index.html",), ["/srv/www/fossp"])
    assert walked == ["/srv"]
    assert found == ["/srv/www", "/srv/www/fossp"]


def test_a_package_change_walks_every_tracked_folder(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    walked, found = created(root, TRACKED_FOLDERS, ["/etc/nginx/modules-enabled", "/var/lib/nginx", "/var/log/nginx"])
    assert walked == list(TRACKED_FOLDERS)
    assert found == ["/etc/nginx/modules-enabled", "/var/lib/nginx", "/var/log/nginx"]


def test_which_operations_list_only_their_path() -> None:
    def op(kind: OpKind, target: str) -> Operation:
        return Operation(role="FOSSP-WDSNG", kind=kind, target=target, reason="test")

    assert listed_paths(op(OpKind.FILE, "/etc/nginx/conf.d/fossp.conf")) == ("/etc/nginx/conf.d/fossp.conf",)
    assert listed_paths(op(OpKind.DIR, "/srv/www/fossp")) == ("/srv/www/fossp",)
    assert listed_paths(op(OpKind.PACKAGES, "nginx")) == TRACKED_FOLDERS
    assert listed_paths(op(OpKind.START, "nginx.service")) == TRACKED_FOLDERS
