"""The queue's submitting side against a real PostgreSQL, no worker and no host reached:
bad --queue input, a database without the queue's tables, and shards that end failed
once no worker has run for --queue-wait seconds (cancelled, so none takes them later)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.inprocess import fossp
from tests.gate import pg

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not pg.available(), reason="PostgreSQL server binaries missing")]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with pg.server() as admin:
        yield admin


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """Three hosts at an address nothing answers on: the submitter never connects to them."""
    path = tmp_path / "inventory.yaml"
    path.write_text("fossp_inventory: 1\nhosts:\n" + "".join(f"  h{i}: {{address: 192.0.2.{i}}}\n" for i in range(3)))
    return path


def test_a_queue_that_is_not_postgresql_is_bad_input(inventory: Path) -> None:
    outcome = fossp("plan", "nginx", "-i", str(inventory), "-t", "all", "--queue", "sqlite:///q.db")
    assert outcome.code == 2
    assert "--queue: give a postgresql:// URL" in outcome.stderr


def test_a_database_without_the_queue_names_the_command_that_makes_it(server: str, inventory: Path) -> None:
    url = pg.fresh_database(server, "bare")
    outcome = fossp("plan", "nginx", "-i", str(inventory), "-t", "all", "--queue", url)
    assert outcome.code == 2
    assert "run `fossp queue init --queue URL` once" in outcome.stderr
    assert "fossp@" not in outcome.stderr  # the URL's user (and any password) not shown


def test_with_no_worker_the_queued_shards_fail_after_the_wait_and_are_cancelled(server: str, inventory: Path) -> None:
    import psycopg

    url = pg.fresh_database(server, "idle")
    assert fossp("queue", "init", "--queue", url).code == 0
    args = ("plan", "nginx", "-i", str(inventory), "-t", "all", "--queue", url, "--shard-size", "2")
    outcome = fossp(*args, "--queue-wait", "1", "--json")
    assert outcome.code == 1
    errors = {e["host"]: e["error"]["message"] for e in json.loads(outcome.stdout)["errors"]}
    assert sorted(errors) == ["h0", "h1", "h2"]
    assert all("no worker ran for 1 s" in message for message in errors.values())
    with psycopg.connect(url) as connection:
        statuses = [row[0] for row in connection.execute("SELECT status FROM procrastinate_jobs ORDER BY id")]
    assert statuses == ["cancelled", "cancelled"]
