"""The gate governs the catalog without surprises: only a go into Launch or Service Removal
changes a role, a new role is delivered, validated and installed by its launch, and
reading the catalog never writes the gate database."""

from __future__ import annotations

import json
import os
import pty
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from fossp.catalog import load_catalog
from fossp.catalog.schema import CatalogStatus
from fossp.catalog.status import governed_catalog
from fossp.engine.recipe import load_recipe
from fossp.errors import BadInput
from fossp.gate.db import current_revision, open_database
from fossp.gate.errors import Invalid, Refused
from fossp.gate.service import GateService
from tests.conftest import FOSSP, run_fossp
from tests.gate.conftest import PEOPLE, pass_gate

NEW_ROLE = Path(__file__).parent / "newrole"
ROLE_FILE = NEW_ROLE / "intranet-notice.yaml"
RECIPE = NEW_ROLE / "recipe" / "intranet-notice.yaml"
FILES = {"role-definition": str(ROLE_FILE), "role-recipe": str(RECIPE)}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Empty site role and recipe folders; the catalog is loaded afresh before and after."""
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(tmp_path / "roles.d"))
    monkeypatch.setenv("FOSSP_RECIPES_DIR", str(tmp_path / "recipes.d"))
    load_catalog.cache_clear()
    yield tmp_path
    load_catalog.cache_clear()
    load_recipe.cache_clear()


def _propose_new(gate: GateService) -> int:
    view = gate.propose("mai", "Intranet notice", "A notice page", [], new_roles=["FOSSP-WDSIN"])
    assert view["catalog"] == [{"role_id": "FOSSP-WDSIN", "name": None, "new": True, "status": "not in the catalog"}]
    return int(view["id"])


def test_a_new_role_is_delivered_validated_and_installed_by_its_launch(service: GateService, site: Path) -> None:
    app = _propose_new(service)
    for _ in range(6):
        pass_gate(service, app)
    assert service.show(app)["gate"]["phase"] == "testing"
    with pytest.raises(Invalid, match=r"field 'reference': 'role\.yaml': give the absolute path"):
        service.deliver("mai", app, "role-definition", "role.yaml")
    with pytest.raises(Invalid, match="deliver the role file of FOSSP-WDSIN"):
        service.deliver("mai", app, "role-recipe", str(RECIPE))
    for _ in range(2):
        view = pass_gate(service, app, FILES)
    assert view["phase"] == "full-role-validation"
    on_go = view["gate"]["catalog_on_go"]
    installs = [str(site / "roles.d/intranet-notice.yaml"), str(site / "recipes.d/intranet-notice.yaml")]
    installs.append(str(site / "recipes.d/templates/intranet-notice/notice.html.j2"))
    assert on_go["changes"][0]["installs"] == installs
    assert on_go["summary"].startswith("a go here installs FOSSP-WDSIN intranet-notice as a site role (")
    assert not (site / "roles.d").exists()

    view = pass_gate(service, app)
    assert [Path(p).read_text() for p in installs[:2]] == [ROLE_FILE.read_text(), RECIPE.read_text()]
    assert view["catalog"] == [{"role_id": "FOSSP-WDSIN", "name": "intranet-notice", "new": True, "status": "launched"}]
    role = governed_catalog(service.db.url).role("intranet-notice")
    assert role.id == "FOSSP-WDSIN" and role.lifecycle.status is CatalogStatus.LAUNCHED
    assert load_recipe("intranet-notice").families.keys() == {"debian", "fedora"}


def test_a_bad_role_file_is_one_line_naming_file_and_field_and_nothing_is_stored(
    service: GateService, site: Path, tmp_path: Path
) -> None:
    app = _propose_new(service)
    for _ in range(6):
        pass_gate(service, app)
    bad = tmp_path / "bad.yaml"
    cases = {
        "features: [web-server]": ("features: [web-serve]", "field 'features': unknown feature 'web-serve'"),
        "id: FOSSP-WDSIN": ("id: FOSSP-WDSIX", "field 'id': FOSSP-WDSIX is not the role this application proposes"),
        "name: intranet-notice": ("name: nginx", "field 'name': 'nginx' is already used by FOSSP-WDSNG"),
        "port: 80\n    path": ("port: 99999\n    path", "field 'probes.0.port'"),
    }
    audit = len(service.audit())
    for old, (new, message) in cases.items():
        bad.write_text(ROLE_FILE.read_text().replace(old, new))
        with pytest.raises(BadInput) as error:
            service.deliver("mai", app, "role-definition", str(bad))
        assert error.value.message.startswith(f"{bad}: {message}") and "\n" not in error.value.message
    assert len(service.audit()) == audit
    assert service.show(app)["gate"]["deliverables"][3] == {
        "key": "role-definition",
        "title": "Role definition in the catalog schema (packages, units, ports, settings, probes)",
        "required": True,
        "reference": None,
        "provided_by": None,
    }


def test_a_bad_recipe_is_refused_naming_it(service: GateService, site: Path, tmp_path: Path) -> None:
    app = _propose_new(service)
    for _ in range(6):
        pass_gate(service, app)
    service.deliver("mai", app, "role-definition", str(ROLE_FILE))
    folder = tmp_path / "recipe"
    shutil.copytree(RECIPE.parent, folder)
    recipe = folder / "intranet-notice.yaml"
    recipe.write_text(RECIPE.read_text().replace("intranet-notice/notice.html.j2, reload", "nginx/none.j2, reload"))
    with pytest.raises(BadInput, match=f"^{recipe}: .*template nginx/none.j2 not found"):
        service.deliver("mai", app, "role-recipe", str(recipe))
    (folder / "templates/intranet-notice/notice.html.j2").write_text("<p>fixed text</p>\n")
    recipe.write_text(RECIPE.read_text())
    with pytest.raises(BadInput, match=f"^{recipe}: setting 'notice' of FOSSP-WDSIN is never used"):
        service.deliver("mai", app, "role-recipe", str(recipe))


def test_a_launch_that_would_overwrite_a_site_file_is_blocked(service: GateService, site: Path) -> None:
    app = _propose_new(service)
    for _ in range(8):
        pass_gate(service, app, FILES)
    taken = site / "recipes.d/intranet-notice.yaml"
    taken.parent.mkdir()
    taken.write_text("# the site's own\n")
    blocker = f"{taken} exists already; the stage gate does not overwrite a site file"
    assert service.show(app)["gate"]["go_blockers"][-1] == blocker
    with pytest.raises(Refused, match="exists already"):
        pass_gate(service, app)
    assert taken.read_text() == "# the site's own\n"
    assert not (site / "roles.d").exists() and service.role_statuses() == {}


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("FOSSP-WDSNG", "FOSSP-WDSNG is in the catalog already (nginx); name it as a role"),
        ("intranet", "'intranet' is not a role ID"),
        ("FOSSP-QQSIN", "FOSSP-QQSIN: no service has the code QQ"),
    ],
)
def test_a_new_role_id_is_checked(service: GateService, ref: str, message: str) -> None:
    with pytest.raises(Invalid) as error:
        service.propose("mai", "X", "x", [], new_roles=[ref])
    assert error.value.field == "new_roles" and error.value.reason.startswith(message)


# -- the command line, on SQLite ---------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    monkeypatch.setenv("FOSSP_DB", url)
    database = open_database(url)
    gate = GateService(database)
    for name, role in PEOPLE.items():
        gate.add_user(None, name, role, None)
    database.dispose()
    yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _recommended(*words: str) -> list[str]:
    result = run_fossp("recommend", *words, "--json")
    assert result.returncode in (0, 1), result.stderr
    return [role["id"] for role in json.loads(result.stdout)["roles"]]


def test_a_maintainers_proposal_leaves_plan_and_recommend_as_they_were(db: str) -> None:
    before = _recommended("database")
    assert before[0] == "FOSSP-DASPO"
    proposed = run_fossp(
        "gate", "propose", "PostgreSQL 16 stack", "--role", "postgresql", "--summary", "db", "--as", "mai", "--json"
    )
    assert proposed.returncode == 0, proposed.stderr
    assert json.loads(proposed.stdout)["catalog"][0]["status"] == "launched"
    assert _recommended("database") == before
    assert json.loads(run_fossp("roles", "show", "postgresql", "--json").stdout)["lifecycle"]["status"] == "launched"
    planned = run_fossp("plan", "postgresql", "--target", "local", "--set", f"postgresql.port={_free_port()}", "--json")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert [plan["host"] for plan in json.loads(planned.stdout)["plans"]] == ["local"]


def test_a_no_go_does_not_retire(db: str) -> None:
    run_fossp("gate", "propose", "Kea DHCP", "--role", "kea", "--summary", "dhcp", "--as", "mai")
    run_fossp("gate", "review", "Kea DHCP", "--as", "mem", "--recommend", "no-go", "--findings", "not now")
    stopped = run_fossp("gate", "decide", "Kea DHCP", "no-go", "--as", "lia", "--rationale", "not now", "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["state"] == "stopped"
    listed = json.loads(run_fossp("roles", "list", "--json").stdout)["roles"]
    assert next(r["status"] for r in listed if r["name"] == "kea") == "launched"


EXPECTED = "a go here launches FOSSP-APSWI wildfly (now preview)"
DECIDE = ("gate", "decide", "WildFly 31", "go", "--as", "lia", "--rationale", "validated")


def _ready_at_the_launch_gate(url: str) -> None:
    """WildFly (preview in its data file) through eight gates, the ninth ready for a go."""
    database = open_database(url)
    gate = GateService(database)
    app = gate.propose("mai", "WildFly 31", "Java", ["wildfly"])["id"]
    for _ in range(8):
        pass_gate(gate, app)
    launch = gate.show(app)["gate"]
    for item in launch["deliverables"]:
        gate.deliver("mai", app, item["key"], "https://x")
    for item in launch["criteria"]:
        gate.assess("mem", app, item["key"], True)
    for name in ("mem", "qa", "rel"):
        gate.review(name, app, "go", "ok")
    database.dispose()


def test_decide_says_beforehand_what_a_go_changes_and_json_carries_it(db: str) -> None:
    _ready_at_the_launch_gate(db)
    shown = json.loads(run_fossp("gate", "show", "WildFly 31", "--json").stdout)
    assert shown["gate"]["catalog_on_go"]["summary"] == EXPECTED and shown["gate"]["go_blockers"] == []
    assert EXPECTED in run_fossp("gate", "show", "WildFly 31").stdout
    asked = run_fossp(*DECIDE)
    assert asked.returncode == 2
    assert asked.stderr == f"fossp: {EXPECTED}; nothing recorded: give --yes to record the go\n"
    assert json.loads(run_fossp("gate", "show", "WildFly 31", "--json").stdout)["phase"] == "full-role-validation"
    decided = run_fossp(*DECIDE, "--yes", "--json")
    assert decided.returncode == 0, decided.stderr
    assert [(c["role_id"], c["status"]) for c in json.loads(decided.stdout)["catalog_changes"]] == [
        ("FOSSP-APSWI", "launched")
    ]
    listed = json.loads(run_fossp("roles", "list", "--json").stdout)["roles"]
    assert next(r["status"] for r in listed if r["name"] == "wildfly") == "launched"


def _decide_on_a_terminal(answer: str) -> tuple[int, str]:
    """`fossp gate decide ... go` on a pseudo-terminal, answering its question with ``answer``."""
    from tests.cli.test_recommend_settings import _read_until

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    child = subprocess.Popen([*FOSSP, *DECIDE], stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    seen: list[str] = []
    try:
        _read_until(leader, "Record the go?", seen)
        os.write(leader, f"{answer}\n".encode())
        code = child.wait(timeout=60)
    finally:
        child.kill()
        os.close(leader)
    return code, "".join(seen)


def test_on_a_terminal_decide_says_what_a_go_changes_and_asks(db: str) -> None:
    _ready_at_the_launch_gate(db)
    code, seen = _decide_on_a_terminal("n")
    assert code == 1 and EXPECTED in seen.split("Record the go?")[0]
    assert json.loads(run_fossp("gate", "show", "WildFly 31", "--json").stdout)["catalog_changes"] == []
    code, seen = _decide_on_a_terminal("y")
    assert code == 0, seen
    changes = json.loads(run_fossp("gate", "show", "WildFly 31", "--json").stdout)["catalog_changes"]
    assert [c["status"] for c in changes] == ["launched"]


def _state(path: Path) -> tuple[int, bytes]:
    return path.stat().st_mtime_ns, path.read_bytes()


def test_reading_the_catalog_leaves_the_gate_database_untouched(db: str, tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    run_fossp("gate", "propose", "PostgreSQL 16 stack", "--role", "postgresql", "--summary", "db", "--as", "mai")
    before = _state(path)
    reads = [
        ("roles", "list"),
        ("roles", "show", "postgresql"),
        ("recommend", "database"),
        ("lifecycle",),
        ("plan", "postgresql", "--target", "127.0.0.1:9"),  # the discard port: the host fails, exit 1
    ]
    for args in reads:
        assert run_fossp(*args, "--json").returncode in (0, 1)
    assert _state(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gate.db"]

    missing = tmp_path / "none" / "gate.db"
    os.environ["FOSSP_DB"] = f"sqlite:///{missing}"
    for args in reads:
        assert run_fossp(*args, "--json").returncode in (0, 1)
    assert not missing.parent.exists()


def test_reading_never_migrates_an_old_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.gate.test_migrations import _upgrade_to

    url = f"sqlite:///{tmp_path / 'old.db'}"
    _upgrade_to(url, "0003")
    monkeypatch.setenv("FOSSP_DB", url)
    before = _state(tmp_path / "old.db")
    assert run_fossp("roles", "list", "--json").returncode == 0
    assert _state(tmp_path / "old.db") == before
    assert current_revision(create_engine(url)) == "0003"


UNREACHABLE = "postgresql://nobody@127.0.0.1:1/x"


@pytest.mark.parametrize(
    "args",
    [("roles", "list"), ("recommend", "database"), ("gate", "list"), ("gate", "list", "--db", UNREACHABLE)],
)
def test_an_unreachable_database_is_one_line(args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOSSP_DB", UNREACHABLE)
    result = run_fossp(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(f"fossp: gate database {UNREACHABLE}: ") and result.stderr.count("\n") == 1
