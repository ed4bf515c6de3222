"""The real `fossp` entry point (fossp.cli.main.run) run in this process, for the many
inputs of the property-based and corpus tests (a subprocess each would take a second)."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from fossp.catalog.loader import load_catalog
from fossp.cli.main import run
from fossp.engine.recipe import load_recipe
from tests.documents import check_document


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def errors(self) -> list[str]:
        """The lines of stderr that are not warnings, and the message of a --json error
        document on stdout (as the line it would be without --json)."""
        lines = [line for line in self.stderr.splitlines() if not line.startswith("fossp: warning: ")]
        if self.stdout.startswith("{"):
            error = json.loads(self.stdout).get("error")
            lines += [f"fossp: {error['message']}"] if error else []
        return lines


TIMEOUT = 60


def _hung(*_: object) -> None:
    raise TimeoutError(f"fossp did not answer in {TIMEOUT} s (blocked reading a FIFO?)")


def forget_files() -> None:
    """Make the next command read catalog and recipes again (a test changed the site's)."""
    load_catalog.cache_clear()
    load_recipe.cache_clear()


def fossp(*args: str, stdin: str = "", cwd: Path | None = None, fresh: bool = False) -> Outcome:
    """Run ``fossp ARGS`` as the console script does; any exception but SystemExit (a
    traceback) propagates and fails the test. ``fresh``: catalog and recipes are read again.
    A --json answer is checked against its command's schema."""
    if fresh:
        forget_files()
    out, err = io.StringIO(), io.StringIO()
    before = Path.cwd()
    code = 0
    signal.signal(signal.SIGALRM, _hung)
    signal.alarm(TIMEOUT)
    try:
        os.chdir(cwd or before)
        with (
            mock.patch.object(sys, "argv", ["fossp", *args]),
            mock.patch.object(sys, "stdin", io.StringIO(stdin)),
            redirect_stdout(out),
            redirect_stderr(err),
        ):
            run()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    finally:
        signal.alarm(0)
        os.chdir(before)
    check_document(args, out.getvalue())
    return Outcome(code, out.getvalue(), err.getvalue())


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and change time: equal before and after
    means the command wrote nothing there."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


def assert_refused_in_one_line(outcome: Outcome, *expected: str) -> None:
    """Exit 2, one line on stderr (besides warnings) that says what and where, no traceback."""
    assert outcome.code == 2, outcome
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert len(outcome.errors) == 1 and outcome.errors[0].startswith("fossp: "), outcome.stderr
    for part in expected:
        assert part in outcome.errors[0], (part, outcome.errors[0])


def assert_answered(outcome: Outcome) -> None:
    """A documented ending: 0 or 1 with an answer, or 2 refused in one line."""
    if outcome.code == 2:
        assert_refused_in_one_line(outcome)
    else:
        assert outcome.code in (0, 1), outcome
        assert "Traceback" not in outcome.stderr, outcome.stderr
