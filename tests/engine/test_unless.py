"""``unless``: a recipe step or file that applies only while a setting is off (the inverse
of ``only_if``), e.g. a command that turns something off when a boolean is false."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.engine.backends import backend_for
from fossp.engine.operations import Operation, OpKind
from fossp.engine.planner import Wanted, plan_role
from fossp.engine.state import HostState
from fossp.selection.profile import resolve_settings

from .conftest import site_role
from .test_recipe_vocabulary import ROLE, TEMPLATE, _facts

RECIPE = """
role: demo
families:
  debian:
    files:
      - {path: /etc/demo/demo.conf, template: demo/demo.conf.j2}
      - {path: /etc/demo/plain.conf, template: demo/demo.conf.j2, unless: tls}
    steps:
      - name: autostart-off
        when: running
        argv: [demo-tool, autostart, --disable, "{instance}"]
        unless: legacy
        description: Turns autostart off unless the legacy mode wants it.
  fedora:
    files:
      - {path: /etc/demo/demo.conf, template: demo/demo.conf.j2}
      - {path: /etc/demo/plain.conf, template: demo/demo.conf.j2, unless: tls}
      - {path: /etc/demo/tls.conf, template: demo/demo.conf.j2, only_if: legacy}
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with site_role(tmp_path, monkeypatch, "demo", ROLE, RECIPE, {"demo.conf.j2": TEMPLATE}) as recipe_dir:
        yield recipe_dir


def _plan(**given: Any) -> dict[str, Operation]:
    role = load_catalog().role("demo")
    facts = _facts({})
    assert facts.family is not None
    ops = plan_role(
        Wanted(role, resolve_settings(role, given, "t")), facts, HostState(), facts.family, backend_for(facts)
    )
    return {op.target: op for op in ops if op.kind in (OpKind.FILE, OpKind.STEP)}


def test_unless_applies_while_the_setting_is_off(site: Path) -> None:
    ops = _plan()
    assert ops["/etc/demo/plain.conf"].change
    assert ops["autostart-off"].change and ops["autostart-off"].commands == [
        ["demo-tool", "autostart", "--disable", "main"]
    ]


def test_unless_is_a_no_op_saying_why_while_the_setting_is_on(site: Path) -> None:
    ops = _plan(tls=True, legacy=True)
    assert not ops["/etc/demo/plain.conf"].change
    assert ops["/etc/demo/plain.conf"].reason == "not needed: tls is on"
    assert not ops["autostart-off"].change and ops["autostart-off"].reason == "not needed: legacy is on"
