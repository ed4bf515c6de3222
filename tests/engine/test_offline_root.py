"""The dnf backend for real: deploy nginx into an offline Fedora root from a local RPM
repository, deploy again (nothing to do), then decommission back to the root as it was."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.catalog import Catalog
from fossp.engine.apply import DeployFailed, deploy_host, plan_on
from fossp.engine.decommission import decommission_host
from fossp.engine.planner import wanted_roles
from fossp.engine.state import STATE_FILE, HostLock, HostState, Instance, InstanceState
from fossp.errors import BadInput
from fossp.hosts.connector import HostError, RootConnector
from tests.conftest import run_fossp

from .rpmrepo import build_repo, fedora_root, missing_tools

INJECTION_MARKER = Path("/tmp/fossp-root-injected")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = missing_tools()
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: run scripts/setup.d/engine.sh")
    return build_repo(tmp_path_factory.mktemp("rpms"))


@pytest.fixture
def root(repo: Path, tmp_path: Path) -> Iterator[Path]:
    yield fedora_root(tmp_path, repo)


def _snapshot(root: Path) -> tuple[list[str], list[str]]:
    packages = subprocess.run(["rpm", "--root", str(root), "-qa"], capture_output=True, text=True, check=True).stdout
    etc = sorted(str(p.relative_to(root)) for p in (root / "etc").rglob("*"))
    return sorted(packages.split()), etc


def test_deploy_again_and_decommission(root: Path, catalog: Catalog) -> None:
    before = _snapshot(root)
    INJECTION_MARKER.unlink(missing_ok=True)
    wanted = wanted_roles(catalog, [("nginx", {"welcome_text": f"$(touch {INJECTION_MARKER})"})], {}, "test")
    connector = RootConnector(str(root))

    reports: list[str] = []
    outcome = asyncio.run(deploy_host(connector, wanted, reports.append))
    assert outcome.states == {"FOSSP-WDSNG": "ready"}  # an offline root runs nothing: ready, not running
    steps = [line.split(":")[0].split()[1].split("/") for line in reports if line.startswith("step ")]
    assert [int(done) for done, _ in steps] == list(range(1, len(outcome.applied) + 1))  # each change counted
    assert int(steps[-1][1]) == len(outcome.applied)  # and the count it ends on is the run's
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
    with pytest.raises(BadInput, match="not deployed"):
        asyncio.run(decommission_host(RootConnector(str(root)), catalog, ["postgresql"]))


def test_a_failing_step_stops_the_host_and_keeps_the_ledger(root: Path, catalog: Catalog) -> None:
    (root / "srv").mkdir()
    (root / "srv" / "www").write_text("a file where the site's folder must go\n")
    wanted = wanted_roles(catalog, [("nginx", {})], {}, "test")
    with pytest.raises(DeployFailed) as failure:
        asyncio.run(deploy_host(RootConnector(str(root)), wanted))
    assert "mkdir" in failure.value.message and "/srv/www/fossp" in failure.value.message
    assert [op.kind.value for op in failure.value.outcome.applied] == ["install-packages", "write-file"]
    state = HostState.model_validate_json((root / STATE_FILE.lstrip("/")).read_text())
    assert state.instances["FOSSP-WDSNG"].state is InstanceState.ERROR
    # Write-ahead: the folder that failed to appear is in the ledger too, as begun but not done.
    assert [(c.kind.value, c.status.value) for c in state.ledger] == [
        ("packages", "done"),
        ("file", "done"),
        ("dir", "interrupted"),
    ]
    assert state.run is None  # the run ended (in error): it is not reported as interrupted
    undone = asyncio.run(decommission_host(RootConnector(str(root)), catalog, ["nginx"]))
    assert undone.removed_packages == ["nginx", "nginx-filesystem"]


def test_the_lock_keeps_a_second_run_off_the_host(root: Path) -> None:
    async def scenario() -> None:
        async with HostLock(RootConnector(str(root))):
            with pytest.raises(HostError, match="another FOSSP run holds the lock"):
                async with HostLock(RootConnector(str(root))):
                    pass
        async with HostLock(RootConnector(str(root))):  # released: free again
            pass

    asyncio.run(scenario())


def test_a_crashed_runs_lock_is_taken_over(root: Path) -> None:
    lock = root / "run/fossp/lock"
    lock.mkdir(parents=True)
    (lock / "owner").write_text(f"{socket.gethostname()} 999999999 2026-01-01T00:00:00+00:00\n")

    async def scenario() -> None:
        async with HostLock(RootConnector(str(root))):
            assert str(os.getpid()) in (lock / "owner").read_text()

    asyncio.run(scenario())


def test_cli_plan_deploy_status_decommission(root: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(f"fossp_inventory: 1\nhosts:\n  image: {{connection: root, address: {root}}}\n")
    common = ["--inventory", str(inventory), "--target", "image", "--json"]
    planned = run_fossp("plan", "nginx", *common)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["plans"][0]["changes"] == 5  # no unit starts in an offline root
    deployed = run_fossp("deploy", "nginx", "--set", "nginx.http_port=8080", *common)
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["hosts"][0]["states"] == {"FOSSP-WDSNG": "ready"}
    assert "listen 8080 default_server;" in (root / "etc/nginx/conf.d/fossp.conf").read_text()
    status = json.loads(run_fossp("status", *common).stdout)
    assert [(r["name"], r["state"]) for r in status["hosts"][0]["roles"]] == [("nginx", "ready")]
    listed = json.loads(run_fossp("inventory", "list", "--inventory", str(inventory), "--json").stdout)
    assert listed["hosts"][0]["connection"] == "root"
    assert run_fossp("decommission", "--yes", *common).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deploy", "--target", "local"], "no roles given"),
        (["deploy", "nosuchrole", "--target", "local"], "unknown role 'nosuchrole'"),
        (["plan", "nginx", "--set", "nginx.http_port=99999", "--target", "local"], "http_port"),
        (["plan", "nginx", "--set", "nginx=1", "--target", "local"], "expected ROLE.SETTING=VALUE"),
        (["plan", "nginx"], "no hosts to act on"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_fossp(*args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_decommission_refuses_a_role_another_role_requires(tmp_path: Path, catalog: Catalog) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text("ID=fedora\nVERSION_ID=40\n")
    state = HostState(
        instances={
            role_id: Instance(role_id=role_id, role_name=catalog.roles[role_id].name)
            for role_id in ("FOSSP-DASPO", "FOSSP-BASBA")
            if role_id in catalog.roles
        }
    )
    assert len(state.instances) == 2
    (tmp_path / STATE_FILE.lstrip("/")).parent.mkdir(parents=True)
    (tmp_path / STATE_FILE.lstrip("/")).write_text(state.model_dump_json())
    with pytest.raises(BadInput, match=r"Bacula .* requires FOSSP-DASPO"):
        asyncio.run(decommission_host(RootConnector(str(tmp_path)), catalog, ["postgresql"]))
    assert HostState.model_validate_json((tmp_path / STATE_FILE.lstrip("/")).read_text()) == state


def test_human_output_legend_diff_and_roles_by_name_and_id(root: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(f"fossp_inventory: 1\nhosts:\n  image: {{connection: root, address: {root}}}\n")
    common = ["nginx", "--set", "nginx.http_port=8080", "--inventory", str(inventory), "--target", "image"]
    planned = run_fossp("plan", *common, "--diff")
    assert planned.returncode == 0, planned.stderr
    lines = planned.stdout.splitlines()
    assert "+ will change   ~ decided again after the changes before it   = already as wanted (why)" in lines
    config = next(i for i, line in enumerate(lines) if "/etc/nginx/conf.d/fossp.conf" in line)
    assert lines[config].lstrip().startswith("+ ")
    assert any(line.startswith("      +") and "listen 8080" in line for line in lines[config:])
    assert "listen 8080" not in run_fossp("plan", *common).stdout  # the diff only with --diff

    deployed = run_fossp("deploy", *common)
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.splitlines()[-1].split("\t")[::3] == ["image", "nginx (FOSSP-WDSNG) ready"]
    status = run_fossp("status", "--inventory", str(inventory), "--target", "image")
    row = next(line.split("\t") for line in status.stdout.splitlines() if line.startswith("image\tnginx"))
    assert row[1:3] == ["nginx (FOSSP-WDSNG)", "ready"]
    assert "http-get skipped" in row[4]  # an offline root serves nothing to probe
    assert status.stdout.splitlines()[-1].split("\t")[:2] == ["image", "ok"]
    assert run_fossp("decommission", "--yes", "--inventory", str(inventory), "--target", "image").returncode == 0


def test_a_failed_host_and_a_role_in_error_are_the_hosts_result(root: Path, tmp_path: Path) -> None:
    """A deploy that fails on a host: its JSON entry's error says host_failed there. A role
    whose package went away since: `status` shows it in error, the host's result ERROR
    (not "ok") and exits 1."""
    (root / "srv").mkdir()
    (root / "srv" / "www").write_text("a file where the site's folder must go\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(f"fossp_inventory: 1\nhosts:\n  image: {{connection: root, address: {root}}}\n")
    reach = ["--inventory", str(inventory), "--target", "image"]
    failed = run_fossp("deploy", "nginx", *reach, "--json")
    assert failed.returncode == 1, failed.stderr
    [host] = json.loads(failed.stdout)["hosts"]
    assert (host["ok"], host["error"]["code"], host["error"]["where"]) == (False, "host_failed", "image")
    assert "/srv/www/fossp" in host["error"]["message"]
    (root / "srv" / "www").unlink()
    assert run_fossp("deploy", "nginx", *reach).returncode == 0
    subprocess.run(["rpm", "--root", str(root), "-e", "--nodeps", "--noscripts", "nginx"], check=True)
    status = run_fossp("status", *reach)
    assert status.returncode == 1, status.stderr
    row = next(line.split("\t") for line in status.stdout.splitlines() if line.startswith("image\tnginx"))
    assert row[1:3] == ["nginx (FOSSP-WDSNG)", "error"] and "nginx" in row[6]
    assert status.stdout.splitlines()[-1].split("\t")[:2] == ["image", "ERROR"]
