"""Existing databases upgrade: rows written under an older revision gain what newer code needs."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from fossp.gate.db import MIGRATIONS, open_database
from fossp.gate.service import GateService


def _upgrade_to(url: str, revision: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def _old_application(url: str) -> None:
    """One maintainer's proposal as FOSSP wrote it at revision 0001 (no maintainer rows)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, name, role, created_at) VALUES "
                "(1, 'lia', 'liaison', CURRENT_TIMESTAMP), (2, 'mai', 'maintainer', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO applications (id, name, kind, summary, phase, state, round, lead_id, "
                "proposed_by_id, created_at) VALUES (1, 'Pg', 'application', 'db', NULL, 'active', 1, 1, 2, "
                "CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(text("INSERT INTO application_roles (application_id, role_id) VALUES (1, 'FOSSP-DASPO')"))
    engine.dispose()


def test_a_0001_database_upgrades_its_proposer_maintains_and_its_open_round_is_snapshot(db_url: str) -> None:
    _upgrade_to(db_url, "0001")
    _old_application(db_url)
    db = open_database(db_url)
    gate = GateService(db)
    assert gate.show("Pg")["maintainers"] == ["mai"]
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT phase, round FROM gate_rounds")).all() == [("initiation", 1)]
    assert gate.deliver("mai", "Pg", "proposal", "https://x")["gate"]["deliverables"][0]["reference"] == "https://x"
    db.dispose()


def test_a_0003_database_gives_gate_admins_the_administrator_right_and_others_viewer(db_url: str) -> None:
    _upgrade_to(db_url, "0003")
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, name, role, created_at) VALUES "
                "(1, 'adm', 'admin', CURRENT_TIMESTAMP), (2, 'mem', 'member', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    db = open_database(db_url)
    accounts = {u["name"]: (u["operations"], u["disabled"]) for u in GateService(db).users()}
    assert accounts == {"adm": ("administrator", False), "mem": ("viewer", False)}
    db.dispose()
