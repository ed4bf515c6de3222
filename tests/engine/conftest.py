"""Engine test helpers: recorded facts, a plan rendered as comparable lines, and a site role
with its recipe installed for a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fossp import secrets
from fossp.engine.operations import Operation, Plan
from fossp.hosts.facts import Facts, parse_facts
from fossp.hosts.inventory import HostSpec

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_DHCP = {
    "subnet": "192.0.2.0/24",
    "range_start": "192.0.2.100",
    "range_end": "192.0.2.200",
    "router": "192.0.2.1",
    "dns_servers": ["192.0.2.1"],
    "domain_name": "fossp.test",
}
#: What a site gives for the settings that have no default (``required``: a subnet, a
#: realm, a floating address), here in the documentation network and the test realm.
SITE_VALUES: dict[str, dict[str, Any]] = {
    "kea": _DHCP,
    "isc-dhcp": _DHCP,
    "samba-ad": {"realm": "SAMDOM.FOSSP.TEST", "domain": "SAMDOM"},
    "corosync-ha": {"virtual_ip": "192.0.2.10"},
    "lvs": {"virtual_ip": "192.0.2.10"},
}


def site_values(role_name: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The role's required settings as a site gives them, then ``settings`` over them."""
    return {**SITE_VALUES.get(role_name, {}), **(settings or {})}


def recorded(name: str) -> Facts:
    """Facts parsed from a recorded run of the facts script (``fixtures/NAME.facts``)."""
    return parse_facts(name, (FIXTURES / f"{name}.facts").read_text())


@pytest.fixture(autouse=True)
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Generated secrets in a scratch folder, never the controller's."""
    monkeypatch.setattr(secrets, "GENERATED_DIR", tmp_path / "secrets")
    return tmp_path / "secrets"


def cluster_plans(
    role_id: str,
    placed: dict[str, list[str]],
    hosts: list[HostSpec],
    settings: dict[str, Any] | None = None,
    facts_name: str = "fedora40-bare",
) -> dict[str, list[Operation]]:
    """Each member's plan of a multi-host role placed on ``hosts`` ({part: [names]}), all on
    the same recorded facts; hosts the placement leaves out have no plan."""
    from fossp.catalog import load_catalog
    from fossp.engine.backends import backend_for
    from fossp.engine.cluster import layout
    from fossp.engine.planner import plan_role, wanted_roles
    from fossp.engine.state import HostState

    catalog = load_catalog()
    work = layout(catalog, [(role_id, settings or {})], {role_id: placed}, hosts, "p.yaml")
    facts = recorded(facts_name)
    assert facts.family is not None
    plans = {}
    for name, host in work.items():
        if host.choices:
            [wanted] = wanted_roles(catalog, host.choices, {}, name, host.memberships)
            plans[name] = plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))
    return plans


def plan_lines(plan: Plan) -> list[str]:
    """``+`` a change, ``=`` a no-op, ``~`` decided after earlier changes: as `fossp plan` shows."""
    return [f"{'~' if op.pending else '+' if op.change else '='} {op.kind.value} {op.target}" for op in plan.operations]


def clear_caches() -> None:
    """Forget the loaded catalog, recipes and templates (a test changed the site's folders)."""
    from fossp.catalog import load_catalog
    from fossp.engine import recipe, render

    for cached in (load_catalog, recipe.load_recipe, recipe._template_names, render._environment):
        cached.cache_clear()


@contextmanager
def site_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, role: str, recipe: str, templates: dict[str, str]
) -> Iterator[Path]:
    """The site role ``name`` (role file and recipe, templates by file name) in
    FOSSP_ROLES_DIR and FOSSP_RECIPES_DIR; yields the recipe folder."""
    roles, recipe_dir = tmp_path / "roles.d", tmp_path / "recipes.d"
    (recipe_dir / "templates" / name).mkdir(parents=True)
    roles.mkdir()
    (roles / f"{name}.yaml").write_text(role)
    (recipe_dir / f"{name}.yaml").write_text(recipe)
    for file, text in templates.items():
        (recipe_dir / "templates" / name / file).write_text(text)
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(roles))
    monkeypatch.setenv("FOSSP_RECIPES_DIR", str(recipe_dir))
    clear_caches()
    try:
        yield recipe_dir
    finally:
        monkeypatch.undo()
        clear_caches()
