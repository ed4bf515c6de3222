"""The Ansible export's rendering, on a reference made from recorded Debian 12 facts: the
tasks a PostgreSQL+nginx deploy becomes, no secret in the playbook, YAML that loads, and
a playbook ansible-playbook accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.build.ansible import SECRETS, Entry, Export, Reference, ledger_entry, reference, render, write_export
from fossp.catalog import Family, load_catalog
from fossp.engine.backends import backend_for
from fossp.engine.operations import Operation, OpKind
from fossp.engine.planner import Wanted, plan_role, wanted_roles
from fossp.engine.state import HostState, Instance
from fossp.hosts.facts import Facts, FileFact, UnitState
from fossp.secrets import for_ledger
from tests.conftest import run_fossp
from tests.engine.conftest import generated, recorded

__all__ = ["generated"]  # the engine's fixture: generated secrets in a scratch folder

PACKAGES = {"postgresql": "15+248", "postgresql-client": "15+248", "nginx": "1.22.1-9"}
CONF = "/etc/postgresql/15/main"
PG_CONF = b"# PostgreSQL configuration file\nport = 5432\t\t\t\t# (change requires restart)\nmax_connections = 100\n"
HBA = b"local   all             postgres                                peer\n"


def _debian12(installed: bool) -> Facts:
    """Bare Debian 12, or as the roles' packages leave it: the files they ship, units disabled."""
    facts = recorded("debian12-bare")
    if not installed:
        return facts
    files = {
        f"{CONF}/postgresql.conf": _file(f"{CONF}/postgresql.conf", PG_CONF, "postgres"),
        f"{CONF}/pg_hba.conf": _file(f"{CONF}/pg_hba.conf", HBA, "postgres", "640"),
        "/etc/nginx/sites-enabled/default": FileFact(
            path="/etc/nginx/sites-enabled/default", kind="link", link_target="/etc/nginx/sites-available/default"
        ),
    }
    units = {u: UnitState(enabled="disabled", active="inactive") for u in ("postgresql.service", "nginx.service")}
    return facts.model_copy(update={"packages": {**facts.packages, **PACKAGES}, "files": files, "units": units})


def _file(path: str, content: bytes, owner: str, mode: str = "644") -> FileFact:
    return FileFact(path=path, kind="file", mode=mode, owner=owner, group=owner, content=content)


def _plan(wanted: list[Wanted], facts: Facts) -> list[Operation]:
    return [op for w in wanted for op in plan_role(w, facts, HostState(), Family.DEBIAN, backend_for(facts))]


def make_reference(choices: list[tuple[str, dict[str, Any]]]) -> Reference:
    """What the export takes from a reference root, from recorded facts: the offline plan
    (subvolumes and packages on the bare host; files and units once they are installed),
    then the live plan's starts and running steps."""
    wanted = wanted_roles(load_catalog(), choices, {}, "site.yaml")
    offline = _debian12(False).model_copy(update={"offline_root": "/", "root_fs": "btrfs"})
    first = [op for op in _plan(wanted, offline) if op.change and op.kind in (OpKind.SUBVOLUME, OpKind.PACKAGES)]
    installed = _debian12(True).model_copy(update={"offline_root": "/", "root_fs": "btrfs"})
    second = [op for op in _plan(wanted, installed) if op.change and op.kind not in (OpKind.SUBVOLUME, OpKind.PACKAGES)]
    ops = sorted(first + second, key=lambda op: [w.role.id for w in wanted].index(op.role))
    live = [op for op in _plan(wanted, _debian12(True)) if op.change and op.kind in (OpKind.START, OpKind.STEP)]
    instances = {
        w.role.id: Instance(role_id=w.role.id, role_name=w.role.name, settings=for_ledger(w.role, w.settings))
        for w in wanted
    }
    entries = [Entry(op, ledger_entry(op, "offline")) for op in ops]
    return reference(wanted, entries, live, instances, PACKAGES, "ansible-test")


