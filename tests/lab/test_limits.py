"""The kernel limits a big lab needs grow with its hosts and are never lowered (files in
tmp_path stand in for /proc/sys, which a test must not change for the whole machine)."""

from __future__ import annotations

from pathlib import Path

from fossp.lab.limits import Limit, describe, raise_limits


def limits(tmp_path: Path, instances: int, watches: int) -> tuple[Limit, ...]:
    (tmp_path / "instances").write_text(f"{instances}\n")
    (tmp_path / "watches").write_text(f"{watches}\n")
    return (
        Limit("fs.inotify.max_user_instances", tmp_path / "instances", 8, 128),
        Limit("fs.inotify.max_user_watches", tmp_path / "watches", 4096, 65536),
    )


def test_limits_are_raised_for_200_hosts_and_reported(tmp_path: Path) -> None:
    said: list[str] = []
    raise_limits(200, said.append, limits(tmp_path, 128, 8192))
    assert (tmp_path / "instances").read_text() == f"{128 + 8 * 200}\n"
    assert (tmp_path / "watches").read_text() == f"{65536 + 4096 * 200}\n"
    assert said == [
        "raised fs.inotify.max_user_instances from 128 to 1728 for 200 lab hosts",
        "raised fs.inotify.max_user_watches from 8192 to 884736 for 200 lab hosts",
    ]


def test_a_higher_limit_is_left_as_it_is(tmp_path: Path) -> None:
    said: list[str] = []
    raise_limits(10, said.append, limits(tmp_path, 100000, 10**7))
    assert said == [] and (tmp_path / "instances").read_text() == "100000\n"


def test_the_boot_error_names_a_limit_that_is_too_low(tmp_path: Path) -> None:
    text = describe(30, limits(tmp_path, 128, 10**7))
    assert text == "30 lab hosts, fs.inotify.max_user_instances=128 (too low), fs.inotify.max_user_watches=10000000"
