"""The usual CLI comforts: --version, -h on every command, help with a text for every
option and no Python types, shell completion for bash, zsh and fish, man pages made
from the help (kept in step with it), and the FOSSP_* variables documented."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fossp import __version__
from fossp.cli.generated import write_generated
from fossp.cli.main import command
from fossp.cli.manpages import environment, pages
from fossp.lifecycle.releases import platform_releases
from tests.conftest import FOSSP, run_fossp

REPO = Path(__file__).resolve().parents[2]
PYTHON_TYPES = re.compile(r"<(list|str|int|float|path|bool)\b|\{[A-Za-z_]+\}")


def leaves(
    cmd: Any, path: tuple[str, ...] = ("fossp",), parent: Any = None
) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """Every command with its path and click context, groups included."""
    context = cmd.context_class(cmd, info_name=path[-1], parent=parent, **cmd.context_settings)
    yield path, cmd, context
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from leaves(sub, (*path, name), context)


def test_version_names_fossp_and_the_platform_release() -> None:
    done = run_fossp("--version")
    latest = platform_releases()[-1]
    assert done.returncode == 0
    assert done.stdout == f"fossp {__version__} (FOSSP platform release {latest.version}, {latest.release})\n"


def test_every_option_has_help_and_no_help_shows_python_types() -> None:
    missing, typed = [], []
    for path, cmd, context in leaves(command()):
        if PYTHON_TYPES.search(cmd.get_help(context)):
            typed.append(" ".join(path))
        for param in cmd.params:
            if "--help" not in getattr(param, "opts", []) and not param.help:
                missing.append(f"{' '.join(path)} {param.name}")
    assert typed == [] and missing == []


@pytest.mark.parametrize("path", [("-h",), ("roles", "-h"), ("deploy", "-h"), ("gate", "actions", "add", "-h")])
def test_dash_h_is_help(path: tuple[str, ...]) -> None:
    done = run_fossp(*path)
    assert done.returncode == 0 and done.stdout.startswith("Usage: fossp")


def _complete(shell: str, words: str, cword: int) -> str:
    env = {**os.environ, "_FOSSP_COMPLETE": f"complete_{shell}", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    env["_TYPER_COMPLETE_ARGS"] = words
    env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    return subprocess.run(FOSSP, env=env, capture_output=True, text=True, timeout=60, check=True).stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_offers_commands_and_role_names(shell: str) -> None:
    assert "roles" in _complete(shell, "fossp ro", 1)
    assert "postgresql" in _complete(shell, "fossp deploy postg", 2)
    script = run_fossp("--show-completion", shell)
    assert script.returncode == 0 and "_FOSSP_COMPLETE" in script.stdout


def test_the_man_pages_are_those_the_help_makes(tmp_path: Path) -> None:
    made = dict(pages(command()))
    committed = {path.name: path.read_text() for path in (REPO / "man").glob("*.1")}
    assert committed == made, "man/ is stale: run `python -m fossp.cli.manpages man/`"
    assert {"fossp.1", "fossp-deploy.1", "fossp-roles-list.1"} <= set(made)


def test_the_package_installs_the_man_pages_and_the_schemas(tmp_path: Path) -> None:
    """`pip install fossp` puts every page in share/man/man1 (so `man fossp` works) and
    the JSON Schemas in the package: read from the wheel pip builds."""
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("fossp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    installed = {Path(n).name for n in names if "/data/share/man/man1/" in n}
    assert installed == {path.name for path in (REPO / "man").glob("*.1")}
    schemas = {Path(n).name for n in names if n.startswith("fossp/data/schemas/")}
    assert schemas == {path.name for path in (REPO / "src/fossp/data/schemas").glob("*.json")}


def test_writing_generated_files_removes_those_of_commands_gone(tmp_path: Path) -> None:
    """The man pages and the schemas are written by one helper: a command removed loses its file."""
    (tmp_path / "fossp-gone.1").write_text("old")
    (tmp_path / "notes.txt").write_text("mine")
    written = write_generated(tmp_path, [("fossp.1", "page")], "*.1")
    assert written == [tmp_path / "fossp.1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fossp.1", "notes.txt"]
    assert (tmp_path / "fossp.1").read_text() == "page"


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_renders_the_pages_without_warnings() -> None:
    for name in ("fossp.1", "fossp-deploy.1", "fossp-gate-actions-add.1"):
        shown = subprocess.run(
            ["man", "--warnings", "-l", str(REPO / "man" / name)],
            capture_output=True,
            text=True,
            env={**os.environ, "MANWIDTH": "80"},
            check=True,
        )
        assert shown.stderr == "" and "OPTIONS" in shown.stdout


def test_every_fossp_variable_the_code_reads_is_documented() -> None:
    read = set()
    for source in (REPO / "src" / "fossp").rglob("*.py"):
        read |= set(re.findall(r"environ(?:\.get)?[(\[]\s*\"(FOSSP_\w+)\"", source.read_text()))
    documented = {variable["name"] for variable in environment()}
    assert read and read == documented
    readme = (REPO / "README.md").read_text()
    assert [name for name in sorted(documented) if name not in readme] == []