def _tasks(export: Export) -> list[dict[str, Any]]:
    [play] = yaml.load(export.playbook, Loader=_Loader)
    return list(play["tasks"])


class _Loader(yaml.SafeLoader):
    """YAML as Ansible reads it: ``!unsafe`` is plain text that is never templated."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]


def _named(tasks: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(t for t in tasks if t["name"] == name)


def test_postgresql_and_nginx_become_builtin_tasks() -> None:
    export = render(make_reference([("postgresql", {}), ("nginx", {})]), "site.yaml")
    tasks = _tasks(export)
    modules = {key for t in tasks for key in t if key.startswith("ansible.builtin.")}
    builtin = ("raw", "setup", "assert", "command", "stat", "slurp", "set_fact", "apt", "copy", "file")
    assert modules <= {f"ansible.builtin.{m}" for m in (*builtin, "systemd_service")}
    apt = _named(tasks, "FOSSP-DASPO: install-packages postgresql postgresql-client")["ansible.builtin.apt"]
    assert apt["install_recommends"] is False and apt["name"] == ["postgresql", "postgresql-client"]
    subvolume = _named(tasks, "FOSSP-DASPO: create-subvolume /var/lib/postgresql: btrfs subvolume create")
    assert "fossp_root_fs.stdout == 'btrfs'" in subvolume["when"]
    conf = _named(tasks, f"FOSSP-DASPO: write-file {CONF}/postgresql.conf")
    assert conf["ansible.builtin.copy"]["owner"] == "postgres" and conf["ansible.builtin.copy"]["mode"] == "0644"
    assert "port = 5432" in conf["ansible.builtin.copy"]["content"]
    assert conf["notify"] == ["restart postgresql.service"]
    page = _named(tasks, "FOSSP-WDSNG: write-file /srv/www/fossp/index.html")
    assert "notify" not in page  # reload: false in the recipe
    removed = _named(tasks, "FOSSP-WDSNG: remove-file /etc/nginx/sites-enabled/default")
    assert removed["ansible.builtin.file"] == {"path": "/etc/nginx/sites-enabled/default", "state": "absent"}
    step = _named(tasks, "FOSSP-DASPO: run-step create-database")
    assert step["ansible.builtin.command"]["argv"][-1] == "db=fossp" and step["retries"] == 60
    assert step["ansible.builtin.command"]["stdin_add_newline"] is False
    assert step["when"].endswith("not in fossp_steps_done")
    start = _named(tasks, "FOSSP-WDSNG: start-unit nginx.service")
    assert start["ansible.builtin.systemd_service"] == {"name": "nginx.service", "state": "started"}
    flush = next(i for i, t in enumerate(tasks) if t.get("meta") == "flush_handlers")
    assert flush < tasks.index(start) and flush > tasks.index(page)
    assert tasks[-1]["ansible.builtin.copy"]["dest"] == "/var/lib/fossp/state.json"


def test_the_version_the_paths_assume_is_asserted() -> None:
    tasks = _tasks(render(make_reference([("postgresql", {})]), "pg.yaml"))
    check = _named(tasks, "pg_major is 15, as the paths this playbook writes assume")
    assert check["ansible.builtin.assert"]["that"].endswith("== '15'")
    names = [t["name"] for t in tasks]
    assert names.index(check["name"]) < names.index(f"FOSSP-DASPO: write-file {CONF}/postgresql.conf")
    debian = _named(tasks, "the export was made for Debian 12")["ansible.builtin.assert"]["that"]
    assert "ansible_facts.distribution_major_version == '12'" in debian


def test_the_originals_are_kept_where_the_ledger_undoes_from() -> None:
    ref = make_reference([("postgresql", {})])
    [entry] = [e for e in ref.offline if e.op.target == f"{CONF}/postgresql.conf"]
    assert entry.change is not None
    entry.change.backup = f"/var/lib/fossp/backups/FOSSP-DASPO{CONF}/postgresql.conf"
    tasks = _tasks(render(ref, "pg.yaml"))
    keep = _named(tasks, f"FOSSP-DASPO: write-file {CONF}/postgresql.conf: the original, kept")
    assert keep["ansible.builtin.command"]["argv"] == ["cp", "-a", "--", f"{CONF}/postgresql.conf", entry.change.backup]
    assert keep["ansible.builtin.command"]["creates"] == entry.change.backup


def test_the_state_keeps_what_changed_on_the_host() -> None:
    export = render(make_reference([("postgresql", {}), ("nginx", {})]), "site.yaml")
    [play] = yaml.load(export.playbook, Loader=_Loader)
    ledger = play["vars"]["fossp_ledger"]
    assert {c["run"] for c in ledger} == {"ansible-test"}
    assert [c["kind"] for c in ledger][:2] == ["subvolume", "subvolume"]
    state = play["vars"]["fossp_state"]
    assert state["instances"]["FOSSP-DASPO"]["state"] == "running" and "ledger" not in state
    HostState.model_validate({**state, "ledger": ledger})
    content = play["tasks"][-1]["ansible.builtin.copy"]["content"]
    assert "fossp_ledger[0]] if (fossp_root_fs.stdout == 'btrfs' and not fossp_s0.stat.exists)" in content
    assert "combine({'packages': fossp_after2.stdout_lines" in content
    assert play["tasks"][-1]["ansible.builtin.copy"]["force"] is False


def test_no_secret_is_written_in_the_playbook(tmp_path: Path) -> None:
    password = "Correct-Horse-9-Battery"
    ref = make_reference([("mariadb", {"app_password": password})])
    export = render(ref, "db.yaml")
    assert password not in export.playbook and password.encode().hex() not in export.playbook
    assert password in export.secrets
    step = _named(_tasks(export), "FOSSP-DASMA: run-step create-database")
    assert step["no_log"] is True and "fossp_secret[" in step["ansible.builtin.command"]["stdin"]
    playbook, secrets = write_export(export, tmp_path / "out")
    assert secrets.name == SECRETS and secrets.stat().st_mode & 0o777 == 0o600
    assert playbook.read_text() == export.playbook


def test_jinja_in_a_file_is_never_templated() -> None:
    ref = make_reference([("nginx", {"welcome_text": "{{ 6 * 7 }}"})])
    export = render(ref, "web.yaml")
    assert "!unsafe" in export.playbook
    page = _named(_tasks(export), "FOSSP-WDSNG: write-file /srv/www/fossp/index.html")
    assert "{{ 6 * 7 }}" in page["ansible.builtin.copy"]["content"]


@pytest.mark.skipif(shutil.which("ansible-playbook") is None, reason="ansible-core missing: scripts/setup.d/ansible.sh")
def test_ansible_playbook_accepts_it(tmp_path: Path) -> None:
    export = render(make_reference([("postgresql", {}), ("nginx", {})]), "site.yaml")
    playbook, _ = write_export(export, tmp_path / "out")
    result = subprocess.run(
        ["ansible-playbook", "--syntax-check", "-i", "localhost,", str(playbook)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (["FOSSP-XXSZZ"], "FOSSP-XXSZZ"),
        (["FOSSP-HPSOS"], "spans hosts"),
        (["FOSSP-APSWI"], "is not available on debian"),
    ],
)
def test_roles_the_export_cannot_take_are_refused(tmp_path: Path, roles: list[str], message: str) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("fossp_profile: 1\nroles:\n" + "".join(f"  - id: {r}\n" for r in roles))
    done = run_fossp("export", "ansible", "--profile", str(profile), "-o", str(tmp_path / "out"))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_folder_with_files_needs_force_and_is_left_alone(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("fossp_profile: 1\nroles:\n  - id: FOSSP-DASPO\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.yml").write_text("older\n")
    done = run_fossp("export", "ansible", "--profile", str(profile), "-o", str(tmp_path / "out"), "--json")
    assert done.returncode == 2 and "not empty (give --force" in json.loads(done.stdout)["error"]["message"], done
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.yml"]
