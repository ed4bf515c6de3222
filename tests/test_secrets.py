"""Secret settings: masked in every output, private on disk, refused where they would
leak on a host (command arguments, readable files), hashed in the ledger."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from fossp import secrets
from fossp.catalog import Catalog
from fossp.catalog.schema import Role, Setting, SettingType
from fossp.cli import main
from fossp.engine.planner import plan_host, wanted_roles
from fossp.engine.recipe import Recipe, check_secrets
from fossp.engine.state import parse_state
from fossp.errors import BadInput
from fossp.output import console, print_json, table
from fossp.selection.profile import Profile, RoleChoice, load_profile, resolve_settings, save_profile
from tests.conftest import run_fossp
from tests.engine.conftest import recorded

VALUE = "s3cret-Value'with\"quotes\\and-$(x)"
MARIADB = "FOSSP-DASMA"


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Each test starts with no secret registered."""
    values: set[str] = set()
    monkeypatch.setattr(secrets, "_values", values)
    yield values


def mariadb(catalog: Catalog) -> Role:
    return catalog.roles[MARIADB]


def assert_hidden(*texts: str) -> None:
    for text in texts:
        assert VALUE not in text
        assert "s3cret-Value" not in text


# -- masking --------------------------------------------------------------------------


def test_every_output_helper_masks_a_registered_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets.register(VALUE)
    print_json({"settings": {"app_password": VALUE}, "stdin": f"before {VALUE} after", "list": [(VALUE,)]})
    printed = json.loads(capsys.readouterr().out)
    assert printed == {
        "schema_version": 1,
        "settings": {"app_password": secrets.MASK},
        "stdin": f"before {secrets.MASK} after",
        "list": [[secrets.MASK]],
    }
    table(f"title {VALUE}", ["a"], [[VALUE]])  # piped: tab-separated rows, no title
    console().print(f"a line with {VALUE} in it")
    console(stderr=True).print(VALUE)
    out, err = capsys.readouterr()
    assert_hidden(out, err)
    assert out.count(secrets.MASK) == 2
    assert secrets.MASK in err
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # the table a terminal gets, title included
    table(f"title {VALUE}", ["a"], [[VALUE]])
    out, err = capsys.readouterr()
    assert_hidden(out, err)
    assert out.count(secrets.MASK) == 2


