"""End-to-end: a role the catalog does not have is proposed through the stage gate, its role
file and recipe delivered, taken through every gate to Launch, installed as a site role by
that go, then planned and deployed to a lab host, where its probe reads its page back.
Meanwhile a maintainer's proposal for PostgreSQL leaves PostgreSQL planned as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.gate.db import open_database
from fossp.gate.service import GateService
from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp
from tests.gate.conftest import PEOPLE, pass_gate

from .conftest import fossp_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
NEW_ROLE = Path(__file__).parent.parent / "gate" / "newrole"
hosts = lab_fixture("gv-a", packages=("nginx", *role_packages(["postgresql"])), scope="module")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A gate database with the participants, and empty site folders, for every command."""
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    for name, value in {
        "FOSSP_DB": url,
        "FOSSP_ROLES_DIR": str(tmp_path / "roles.d"),
        "FOSSP_RECIPES_DIR": str(tmp_path / "recipes.d"),
    }.items():
        monkeypatch.setenv(name, value)
    for name, role in PEOPLE.items():
        assert run_fossp("users", "add", name, "--role", role, "--no-password").returncode == 0
    load_catalog.cache_clear()
    yield url
    load_catalog.cache_clear()


def _gate(command: str, *args: str) -> Any:
    return fossp_json("gate", command, *args)


def test_a_new_role_launched_by_the_gate_deploys(hosts: list[LabHost], site: str) -> None:
    host = hosts[0]
    _gate("propose", "PostgreSQL 16 stack", "--role", "postgresql", "--summary", "db", "--as", "mai")
    _gate("propose", "Intranet notice", "--new-role", "FOSSP-WDSIN", "--summary", "page", "--as", "mai")
    assert run_fossp("roles", "show", "intranet-notice").returncode == 2  # not in the catalog yet

    db = open_database(site)
    gate = GateService(db)
    files = {"role-definition": str(NEW_ROLE / "intranet-notice.yaml")}
    files["role-recipe"] = str(NEW_ROLE / "recipe" / "intranet-notice.yaml")
    for _ in range(6):
        pass_gate(gate, "Intranet notice")
    for key, path in files.items():  # the Testing gate's role file and recipe, from the command line
        _gate("deliver", "Intranet notice", key, "--ref", path, "--as", "mai")
    pass_gate(gate, "Intranet notice", files)
    pass_gate(gate, "Intranet notice", files)
    view = gate.show("Intranet notice")
    gate_view = view["gate"]
    for item in gate_view["deliverables"]:
        gate.deliver("mai", "Intranet notice", item["key"], "https://docs.example/launch")
    for item in gate_view["criteria"]:
        gate.assess("mem", "Intranet notice", item["key"], True)
    for role, name in (("member", "mem"), ("qa", "qa"), ("releng", "rel")):
        assert role in gate_view["required_reviews"]
        gate.review(name, "Intranet notice", "go", "validated on a clean host")
    db.dispose()

    summary = fossp_json("gate", "show", "Intranet notice")["gate"]["catalog_on_go"]["summary"]
    assert summary.startswith("a go here installs FOSSP-WDSIN intranet-notice as a site role")
    launched = _gate("decide", "Intranet notice", "go", "--as", "lia", "--rationale", "validated", "--yes")
    assert launched["phase"] == "launch"
    assert [(c["role_id"], c["status"]) for c in launched["catalog_changes"]] == [("FOSSP-WDSIN", "launched")]

    shown = fossp_json("roles", "show", "intranet-notice")
    assert shown["id"] == "FOSSP-WDSIN" and shown["lifecycle"]["status"] == "launched"
    plan = fossp_json("plan", "intranet-notice", "--target", host.target)["plans"][0]
    assert plan["changes"] > 0
    deployed = fossp_json("deploy", "intranet-notice", "--target", host.target)["hosts"][0]
    assert deployed["ok"] and deployed["states"] == {"FOSSP-WDSIN": "running"}
    assert {p["name"]: p["ok"] for p in deployed["probes"]} == {"notice-page": True}
    assert "The intranet is up" in ssh(host, "cat", "/var/www/html/notice.html").stdout

    postgres = run_fossp("plan", "postgresql", "--target", host.target, "--json")
    assert postgres.returncode == 0, postgres.stderr
    assert json.loads(postgres.stdout)["plans"][0]["changes"] > 0
