"""Bad input to deploys of multi-host and site roles: one line naming the file or the
setting, exit 2, and no host reached (the inventory's hosts are the discard port on
loopback: a command that reached one would fail in another way, with exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_fossp

HPC = "FOSSP-HPSOS"


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yaml"
    hosts = {name: {"address": "127.0.0.1", "port": 9} for name in ("n1", "n2", "n3")}
    path.write_text(yaml.safe_dump({"fossp_inventory": 1, "hosts": hosts}))
    return path


def _deploy(tmp_path: Path, inventory: Path, role: dict[str, object], *extra: str) -> tuple[int, list[str]]:
    profile = tmp_path / "p.yaml"
    profile.write_text(yaml.safe_dump({"fossp_profile": 1, "roles": [role]}))
    result = run_fossp("deploy", "--profile", str(profile), "-i", str(inventory), "--target", "all", *extra)
    return result.returncode, result.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ({"controller": ["n1"], "compute": []}, f"p.yaml: {HPC} needs at least 1 host(s) as compute"),
        ({"controller": ["n1", "n2"], "compute": ["n3"]}, f"{HPC} takes at most 1 host(s) as controller, not 2"),
        ({"controller": ["n1"], "compute": ["n4"]}, "places compute on 'n4', which is not a target"),
        ({"controller": ["n1"], "workers": ["n2"]}, "has no part 'workers'"),
    ],
)
def test_a_cluster_role_placed_wrongly_is_refused_before_any_host(
    tmp_path: Path, inventory: Path, hosts: dict[str, list[str]], message: str
) -> None:
    code, lines = _deploy(tmp_path, inventory, {"id": HPC, "hosts": hosts})
    assert code == 2
    assert len(lines) == 1 and message in lines[0], lines


def test_an_unknown_setting_of_a_cluster_role_is_named(tmp_path: Path, inventory: Path) -> None:
    code, lines = _deploy(
        tmp_path,
        inventory,
        {"id": HPC, "settings": {"slurm_port": 1}, "hosts": {"controller": ["n1"], "compute": ["n2"]}},
    )
    assert code == 2
    assert len(lines) == 1 and "slurm_port" in lines[0] and "p.yaml" in lines[0], lines


def test_a_site_recipe_that_does_not_validate_is_named(inventory: Path, site_roles: Path) -> None:
    (site_roles / "site-web.yaml").write_text("role: site-web\nfamilies: {debian: {steps: [{name: x}]}}\n")
    result = run_fossp("deploy", "site-web", "-i", str(inventory), "--target", "n1")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1 and str(site_roles / "site-web.yaml") in lines[0], lines
