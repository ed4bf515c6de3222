"""The real `fossp` command line: JSON output, exit codes, and bad input that writes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_fossp


def test_roles_list_json_and_filters() -> None:
    done = run_fossp("roles", "list", "--service", "database", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["roles"]
    assert {r["id"] for r in rows} >= {"FOSSP-DASPO"}
    assert all((r["service"], r["service_name"]) == ("database", "Database Services") for r in rows)
    shown = json.loads(run_fossp("roles", "show", rows[0]["id"], "--json").stdout)
    assert shown["service"] == "database"  # the same field, the same value, in roles list and roles show
    deployable = {r["id"]: r["deployable"] for r in rows}
    assert deployable["FOSSP-DASPO"] is True


def test_roles_list_says_which_roles_fossp_can_deploy(site_roles: Path) -> None:
    rows = {r["name"]: r for r in json.loads(run_fossp("roles", "list", "--json").stdout)["roles"]}
    assert rows["nginx"]["deployable"] is True and rows["samba-ad"]["deployable"] is True
    assert rows["asterisk"]["deployable"] is True  # a Fedora recipe (no Debian 12 package)
    assert rows["site-web"]["deployable"] is False  # a site role with no recipe


def test_roles_show_by_id_and_by_name_agree() -> None:
    by_id = json.loads(run_fossp("roles", "show", "FOSSP-DASPO", "--json").stdout)
    by_name = json.loads(run_fossp("roles", "show", "PostgreSQL", "--json").stdout)
    assert by_id == by_name and by_id["id"] == "FOSSP-DASPO"


def test_lifecycle_prints_the_seed_table() -> None:
    done = run_fossp("lifecycle")
    assert done.returncode == 0
    for text in ("Server Role ID", "FOSSP-APSWI", "01-112615", "2015-10-26", "Not announced"):
        assert text in done.stdout
    rows = json.loads(run_fossp("lifecycle", "--json").stdout)["roles"]
    assert set(rows[0]) >= {"release_cycle", "release_date", "eol", "role_id"}


def test_recommend_saves_a_profile_that_loads_and_saves_the_same(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    done = run_fossp("recommend", "database", "web server", "dns", "--set", "nginx.http_port=8080", "--save", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    data = yaml.safe_load(path.read_text())
    assert [r["id"] for r in data["roles"]] == ["FOSSP-DASPO", "FOSSP-WDSNG", "FOSSP-NESBI"]
    assert data["roles"][1]["settings"] == {"http_port": 8080}
    check = run_fossp("profile", "check", str(path), "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["ok"] is True


def test_recommend_conflict_is_a_finding_exit_1() -> None:
    done = run_fossp("recommend", "httpd", "nginx", "--json")
    assert done.returncode == 1
    conflicts = json.loads(done.stdout)["conflicts"]
    assert any("80/tcp" in c["reason"] and c["resolution"] for c in conflicts)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "teleportation"], "unknown feature 'teleportation'"),
        (["recommend", "postgress"], "closest: postgres (postgresql-database)"),
        (["roles", "show", "FOSSP-XXSXX"], "unknown role 'FOSSP-XXSXX'"),
        (["recommend", "web server", "--set", "nginx.http_port=http"], "setting 'http_port': expected an integer"),
        (["recommend", "web server", "--set", "nginx.http_port=0"], "below the minimum 1"),
        (["recommend", "web server", "--set", "nginx=1"], "expected ROLE.SETTING=VALUE"),
        (["roles", "list", "--family", "gentoo"], "--family: 'gentoo' is not one of fedora, debian"),
        (["recommend", "dhcp", "--set", "kea.subnet=10.213.0.5/24"], "is not a network in CIDR form"),
        (["release", "check", "1.x", "2.0"], "'1.x' is not a release version"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    target = tmp_path / "out.yaml"
    extra = ["--save", str(target)] if args[0] == "recommend" else []
    done = run_fossp(*args, *extra)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("fossp: ")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_malformed_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("fossp_profile: 1\nroles:\n- id: FOSSP-DASPO\n  settings: {max_connections: lots}\n")
    before = path.read_bytes()
    done = run_fossp("profile", "check", str(path))
    assert done.returncode == 2
    assert f"{path}: FOSSP-DASPO setting 'max_connections': expected an integer" in done.stderr
    assert path.read_bytes() == before


def test_release_check_refuses_a_major_downgrade_with_exit_1() -> None:
    done = run_fossp("release", "check", "2.0", "1.0", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["allowed"] is False


def test_platform_check_reports_fifteen_components_and_fails_without_systemd() -> None:
    done = run_fossp("platform", "check", "--json")
    (data,) = json.loads(done.stdout)["hosts"]
    assert len(data["components"]) == 15
    with open("/proc/1/comm") as comm:
        has_systemd = comm.read().strip() == "systemd"
    assert done.returncode == (0 if data["ok"] else 1)
    if not has_systemd:
        assert done.returncode == 1


def test_features_lists_the_vocabulary_with_providers() -> None:
    rows = json.loads(run_fossp("features", "--json").stdout)["features"]
    assert {r["feature"] for r in rows} >= {"dns", "web-server", "windows-domain"}
    assert all(r["roles"] for r in rows)


def test_help_is_quick() -> None:
    """Lazy imports keep `fossp --help` instant (a loose bound: CI machines vary)."""
    started = time.perf_counter()
    done = run_fossp("--help")
    assert done.returncode == 0 and "recommend" in done.stdout
    assert time.perf_counter() - started < 3.0
