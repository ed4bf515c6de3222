"""`fossp backup`'s bad input: one line, exit 2, before any host is reached; a director
that cannot be reached is one line naming it, exit 1, within the connect bound."""

from __future__ import annotations

import time

from tests.cli.inprocess import fossp


def test_a_target_is_required_and_only_one() -> None:
    for args in (["backup", "run", "postgresql"], ["backup", "list", "-t", "10.0.0.1", "-t", "10.0.0.2"]):
        done = fossp(*args)
        assert done.code == 2 and len(done.errors) == 1, (args, done)
        assert "give --target with one host" in done.errors[0]


def test_a_restore_folder_must_be_a_plain_absolute_path() -> None:
    for bad in ("relative/dir", "/tmp/a b", "/tmp/x;rm", '/tmp/"q"'):
        done = fossp("backup", "restore", "postgresql", "-t", "10.0.0.1", "--to", bad)
        assert done.code == 2 and len(done.errors) == 1 and "--to" in done.errors[0], (bad, done)


def test_an_unreachable_director_is_one_line_and_a_finding() -> None:
    started = time.monotonic()
    done = fossp("platform", "apply", "-t", "192.0.2.1", "--backup-director", "192.0.2.9", "--timeout", "connect=3")
    assert done.code == 1 and len(done.errors) == 1, done
    assert "192.0.2.9: cannot reach the backup director" in done.errors[0], done.errors
    assert time.monotonic() - started < 30
