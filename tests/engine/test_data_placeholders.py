"""A data folder's path may name a setting (``{data_root}/db``): the plan makes the filled
folder its subvolume, and decommission keeps (or purges) the same folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.catalog import load_catalog
from fossp.engine import decommission
from fossp.engine.backends import backend_for
from fossp.engine.operations import OpKind
from fossp.engine.planner import Wanted, plan_role
from fossp.engine.state import HostState, Instance
from fossp.selection.profile import resolve_settings

from .conftest import site_role
from .test_recipe_vocabulary import ROLE, ROLE_ID, TEMPLATE, _facts

DATA_ROOT = "  - {name: data_root, type: path, default: /srv/demo, description: Where the data lives.}\n"
RECIPE = """
role: demo
families:
  debian:
    data:
      - {path: "{data_root}/db", why: the instance's database}
    files:
      - {path: /etc/demo/demo.conf, template: demo/demo.conf.j2}
  fedora:
    data:
      - {path: "{data_root}/db", why: the instance's database}
    files:
      - {path: /etc/demo/demo.conf, template: demo/demo.conf.j2}
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    role = ROLE.replace("settings:\n", "settings:\n" + DATA_ROOT)
    template = TEMPLATE + "root={{ data_root }}\n"
    with site_role(tmp_path, monkeypatch, "demo", role, RECIPE, {"demo.conf.j2": template}) as recipe_dir:
        yield recipe_dir


def test_the_plan_makes_the_filled_data_folder_a_subvolume(site: Path) -> None:
    role = load_catalog().role("demo")
    facts = _facts({}).model_copy(update={"root_fs": "btrfs"})
    assert facts.family is not None
    wanted = Wanted(role, resolve_settings(role, {"data_root": "/data/demo"}, "t"))
    ops = plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))
    subvolume = next(op for op in ops if op.kind is OpKind.SUBVOLUME)
    assert subvolume.target == "/data/demo/db"
    assert ["btrfs", "subvolume", "create", "--", "/data/demo/db"] in subvolume.commands


def test_decommission_reads_the_same_folder(site: Path) -> None:
    state = HostState(
        instances={ROLE_ID: Instance(role_id=ROLE_ID, role_name="demo", settings={"data_root": "/data/demo"})}
    )
    paths = decommission.fact_paths(state, [ROLE_ID], _facts({}))
    assert "/data/demo/db" in paths and "/data/demo/db.fossp-kept" in paths
