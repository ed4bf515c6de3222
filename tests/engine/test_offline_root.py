"""The dnf backend for real: deploy nginx into an offline Fedora root from a local RPM
repository, deploy again (nothing to do), then decommission back to the root as it was."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.catalog import Catalog
from fossp.engine.apply import deploy_host, plan_on
from fossp.engine.decommission import decommission_host
from fossp.engine.planner import wanted_roles
from fossp.engine.state import STATE_FILE, HostState
from fossp.hosts.connector import RootConnector

from .rpmrepo import build_repo, fedora_root, missing_tools

INJECTION_MARKER = Path("/tmp/fossp-root-injected")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: run scripts/setup.d/engine.sh")
    folder = tmp_path_factory.mktemp("fedora")
    yield fedora_root(folder, build_repo(folder))


def _snapshot(root: Path) -> tuple[list[str], list[str]]:
    packages = subprocess.run(["rpm", "--root", str(root), "-qa"], capture_output=True, text=True, check=True).stdout
    etc = sorted(str(p.relative_to(root)) for p in (root / "etc").rglob("*"))
    return sorted(packages.split()), etc


def test_deploy_again_and_decommission(root: Path, catalog: Catalog) -> None:
    before = _snapshot(root)
    INJECTION_MARKER.unlink(missing_ok=True)
    wanted = wanted_roles(catalog, [("nginx", {"welcome_text": f"$(touch {INJECTION_MARKER})"})], {}, "test")
    connector = RootConnector(str(root))

    outcome = asyncio.run(deploy_host(connector, wanted))
    assert outcome.states == {"FOSSP-WDSNG": "ready"}  # an offline root runs nothing: ready, not running
    assert [p.ok for p in outcome.probes] == [None]
    state = HostState.model_validate_json((root / STATE_FILE.lstrip("/")).read_text())
    assert state.ledger[0].packages == ["nginx", "nginx-filesystem"]
    page = (root / "srv/www/fossp/index.html").read_text()
    assert f"$(touch {INJECTION_MARKER})" in page and not INJECTION_MARKER.exists()
    assert (root / "etc/systemd/system/multi-user.target.wants/nginx.service").is_symlink()
    assert "default_server" in (root / "etc/nginx/conf.d/fossp.conf").read_text()

    plan = asyncio.run(plan_on(connector, wanted))[2]
    assert plan.changes == []

    undone = asyncio.run(decommission_host(connector, catalog, []))
    assert undone.removed_packages == ["nginx", "nginx-filesystem"]
    assert _snapshot(root) == before
    assert not (root / "srv/www/fossp").exists()


def test_decommission_of_a_role_not_deployed_changes_nothing(root: Path, catalog: Catalog) -> None:
    from fossp.errors import BadInput

    with pytest.raises(BadInput, match="not deployed"):
        asyncio.run(decommission_host(RootConnector(str(root)), catalog, ["postgresql"]))
