"""Every single-host role with a Fedora recipe, planned with its defaults on recorded
Fedora 40 facts: the exact commands each operation runs (as pyinfra's operation fixtures
do), its file modes and owners, and what is decided only after the packages are in.

``fixtures/fedora40-role-plans.yaml`` holds one entry per role; a recipe change that
changes a command shows up here as a diff to review. Multi-host roles have their own
plan tests (test_hpc_plans.py, test_corosync_plans.py, test_glusterfs_plans.py)."""

from __future__ import annotations

import shlex

import pytest
import yaml

from fossp.catalog import Family, load_catalog
from fossp.engine.backends import backend_for
from fossp.engine.operations import Operation
from fossp.engine.planner import plan_role, wanted_roles
from fossp.engine.recipe_files import deployable_roles
from fossp.engine.state import HostState

from .conftest import FIXTURES, recorded, site_values

EXPECTED: dict[str, list[str]] = yaml.safe_load((FIXTURES / "fedora40-role-plans.yaml").read_text())


def _single_host_fedora_roles() -> list[str]:
    catalog = load_catalog()
    return sorted(
        name
        for name in deployable_roles()
        if catalog.role(name).cluster is None and catalog.role(name).available_on(Family.FEDORA)
    )


def describe(op: Operation) -> str:
    """One line: `fossp plan`'s sign, kind and target, then the commands, mode and owner."""
    sign = "~" if op.pending else "+" if op.change else "="
    line = f"{sign} {op.kind.value} {op.target}"
    extras = [shlex.join(command) for command in op.commands]
    if op.mode or op.owner:
        extras.append(f"[{op.mode or '-'} {op.owner or '-'}]")
    if op.stdin is not None:
        extras.append("<stdin>")
    return f"{line}: {' ; '.join(extras)}" if extras else line


def fedora_plan(role: str) -> list[str]:
    catalog = load_catalog()
    facts = recorded("fedora40-bare")
    wanted = wanted_roles(catalog, [(role, site_values(role))], {}, "fedora40.yaml")[0]
    return [describe(op) for op in plan_role(wanted, facts, HostState(), Family.FEDORA, backend_for(facts))]


def test_every_single_host_fedora_role_has_an_expected_plan() -> None:
    assert sorted(EXPECTED) == _single_host_fedora_roles()


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_fedora_plan_runs_exactly_these_commands(role: str) -> None:
    assert fedora_plan(role) == EXPECTED[role]