def test_the_cli_error_line_masks_secrets(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    secrets.register(VALUE)

    def failing(**_: object) -> None:
        raise BadInput(f"host said: {VALUE} is wrong", where=f"host {VALUE}")

    monkeypatch.setattr(main, "command", lambda: SimpleNamespace(main=failing))
    monkeypatch.setattr(sys, "argv", ["fossp", "deploy"])
    with pytest.raises(SystemExit):
        main.run()
    assert capsys.readouterr().err == f"fossp: host said: {secrets.MASK} is wrong\n"
    monkeypatch.setattr(sys, "argv", ["fossp", "deploy", "--json"])
    with pytest.raises(SystemExit):
        main.run()
    out, err = capsys.readouterr()
    assert json.loads(out)["error"] == {
        "message": f"host said: {secrets.MASK} is wrong",
        "where": f"host {secrets.MASK}",
        "code": "bad_input",
    }
    assert err == ""


def test_short_values_are_never_registered() -> None:
    secrets.register("abc")
    assert not secrets.active()
    assert secrets.redact("abc") == "abc"


def test_a_secret_that_contains_another_is_masked_whole() -> None:
    secrets.register("password1")
    secrets.register("password1-and-more")
    assert secrets.mask("x password1-and-more y") == f"x {secrets.MASK} y"


def test_secret_errors_never_quote_the_value() -> None:
    setting = Setting(name="pw", type=SettingType.SECRET, description="d", pattern="^[a-z]+$")
    for bad, reason in [(12345678, "expected a string"), ("short", "at least 8"), ("NOT-LOWER-CASE", "match")]:
        with pytest.raises(ValueError, match=reason) as caught:
            setting.check(bad)
        assert str(bad) not in str(caught.value)


# -- resolving: values, references, the empty optional secret ----------------------------


def test_resolving_registers_the_secret_and_an_unset_optional_one_is_empty(catalog: Catalog) -> None:
    role = mariadb(catalog)
    assert resolve_settings(role, {}, "t")["app_password"] == ""
    assert "app_password" not in resolve_settings(role, {}, "t", complete=False)
    assert resolve_settings(role, {"app_password": VALUE}, "t")["app_password"] == VALUE
    assert secrets.mask(VALUE) == secrets.MASK


def test_references_are_read_at_use_time(catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    role = mariadb(catalog)
    from_env = {"app_password": {"from_env": "FOSSP_TEST_PW"}}
    assert resolve_settings(role, from_env, "p.yaml", complete=False)["app_password"] == from_env["app_password"]
    with pytest.raises(BadInput, match=r"p.yaml: FOSSP-DASMA setting 'app_password': .*FOSSP_TEST_PW is not set"):
        resolve_settings(role, from_env, "p.yaml")
    monkeypatch.setenv("FOSSP_TEST_PW", VALUE)
    assert resolve_settings(role, from_env, "p.yaml")["app_password"] == VALUE
    assert secrets.active()

    file = tmp_path / "pw"
    file.write_text(VALUE + "\n")
    file.chmod(0o600)
    from_file = {"app_password": {"from_file": str(file)}}
    assert resolve_settings(role, from_file, "p.yaml")["app_password"] == VALUE
    file.chmod(0o644)
    with pytest.raises(BadInput, match=r"setting 'app_password': .*mode 0644.*chmod 600"):
        resolve_settings(role, from_file, "p.yaml")
    with pytest.raises(BadInput, match=r"setting 'app_password': .*missing: cannot read it: No such file"):
        resolve_settings(role, {"app_password": {"from_file": str(tmp_path / "missing")}}, "p.yaml")
    with pytest.raises(BadInput, match="from_env needs an environment variable name"):
        resolve_settings(role, {"app_password": {"from_env": "not a name"}}, "p.yaml", complete=False)


# -- profiles on disk -----------------------------------------------------------------


def test_a_profile_holding_a_secret_is_written_0600(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("old")
    path.chmod(0o644)
    save_profile(Profile(roles=[RoleChoice(id=MARIADB, settings={"app_password": VALUE})]), path, catalog)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_profile(path, catalog).roles[0].settings["app_password"] == VALUE

    referring = Profile(roles=[RoleChoice(id=MARIADB, settings={"app_password": {"from_env": "PW"}})])
    save_profile(referring, path, catalog)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
    assert yaml.safe_load(path.read_text())["roles"][0]["settings"] == {"app_password": {"from_env": "PW"}}


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_recommend_and_profile_check_never_show_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "db.yaml"
    saved = run_fossp("recommend", "mariadb", "--set", f"mariadb.app_password={VALUE}", "--save", str(path), "--json")
    assert saved.returncode == 0, saved.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text())["roles"][0]["settings"]["app_password"] == VALUE  # as typed
    outputs = [saved.stdout, saved.stderr]
    for args in (["recommend", "mariadb", "--set", f"mariadb.app_password={VALUE}"], ["profile", "check", str(path)]):
        for result in (run_fossp(*args), run_fossp(*args, "--json")):
            outputs += [result.stdout, result.stderr]
    assert_hidden(*outputs)
    assert secrets.MASK in saved.stdout

    path.chmod(0o644)
    checked = run_fossp("profile", "check", str(path), "--json")
    assert checked.returncode == 0
    assert "holds secrets (mariadb.app_password) but has mode 0644: chmod 600" in checked.stderr
    assert json.loads(checked.stdout)["warnings"]
    assert_hidden(checked.stdout, checked.stderr)


def test_a_numeric_secret_stays_text() -> None:
    result = run_fossp("recommend", "mariadb", "--set", "mariadb.app_password=12345678", "--json")
    assert result.returncode == 0, result.stderr
    assert "12345678" not in result.stdout


def test_a_bad_secret_is_refused_without_showing_it() -> None:
    result = run_fossp("recommend", "mariadb", "--set", "mariadb.app_password=short")
    assert result.returncode == 2
    assert "setting 'app_password': a secret needs at least 8 characters" in result.stderr
    assert "short" not in result.stderr


# -- plans and the ledger ---------------------------------------------------------------


def test_a_plan_masks_the_secret_it_carries_on_stdin(catalog: Catalog) -> None:
    facts = recorded("debian12-installed")
    wanted = wanted_roles(catalog, [("mariadb", {"app_password": VALUE})], {}, "test")
    plan = plan_host(facts, wanted, parse_state(facts))
    step = next(op for op in plan.operations if op.target == "create-database")
    assert step.stdin == VALUE + "\n"  # the engine gets the value: the host needs it
    assert all(VALUE not in arg for argv in step.commands for arg in argv)
    text = json.dumps(plan.summary())
    assert_hidden(text)
    assert step.summary()["stdin"] == secrets.MASK + "\n"


def test_a_private_files_diff_is_not_shown() -> None:
    from fossp.engine.operations import Operation, OpKind

    diff = "--- a\n+++ b\n+password = 'quoted\\'form'\n"
    private = Operation(role="r", kind=OpKind.FILE, target="/etc/x", reason="missing", mode="640", diff=diff)
    public = private.model_copy(update={"mode": "644"})
    assert private.summary()["diff"] == secrets.MASK
    assert public.summary()["diff"] == diff


def test_the_ledger_keeps_only_a_hash(catalog: Catalog) -> None:
    role = mariadb(catalog)
    settings = resolve_settings(role, {"app_password": VALUE}, "t")
    stored = secrets.for_ledger(role, settings)
    assert stored["app_password"].startswith("sha256:")
    assert stored["app_password"] == secrets.fingerprint(VALUE) != secrets.fingerprint(VALUE + "x")
    assert {k: v for k, v in stored.items() if k != "app_password"} == {
        k: v for k, v in settings.items() if k != "app_password"
    }
    assert secrets.for_ledger(role, resolve_settings(role, {}, "t"))["app_password"] == ""


# -- where a recipe may put a secret ------------------------------------------------------


def _recipe(**family: Any) -> Recipe:
    return Recipe.model_validate({"role": "mariadb", "families": {"debian": family}})


def _step(**fields: Any) -> dict[str, Any]:
    return {"name": "s", "description": "d", "argv": ["true"], **fields}


@pytest.mark.parametrize(
    ("family", "field"),
    [
        ({"steps": [_step(argv=["mysql", "--password={pw}"])]}, "families.debian.steps.0.argv"),
        ({"steps": [_step(creates="/var/{pw}")]}, "families.debian.steps.0.creates"),
        ({"files": [{"path": "/etc/x", "line": "password={pw}"}]}, "families.debian.files.0"),
        ({"files": [{"path": "/etc/{pw}", "dir": True}]}, "families.debian.files.0.path"),
        (
            {"vars": {"dsn": {"text": "user:{pw}@db"}}, "steps": [_step(argv=["client", "{dsn}"])]},
            "families.debian.steps.0.argv",
        ),
        (
            {"files": [{"path": "/etc/x.cnf", "template": "mariadb/fossp.cnf.j2", "mode": "644"}]},
            "families.debian.files.0.template",
        ),
    ],
)
def test_a_recipe_that_would_leak_a_secret_is_refused(family: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as caught:
        check_secrets(_recipe(**family), {"pw", "port"}, "recipes/mariadb.yaml")
    message = caught.value.message
    assert message.startswith(f"recipes/mariadb.yaml: field '{field}': secret setting '")
    assert "pass it on a step's stdin or in a template of mode 0600 or 0640" in message


@pytest.mark.parametrize("mode", ["600", "0640", "400"])
def test_a_secret_may_go_on_stdin_or_into_a_private_template(mode: str) -> None:
    family = {
        "steps": [_step(argv=["mysql", "--batch"], stdin="SET PASSWORD = '{pw}';")],
        "files": [{"path": "/etc/x.cnf", "template": "mariadb/fossp.cnf.j2", "mode": mode}],
    }
    check_secrets(_recipe(**family), {"pw", "port"}, "recipes/mariadb.yaml")


def test_a_probe_may_not_use_a_secret(catalog: Catalog) -> None:
    data = mariadb(catalog).model_dump(mode="json")
    data["probes"][0]["query"] = "SELECT '{app_password}'"
    with pytest.raises(ValueError, match=r"probes\.0 uses secret setting 'app_password'"):
        Role.model_validate(data)


def test_every_password_like_setting_is_secret(catalog: Catalog) -> None:
    words = ("password", "passwd", "secret", "token", "_key", "psk")
    for role in catalog.roles.values():
        for setting in role.settings:
            if any(word in setting.name for word in words):
                assert setting.secret, f"{role.id} {setting.name} should be of type secret"
