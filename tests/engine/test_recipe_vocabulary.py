"""The recipe vocabulary as data: a site role and its site recipe (``FOSSP_ROLES_DIR``,
``FOSSP_RECIPES_DIR``) planned on recorded facts. Steps carry their undo (kept for
``--purge`` where it deletes data), distribution units are masked or stopped with the
inverse recorded, unit names take settings, and a setting no recipe uses is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.catalog.schema import Family
from fossp.engine import recipe as recipes
from fossp.engine import recipe_files
from fossp.engine.backends import backend_for
from fossp.engine.decommission import Purge, plan_decommission
from fossp.engine.operations import Operation, OpKind
from fossp.engine.planner import Wanted, plan_role
from fossp.engine.state import Change, ChangeKind, HostState, Instance
from fossp.errors import BadInput
from fossp.hosts.facts import Facts, UnitState
from fossp.selection.profile import resolve_settings

from .conftest import clear_caches, recorded, site_role

ROLE_ID = "FOSSP-WDSDM"
ROLE = f"""
id: {ROLE_ID}
name: demo
service: web
implementation: Demo server
code: DM
description: A site role for the recipe vocabulary's tests.
features: [web-server]
packages:
  fedora: {{packages: [demo]}}
  debian: {{packages: [demo]}}
units:
  debian: ["demo@{{instance}}.service"]
  fedora: ["demo@{{instance}}.service"]
settings:
  - {{name: instance, type: string, default: main, pattern: "^[a-z]+$", description: Instance name.}}
  - {{name: tls, type: boolean, default: false, description: Serve TLS.}}
  - {{name: legacy, type: boolean, default: false, families: [debian], description: Debian only.}}
probes:
  - {{name: up, kind: command, argv: [demo, status], description: Asks the server.}}
