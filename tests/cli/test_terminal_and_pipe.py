"""Tables for people and for pipes: on an 80-column terminal (a real tmux pane) role IDs
are never broken; into a pipe, tab-separated rows with a header, no box characters, no
wrapping and no trailing spaces."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import uuid

import pytest

from fossp.catalog import Catalog
from tests.conftest import FOSSP, UNUSED_GATE_DB, run_fossp

BOX = set("│┃━─┏┓┗┛┡┩╇╋┳┻")


def test_piped_roles_are_tab_separated_rows_grep_can_count(catalog: Catalog) -> None:
    done = run_fossp("roles", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split("\t")[:2] == ["Role ID", "Name"]
    assert len(lines) == 1 + len(catalog.roles)
    assert not BOX & set(done.stdout)
    assert all(line == line.rstrip() and line.count("\t") == lines[0].count("\t") for line in lines)
    assert sum("DASPO" in line for line in lines) == 1
    assert {line.split("\t")[0] for line in lines[1:]} == {role.id for role in catalog.roles.values()}


def test_grep_counts_one_line_for_a_role() -> None:
    """The issue's own pipeline: `fossp roles list | grep -c DASPO` is 1."""
    pipeline = f"{shlex.join([*FOSSP, 'roles', 'list'])} | grep -c DASPO"
    counted = subprocess.run(
        ["sh", "-c", pipeline],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "FOSSP_DB": f"sqlite:///{UNUSED_GATE_DB}"},
    )
    assert (counted.stdout, counted.returncode) == ("1\n", 0), counted.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("roles", "show", "postgresql"),
        ("features",),
        ("lifecycle",),
        ("release", "list"),
        ("platform", "check"),
        ("recommend", "database", "web server"),
        ("users", "list"),
    ],
    ids=" ".join,
)
def test_piped_output_has_no_box_and_no_padding_spaces(args: tuple[str, ...]) -> None:
    done = run_fossp(*args)
    assert done.returncode in (0, 1) and done.stdout, done.stderr
    assert not BOX & set(done.stdout)
    padded = [line for line in done.stdout.splitlines() if line.endswith(" ") or " \t" in line]
    assert padded == []  # (a tab may end a row: its last cell is empty)


def test_format_chooses_the_table_whatever_stdout_is(catalog: Catalog) -> None:
    drawn = run_fossp("lifecycle", "--format", "table")
    assert drawn.returncode == 0 and BOX & set(drawn.stdout) and "\t" not in drawn.stdout
    tsv = run_fossp("lifecycle", "--format", "tsv")
    assert tsv.stdout.splitlines()[0].startswith("Service\tServer Role\tServer Role ID")
    as_json = run_fossp("lifecycle", "--format", "json")
    assert as_json.stdout == run_fossp("lifecycle", "--json").stdout
    refused = run_fossp("lifecycle", "--format", "xml")
    assert refused.returncode == 2 and "'xml' is not one of 'table', 'tsv', 'json'" in refused.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_on_an_80_column_terminal_role_ids_stay_whole(catalog: Catalog) -> None:
    server = f"fossp-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", server, "-f", "/dev/null"]
    command = (
        f"FOSSP_DB=sqlite:///{UNUSED_GATE_DB} NO_COLOR=1 {shlex.join([*FOSSP, 'roles', 'list'])};"
        f" tmux -L {server} wait-for -S listed; sleep 60"
    )
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "sh", "-c", command], check=True)
    try:
        subprocess.run([*tmux, "wait-for", "listed"], check=True, timeout=60)
        pane = subprocess.run(
            [*tmux, "capture-pane", "-p", "-J", "-S", "-", "-E", "-"], capture_output=True, text=True, check=True
        ).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    rows = [line for line in pane.splitlines() if line.strip().startswith("FOSSP-")]
    assert {line.split()[0] for line in rows} == {role.id for role in catalog.roles.values()}
    assert all(len(line) <= 80 for line in pane.splitlines())  # none the terminal wrapped (-J joins them)
