"""Bad input to `fossp upgrade`: one line naming what and where, exit 2, no host reached.

The target `10.255.255.1` would only time out if FOSSP tried it: these refusals come first.
"""

from __future__ import annotations

import pytest

from tests.conftest import run_fossp

UNREACHED = ["--target", "10.255.255.1", "--timeout", "connect=1"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check", "--to", "99"], "--to '99': no such release"),
        (["check", "--to", "jessie"], "no such release"),
        (["check", "--level", "minor"], "--level 'minor': not a release level"),
        (["check", "--level", "interim-fix"], "--package NAME"),
        (["check", "--level", "interim-fix", "--package", "a;b"], "--package 'a;b': not a package name"),
        (["check"], "say where to go"),
        (["run", "--to", "99", "--yes"], "no such release"),
        (["run", "--level", "interim-fix", "--yes"], "--package NAME"),
        (["run", "--to", "13", "--conffiles", "maybe", "--yes"], "--conffiles 'maybe': choose keep or new"),
    ],
)
def test_bad_upgrade_input_is_one_line_and_exit_2(args: list[str], expected: str) -> None:
    result = run_fossp("upgrade", *args, *UNREACHED)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fossp: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
