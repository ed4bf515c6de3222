"""`fossp status` runs a multi-host role's probes as deploy does: only its part's, with
the member's derived values (``{compute_hosts}``), and ``from_part`` probes from a peer of
the run (``{target_address}`` filled), or skipped with the reason, never with a literal
placeholder."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.catalog import load_catalog
from fossp.engine.cluster import ClusterRun
from fossp.engine.state import Instance
from fossp.engine.status import _probe
from fossp.hosts.connector import Result

from .conftest import site_role
from .test_cluster import HOSTS, RECIPE, ROLE, ROLE_ID, TEMPLATE


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with site_role(tmp_path, monkeypatch, "democluster", ROLE, RECIPE, {"cluster.conf.j2": TEMPLATE}):
        yield tmp_path


class _Host:
    """A member's connection: every command passes and is recorded."""

    root = None

    def __init__(self, name: str, address: str) -> None:
        self.name, self.address, self.ran = name, address, []

    async def run(self, argv: list[str], stdin: bytes | None = None, timeout: float | None = None) -> Result:
        self.ran.append(argv)
        return Result(tuple(argv), 0, "ok\n", "")


PARTS = {"lab:n1": "controller", "lab:n2": "compute", "lab:n3": "compute"}
ADDRESSES = {h.name: h.address for h in HOSTS}


def _instance(host: str) -> Instance:
    return Instance(
        role_id=ROLE_ID, role_name="democluster", part=PARTS[host], members=list(PARTS), parts=PARTS, settings={}
    )


def _status(host: str, run: ClusterRun | None, connectors: dict[str, _Host]) -> list[tuple[str, bool | None, str]]:
    role = load_catalog().roles[ROLE_ID]
    results = asyncio.run(_probe(role, _instance(host), connectors[host], run, ADDRESSES))  # type: ignore[arg-type]
    return [(r.name, r.ok, r.output) for r in results]


def test_a_members_status_runs_its_parts_probes_with_derived_values(site: Path) -> None:
    hosts = {h.name: _Host(h.name, h.address) for h in HOSTS}
    assert [(n, ok) for n, ok, _ in _status("lab:n1", None, hosts)] == [("job", True)]
    assert hosts["lab:n1"].ran == [["demo-run", "lab:n2,lab:n3"]]  # a list placeholder, comma-joined


def test_a_from_part_probe_runs_on_a_peer_of_the_run_with_the_target_address(site: Path) -> None:
    hosts = {h.name: _Host(h.name, h.address) for h in HOSTS}
    run = ClusterRun(set(hosts), members=set())
    run.connectors.update(hosts)
    assert [(n, ok) for n, ok, _ in _status("lab:n2", run, hosts)] == [("reach", True)]
    assert hosts["lab:n1"].ran == [["demo-ping", "10.213.0.22"]] and hosts["lab:n2"].ran == []


def test_without_the_peer_in_the_run_the_probe_is_skipped_with_the_reason(site: Path) -> None:
    hosts = {h.name: _Host(h.name, h.address) for h in HOSTS}
    [(name, ok, output)] = _status("lab:n2", None, hosts)
    assert (name, ok) == ("reach", None) and "give its host as a --target too" in output
    assert hosts["lab:n2"].ran == []  # never run with an unfilled {target_address}