lifecycle: {{release: 01-112615, release_date: 2015-10-26, status: launched}}
upstream: {{status: active}}
"""
RECIPE = """
role: demo
families:
  debian:
    units:
      - {unit: demo-default.service, action: stop}
      - {unit: demo-default.service, action: disable}
      - {unit: demo-dc.service, action: unmask}
    files:
      - {path: /etc/demo/demo.conf, template: demo/demo.conf.j2}
      - {path: /etc/demo/tls.conf, template: demo/demo.conf.j2, only_if: tls}
    steps:
      - name: provision
        when: configured
        argv: [demo-tool, provision, "{instance}"]
        undo: [demo-tool, remove, "{instance}"]
        undo_when: purge
        description: Makes the instance (its undo deletes the instance's data).
      - name: register
        when: running
        argv: [demo-tool, register, "{instance}"]
        undo: [demo-tool, unregister, "{instance}"]
        description: Registers the instance.
  fedora:
    files:
      - {path: /etc/demo/demo.conf, template: demo/demo.conf.j2}
"""
TEMPLATE = "instance={{ instance }} tls={{ tls }} legacy={{ legacy }}\n"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site role folder and a site recipe folder with the demo role."""
    with site_role(tmp_path, monkeypatch, "demo", ROLE, RECIPE, {"demo.conf.j2": TEMPLATE}) as recipe_dir:
        yield recipe_dir


def _facts(units: dict[str, UnitState], family: str = "debian12-bare") -> Facts:
    facts = recorded(family)
    return facts.model_copy(update={"packages": {**facts.packages, "demo": "1.0"}, "units": {**facts.units, **units}})


def _plan(facts: Facts, **given: Any) -> list[Operation]:
    role = load_catalog().role("demo")
    wanted = Wanted(role, resolve_settings(role, given, "test"))
    family = facts.family
    assert family is not None
    return plan_role(wanted, facts, HostState(), family, backend_for(facts))


def _op(ops: list[Operation], kind: OpKind, target: str) -> Operation:
    return next(op for op in ops if op.kind is kind and op.target == target)


RUNNING = UnitState(enabled="enabled", active="active")


def test_distribution_units_change_with_their_inverse_recorded(site: Path) -> None:
    ops = _plan(_facts({"demo-default.service": RUNNING, "demo-dc.service": UnitState(enabled="masked")}))
    stop = _op(ops, OpKind.STOP, "demo-default.service")
    assert stop.change and stop.commands == [["systemctl", "stop", "demo-default.service"]]
    assert stop.undo == [["systemctl", "start", "demo-default.service"]]
    disable = _op(ops, OpKind.DISABLE, "demo-default.service")
    assert disable.undo == [["systemctl", "enable", "demo-default.service"]]
    unmask = _op(ops, OpKind.UNMASK, "demo-dc.service")
    assert unmask.commands == [["systemctl", "unmask", "demo-dc.service"]]
    assert unmask.undo == [["systemctl", "mask", "demo-dc.service"]]
    # before the role's own units, which start once the distribution's are out of the way
    kinds = [op.kind for op in ops]
    assert kinds.index(OpKind.UNMASK) < kinds.index(OpKind.ENABLE)


def test_units_already_as_wanted_are_no_ops(site: Path) -> None:
    stopped = UnitState(enabled="disabled", active="inactive")
    ops = _plan(_facts({"demo-default.service": stopped, "demo-dc.service": UnitState(enabled="disabled")}))
    assert not _op(ops, OpKind.STOP, "demo-default.service").change
    assert not _op(ops, OpKind.DISABLE, "demo-default.service").change
    assert not _op(ops, OpKind.UNMASK, "demo-dc.service").change


def test_unit_names_take_settings(site: Path) -> None:
    ops = _plan(_facts({}), instance="blue")
    enable = _op(ops, OpKind.ENABLE, "demo@blue.service")
    assert enable.commands == [["systemctl", "enable", "demo@blue.service"]]
    assert load_catalog().role("demo").units_for(Family.DEBIAN, {"instance": "blue"}) == ["demo@blue.service"]


def test_steps_run_in_their_phase_with_their_undo(site: Path) -> None:
    ops = _plan(_facts({}), instance="blue")
    provision, register = _op(ops, OpKind.STEP, "provision"), _op(ops, OpKind.STEP, "register")
    assert provision.commands == [["demo-tool", "provision", "blue"]]
    assert provision.undo == [["demo-tool", "remove", "blue"]] and provision.undo_on_purge
    assert register.undo == [["demo-tool", "unregister", "blue"]] and not register.undo_on_purge
    order = [op.target for op in ops]
    # configured: after the files; running: after the units start
    assert order.index("/etc/demo/demo.conf") < order.index("provision") < order.index("demo@blue.service")
    assert order.index("demo@blue.service") < order.index("register")


def test_only_if_leaves_out_what_a_setting_turns_off(site: Path) -> None:
    off = _op(_plan(_facts({})), OpKind.FILE, "/etc/demo/tls.conf")
    assert not off.change and off.reason == "not needed: tls is off"
    on = _op(_plan(_facts({}), tls=True), OpKind.FILE, "/etc/demo/tls.conf")
    assert on.change and on.content == b"instance=main tls=True legacy=False\n"


def _ledger(undo_on_purge: bool) -> HostState:
    change = Change(
        role=ROLE_ID,
        kind=ChangeKind.STEP,
        target="provision",
        undo=[["demo-tool", "remove", "main"]],
        undo_on_purge=undo_on_purge,
    )
    instance = Instance(role_id=ROLE_ID, role_name="demo", settings={"instance": "main"})
    return HostState(instances={ROLE_ID: instance}, ledger=[change])


def test_an_undo_that_deletes_data_runs_only_with_purge(site: Path) -> None:
    facts, catalog = _facts({}), load_catalog()
    kept = plan_decommission(facts, _ledger(True), catalog, [ROLE_ID], None)
    keep = _op(kept.operations, OpKind.KEEP, "provision")
    assert not keep.change and "--purge runs it" in keep.reason
    purged = plan_decommission(facts, _ledger(True), catalog, [ROLE_ID], Purge("/srv/b", "stamp"))
    assert _op(purged.operations, OpKind.UNDO, "provision").commands == [["demo-tool", "remove", "main"]]
    plain = plan_decommission(facts, _ledger(False), catalog, [ROLE_ID], None)
    assert _op(plain.operations, OpKind.UNDO, "provision").change


def test_a_setting_no_recipe_uses_is_refused_at_load(site: Path) -> None:
    (site / "demo.yaml").write_text(RECIPE.replace("legacy={{ legacy }}", ""))
    (site / "templates" / "demo" / "demo.conf.j2").write_text(TEMPLATE.replace(" legacy={{ legacy }}", ""))
    clear_caches()
    with pytest.raises(BadInput, match=r"demo.yaml: setting 'legacy' of FOSSP-WDSDM is never used by the debian"):
        recipes.load_recipe("demo")


def test_a_setting_given_for_a_family_that_cannot_honour_it_is_refused(site: Path) -> None:
    fedora = _facts({}, "fedora40-bare")
    assert _plan(fedora)  # the default is fine
    with pytest.raises(BadInput, match=r"setting 'legacy' is not honoured on fedora \(only on debian\)"):
        _plan(fedora, legacy=True)


def test_a_site_recipe_cannot_replace_a_packaged_one(site: Path) -> None:
    (site / "nginx.yaml").write_text("role: nginx\nfamilies: {}\n")
    with pytest.raises(BadInput, match=r"nginx.yaml: role 'nginx' has a packaged recipe"):
        recipes.load_recipe("nginx")


def test_a_site_recipe_deploys_and_its_template_is_found(site: Path) -> None:
    assert recipe_files.has_recipe("demo") and "demo" in recipe_files.deployable_roles()
    written = _op(_plan(_facts({})), OpKind.FILE, "/etc/demo/demo.conf")
    assert written.content == b"instance=main tls=False legacy=False\n"
