"""Fixtures of the gate tests: the same suite on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fossp.gate.db import open_database
from fossp.gate.service import GateService
from tests.gate import pg

_numbers = itertools.count()
PASSWORD = "correct horse battery"
PEOPLE = {
    "lia": "liaison",
    "mem": "member",
    "mai": "maintainer",
    "qa": "qa",
    "rel": "releng",
    "vic": "viewer",
    "adm": "admin",
    "opr": "viewer",
}
RIGHTS = {"adm": "administrator", "opr": "operator"}  # every other account is a viewer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    if not pg.available():
        pytest.skip(f"PostgreSQL 15 binaries are not installed ({pg.BIN}); run scripts/setup.d/gate.sh")
    with pg.server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gate.db'}"
    server: str = request.getfixturevalue("postgres_server")
    return pg.fresh_database(server, f"gate_{next(_numbers)}")


@pytest.fixture
def service(db_url: str) -> Iterator[GateService]:
    """A gate service with one account per participant role and an operator (all can sign in)."""
    db = open_database(db_url)
    gate = GateService(db)
    for name, role in PEOPLE.items():
        gate.add_user(None, name, role, PASSWORD, RIGHTS.get(name, "viewer"))
    yield gate
    db.dispose()


def pass_gate(gate: GateService, app: str | int) -> dict[str, Any]:
    """Provide everything the open gate needs, review it as required, and decide go."""
    view = gate.show(app)
    open_gate = view["gate"]
    for item in open_gate["deliverables"]:
        gate.deliver("mai", app, item["key"], f"https://docs.example/{item['key']}")
    for item in open_gate["criteria"]:
        gate.assess("mem", app, item["key"], True)
    reviewers = {"member": "mem", "maintainer": "mai", "qa": "qa", "releng": "rel", "liaison": "lia"}
    for role in open_gate["required_reviews"]:
        gate.review(reviewers[role], app, "go", f"{role} is satisfied")
    return gate.decide("lia", app, "go", "all deliverables and criteria are in order")
