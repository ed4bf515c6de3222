"""systemd reads the unit files a recipe writes before their units start or restart (else
a restart runs the old definition), and forgets them once decommission removed them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.catalog import load_catalog
from fossp.engine.backends import backend_for
from fossp.engine.decommission import plan_decommission
from fossp.engine.operations import Operation
from fossp.engine.planner import Wanted, plan_role
from fossp.engine.state import Change, ChangeKind, HostState, Instance
from fossp.hosts.facts import Facts, FileFact, UnitState
from fossp.selection.profile import resolve_settings

from .conftest import recorded, site_role

ROLE_ID = "FOSSP-WDSDU"
UNIT = "/etc/systemd/system/demo-web.service"
ROLE = f"""
id: {ROLE_ID}
name: demounit
service: web
implementation: Demo unit server
code: DU
description: A site role whose recipe writes its own unit file.
features: [web-server]
packages:
  fedora: {{packages: [demo]}}
  debian: {{packages: [demo]}}
units:
  debian: [demo-web.service]
  fedora: [demo-web.service]
settings:
  - {{name: port, type: port, default: 8080, description: Port.}}
probes:
  - {{name: up, kind: command, argv: [demo, status], description: Asks the server.}}
lifecycle: {{release: 01-112615, release_date: 2015-10-26, status: launched}}
upstream: {{status: active}}
"""
RECIPE = f"""
role: demounit
families:
  debian:
    files:
      - {{path: {UNIT}, template: demounit/unit.j2}}
      - {{path: /etc/demo/page.txt, template: demounit/page.j2}}
  fedora:
    files:
      - {{path: /etc/demo/page.txt, template: demounit/page.j2}}
"""
TEMPLATES = {"unit.j2": "[Service]\nExecStart=/usr/bin/demo --port {{ port }}\n", "page.j2": "port {{ port }}\n"}
RUNNING = UnitState(enabled="enabled", active="active")


@pytest.fixture(autouse=True)
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with site_role(tmp_path, monkeypatch, "demounit", ROLE, RECIPE, TEMPLATES) as recipe_dir:
        yield recipe_dir


def _plan(facts: Facts, state: HostState | None = None, port: int = 8080) -> list[Operation]:
    role = load_catalog().role("demounit")
    wanted = Wanted(role, resolve_settings(role, {"port": port}, "test"))
    assert facts.family is not None
    return plan_role(wanted, facts, state or HostState(), facts.family, backend_for(facts))


def _facts(name: str = "debian12-bare", **files: FileFact) -> Facts:
    facts = recorded(name)
    return facts.model_copy(
        update={
            "packages": {**facts.packages, "demo": "1.0"},
            "units": {**facts.units, "demo-web.service": RUNNING},
            "files": {**facts.files, **files},
        }
    )


def _as_written() -> dict[str, FileFact]:
    """The files as the first plan writes them (what the host holds after the deploy)."""
    done = {op.target: op for op in _plan(_facts())}
    return {
        path: FileFact(path=path, kind="file", mode="644", owner="root", group="root", content=done[path].content)
        for path in (UNIT, "/etc/demo/page.txt")
    }


def _kinds(ops: list[Operation]) -> list[str]:
    return [f"{op.kind.value} {op.target}" for op in ops if op.change]


def test_a_written_unit_file_is_read_before_the_unit_restarts() -> None:
    changes = _kinds(_plan(_facts()))
    assert changes.index("run-step daemon-reload") < changes.index("restart-unit demo-web.service")
    assert changes.index(f"write-file {UNIT}") < changes.index("run-step daemon-reload")
    reload = next(op for op in _plan(_facts()) if op.target == "daemon-reload")
    assert reload.commands == [["systemctl", "daemon-reload"]] and UNIT in reload.reason


def test_no_reload_when_no_unit_file_changes() -> None:
    assert "run-step daemon-reload" not in _kinds(_plan(_facts("fedora40-bare")))  # page only, no unit file
    state = HostState()
    written = _as_written()
    assert _kinds(_plan(_facts(**written), state)) == []


def test_a_restart_owed_for_a_unit_file_reloads_first() -> None:
    """A run stopped after the write: the file is as wanted, the reload is still owed."""
    written = _as_written()
    state = HostState()
    state.owe_restart(ROLE_ID, ["demo-web.service"], UNIT)
    assert _kinds(_plan(_facts(**written), state)) == ["run-step daemon-reload", "restart-unit demo-web.service"]


def test_decommission_reloads_after_removing_a_unit_file() -> None:
    ledger = [
        Change(role=ROLE_ID, kind=ChangeKind.FILE, target=UNIT, undo=[["rm", "-f", "--", UNIT]]),
        Change(role=ROLE_ID, kind=ChangeKind.FILE, target="/etc/demo/page.txt", undo=[["rm", "-f", "--", "/x"]]),
    ]
    state = HostState(instances={ROLE_ID: Instance(role_id=ROLE_ID, role_name="demounit")}, ledger=ledger)
    ops = plan_decommission(_facts(), state, load_catalog(), [ROLE_ID], None).operations
    order = [f"{op.kind.value} {op.target}" for op in ops]
    assert order.index(f"remove-file {UNIT}") < order.index("undo-change daemon-reload")
    without = HostState(instances=state.instances, ledger=ledger[1:])
    assert "undo-change daemon-reload" not in [
        f"{op.kind.value} {op.target}"
        for op in plan_decommission(_facts(), without, load_catalog(), [ROLE_ID], None).operations
    ]
