"""Only launched roles deploy by default; preview roles on request; retired roles (or dead
upstreams) only with --include-retired, and with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from fossp.engine.recipe_files import deployable_roles
from tests.conftest import run_fossp

UNREACHABLE = ["--target", "127.0.0.1:9"]  # the discard port: nothing listens, nothing is changed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "eucalyptus"], "FOSSP-CLSEU (Eucalyptus) is not offered for deploy: upstream is dead"),
        (["deploy", "wildfly"], "catalog status is preview (use --include-preview"),
        (["deploy", "wildfly", "--include-preview"], "no deploy recipe for it yet"),
        (["deploy", "eucalyptus", "--include-preview"], "upstream is dead"),
        (["deploy", "isc-dhcp"], "upstream is dead (ISC ended maintenance"),
        (["deploy", "isc-dhcp"], "(--include-retired deploys it anyway)"),
        (["deploy", "eucalyptus", "--include-retired", "--include-preview"], "no deploy recipe for it yet"),
    ],
)
def test_roles_not_offered_are_refused_before_any_host_is_reached(args: list[str], message: str) -> None:
    done = run_fossp(*args, *UNREACHABLE)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr


def test_the_stage_gate_decides_what_deploys_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A launched role proposed anew at the gate still deploys; the go into Service Removal
    retires it, and then deploy needs --include-retired."""
    from fossp.gate.db import open_database
    from fossp.gate.service import GateService
    from tests.gate.conftest import PEOPLE, pass_gate

    url = f"sqlite:///{tmp_path / 'gate.db'}"
    monkeypatch.setenv("FOSSP_DB", url)
    gate = GateService(open_database(url))
    for name, role in PEOPLE.items():
        gate.add_user(None, name, role, None)
    assert run_fossp("gate", "propose", "TFTP", "--role", "tftp", "--summary", "boot", "--as", "mai").returncode == 0
    accepted = run_fossp("plan", "tftp", *UNREACHABLE, "--json")
    assert "not offered for deploy" not in accepted.stderr
    assert accepted.returncode == 1  # the role was accepted; the unreachable host is what failed
    for _ in range(11):
        pass_gate(gate, "TFTP")
    gate.db.dispose()
    refused = run_fossp("plan", "tftp", *UNREACHABLE)
    assert refused.returncode == 2 and "catalog status is retired" in refused.stderr


def test_roles_without_a_deploy_recipe_are_refused_not_half_deployed(site_roles: Path) -> None:
    done = run_fossp("deploy", "site-web", *UNREACHABLE)
    assert done.returncode == 2
    deployable = ", ".join(deployable_roles())
    assert f"no deploy recipe for it yet (roles it deploys: {deployable})" in done.stderr
    assert "site-web" not in deployable and "bind" in deployable and "openstack" in deployable


def test_required_roles_are_added_and_said() -> None:
    done = run_fossp("plan", "nginx-rtmp", *UNREACHABLE)
    assert "adding FOSSP-WDSNG (nginx), required by FOSSP-MSSNG" in done.stderr


@pytest.mark.parametrize("command", ["plan", "deploy"])
def test_include_retired_deploys_a_dead_upstream_role_with_a_warning(command: str) -> None:
    done = run_fossp(command, "isc-dhcp", "--include-retired", *UNREACHABLE, "--json")
    assert "not offered for deploy" not in done.stderr
    assert "warning: deploying FOSSP-NESDH (ISC DHCP) although upstream is dead" in done.stderr
    assert done.returncode == 1  # the role was accepted; the unreachable host is what failed
