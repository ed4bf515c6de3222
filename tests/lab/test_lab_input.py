"""Bad input to `fossp lab` is refused with exit 2 and one line, before anything changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.conftest import run_fossp

from fossp.lab.network import NETNS_DIR, netns_name

BAD_NAMES = ["Upper", "1abc", "a" * 16, "a_b", "a;rm", "../x", "a b", "-x", ""]


def _netns() -> set[str]:
    return set(os.listdir(NETNS_DIR)) if NETNS_DIR.is_dir() else set()


@pytest.fixture
def empty_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    lab = tmp_path / "lab"
    monkeypatch.setenv("FOSSP_LAB_DIR", str(lab))
    return lab


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_host_names_are_refused(empty_lab: Path, name: str) -> None:
    for command in (["up", "t-fine", "--", name], ["down", "--", name]):
        result = run_fossp("lab", *command)
        assert result.returncode == 2, result
        assert repr(name) in result.stderr and len(result.stderr.strip().splitlines()) == 1
    # Only these names' namespaces: other people's lab hosts come and go meanwhile.
    assert not empty_lab.exists() and not {netns_name("t-fine"), netns_name(name)} & _netns()


@pytest.mark.parametrize("option", [["--package", "bad;pkg"], ["--role", "no-such-role"]])
def test_bad_packages_and_roles_are_refused(empty_lab: Path, option: list[str]) -> None:
    result = run_fossp("lab", "up", "t-fine", *option)
    assert result.returncode == 2 and option[1] in result.stderr
    assert not empty_lab.exists()


def test_unknown_hosts_are_named(empty_lab: Path) -> None:
    for command in (["down", "t-none"], ["ssh", "t-none", "--", "true"]):
        result = run_fossp("lab", *command)
        assert result.returncode == 2 and "t-none" in result.stderr
    assert run_fossp("lab", "down").returncode == 2


def test_list_of_an_empty_lab_is_empty(empty_lab: Path) -> None:
    result = run_fossp("lab", "list", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["hosts"] == []
    assert not empty_lab.exists()
