"""Health over SNMP, the parts that run without a host: the MIB file against the OIDs the
runner writes and `fossp health` reads, the agent's pass_persist program (real awk, fed
as snmpd feeds it), the roles' checks files (real sh sources them), and which checks a
plan writes or removes (given these facts, expect these operations)."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fossp.catalog import Family, load_catalog
from fossp.engine.operations import OpKind
from fossp.engine.planner import plan_host, wanted_roles
from fossp.engine.recipe import load_recipe
from fossp.engine.render import render_template
from fossp.engine.state import parse_state
from fossp.hosts.facts import FileFact
from fossp.platform.health import (
    MANIFEST_DIR,
    OBJECTS,
    ROOT,
    Status,
    health_checks_ops,
    manifest_text,
    parse_tree,
)
from tests.engine.conftest import recorded

MIB = Path(__file__).parents[2] / "src/fossp/data/mibs/FOSSP-HEALTH-MIB.txt"
STATUS = Path(__file__).parent / "fixtures/health-status.txt"  # written by the runner on a lab host
NET_SNMP_PLAYPEN = "1.3.6.1.4.1.8072.9999.9999"


def test_the_mib_names_the_oids_the_runner_writes_and_fossp_reads() -> None:
    from pysmi.parser import SmiV2Parser

    (module,) = SmiV2Parser().parse(MIB.read_text())
    parents = {"netSnmpPlaypen": NET_SNMP_PLAYPEN}
    columns: dict[str, str] = {}
    for clause in module[3]:
        oid = next((part[1] for part in clause if isinstance(part, tuple) and part[:1] == ("objectIdentifier",)), None)
        if oid is None:
            continue
        parent, number = oid
        parents[clause[1]] = f"{parents[parent]}.{number}"
        if clause[0] == "objectTypeClause" and "read-only" in str(clause):
            columns[clause[1]] = parents[clause[1]]
    assert parents["fosspHealthMIB"] == ROOT
    assert {name: oid.removeprefix(ROOT + ".") for name, oid in columns.items()} == OBJECTS


def test_every_family_s_recipe_serves_the_tree_fossp_reads() -> None:
    recipe = load_recipe("platform")
    assert {recipe.for_family(f).vars["health_root"].text for f in Family} == {ROOT}  # type: ignore[union-attr]


def _pass_persist(tmp_path: Path, status: str) -> Path:
    """The agent's pass_persist program as the platform writes it, reading ``status``."""
    text = render_template("platform/fossp-health-snmp.sh.j2", {"health_root": ROOT}).decode()
    (tmp_path / "status").write_text(status)
    program = tmp_path / "fossp-health-snmp"
    program.write_text(text.replace("/run/fossp-health/status", str(tmp_path / "status")))
    return program


def _ask(program: Path, *requests: str) -> list[str]:
    done = subprocess.run(["sh", str(program)], input="".join(requests), capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _oid(parts: tuple[int, ...]) -> str:
    return "." + ".".join(map(str, parts))


@settings(max_examples=30, deadline=None)
# below 2.: 1.1.0 (the status, stale when old) and 1.3.0 (the age) are computed at the query
@given(st.sets(st.tuples(st.integers(2, 12), st.integers(1, 12), st.integers(0, 12)), min_size=1, max_size=15))
def test_get_next_walks_in_numeric_oid_order(
    tmp_path_factory: pytest.TempPathFactory, rows: set[tuple[int, ...]]
) -> None:
    """snmpd's get-next order is numeric per sub-identifier (…3.9 before …3.10), whatever
    is asked: an OID in the tree, between two, or above the tree."""
    root = tuple(int(n) for n in ROOT.split("."))
    tree = sorted(root + row for row in rows)
    status = f"# {int(time.time())} 60\n" + "".join(f"{_oid(oid)} gauge {i}\n" for i, oid in enumerate(tree))
    program = _pass_persist(tmp_path_factory.mktemp("snmp"), status)
    asked = [root, *tree, (*root, 5), (*root, 13)]
    answers = _ask(program, "PING\n", *(f"getnext\n{_oid(oid)}\n" for oid in asked))
    assert answers[0] == "PONG"
    expected: list[str] = []
    for oid in asked:
        after = [other for other in tree if other > oid]
        expected += [_oid(after[0]), "gauge", str(tree.index(after[0]))] if after else ["NONE"]
    assert answers[1:] == expected


def test_get_answers_only_an_exact_oid_and_writes_nothing(tmp_path: Path) -> None:
    program = _pass_persist(tmp_path, STATUS.read_text())
    name = f".{ROOT}.4.1.3.2"
    answers = _ask(program, f"get\n{name}\n", f"get\n.{ROOT}.4.1.3\n", f"set\n{name}\nstring x\n")
    assert answers == [name, "string", "postgresql", "NONE", "not-writable"]


def test_a_run_three_intervals_old_is_stale_and_its_age_is_counted_at_the_query(tmp_path: Path) -> None:
    old = int(time.time()) - 200
    status = STATUS.read_text().replace(STATUS.read_text().splitlines()[0], f"# {old} 60", 1)
    program = _pass_persist(tmp_path, status)
    answers = _ask(program, f"get\n.{ROOT}.1.1.0\n", f"get\n.{ROOT}.1.3.0\n")
    assert answers[:3] == [f".{ROOT}.1.1.0", "integer", str(Status.STALE.value)]
    assert 200 <= int(answers[5]) <= 210


def test_the_recorded_tree_reads_back_as_host_and_roles() -> None:
    """The runner's output (recorded on a lab host with the platform and PostgreSQL), as the
    agent hands it out: the walk's values keyed below ROOT."""
    values = {}
    for line in STATUS.read_text().splitlines()[1:]:
        oid, _, value = line.split(" ", 2)
        values[oid.removeprefix(f".{ROOT}.")] = value
    health = parse_tree(values)
    assert health.ok and health.host_ok and health.interval == 60
    assert [(r.role_id, r.name, r.ok, r.passed, r.total) for r in health.roles] == [
        ("FOSSP-PLSPL", "platform", True, 7, 7),
        ("FOSSP-DASPO", "postgresql", True, 2, 2),
    ]
    assert [(p.name, p.kind, p.ok) for p in health.roles[1].probes] == [
        ("postgresql.service", "unit", True),
        ("sql-query", "postgresql", True),
    ]
    assert [fs.mount for fs in health.file_systems] == ["/"]
    assert health.memory_total_kb > health.memory_available_kb > 0


def test_postgresql_s_checks_are_its_unit_and_its_query_run_as_on_a_deploy() -> None:
    role = load_catalog().role("postgresql")
    text = manifest_text(role, Family.DEBIAN, {"port": 5432}, None, set())
    assert text.splitlines()[1:] == [
        "role FOSSP-DASPO postgresql",
        "unit postgresql.service",
        "probe sql-query postgresql 5 1 -- env --chdir=/ runuser -u postgres -- psql -X -tA -p 5432 -c 'SELECT 1'",
    ]


def test_network_probes_become_port_checks_and_real_work_stays_off_the_timer() -> None:
    catalog = load_catalog()
    bind = manifest_text(catalog.role("bind"), Family.DEBIAN, {}, None, set())
    assert "listen zone-soa dns udp 53" in bind.splitlines()
    docker = manifest_text(catalog.role("docker"), Family.DEBIAN, {}, None, set())
    assert "probe daemon-info command 20 'Server Version' -- docker info" in docker.splitlines()
    assert "container-run" not in docker  # scheduled: false, a container run every minute is work
    held = manifest_text(catalog.role("platform"), Family.DEBIAN, {}, None, {"chrony.service"})
    assert "unit chrony.service" not in held and "unit snmpd.service" in held


@given(
    st.lists(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=20), max_size=5)
)
@settings(max_examples=40, deadline=None)
def test_a_checks_file_hands_each_word_to_the_runner_as_it_is(words: list[str]) -> None:
    """Sourced by sh, a probe's argv arrives word for word: quotes, $(...), ; and newlines
    are data, never shell text."""
    from fossp.platform.health import _line

    script = 'probe() { shift 5; for a in "$@"; do printf \'%s\\0\' "$a"; done; }\n'
    checks = _line("probe", "p", "command", "5", "", "--", "echo", *words) + "\n"
    done = subprocess.run(["sh", "-c", script + checks], capture_output=True, timeout=10, check=True)
    assert done.stdout.decode().split("\0")[:-1] == ["echo", *words]


def test_shell_quoting_keeps_a_command_substitution_inert(tmp_path: Path) -> None:
    from fossp.platform.health import _line

    marker = tmp_path / "ran"
    checks = _line("probe", "p", "command", "5", "", "--", "echo", f"$(touch {marker})", f"`touch {marker}`")
    subprocess.run(["sh", "-c", "probe() { :; }\n" + checks], check=True, timeout=10)
    assert not marker.exists()
    assert shlex.split(checks)[-1] == f"`touch {marker}`"


def _health_ops(roles: list[str], files: dict[str, bytes] | None = None) -> list[tuple[bool, str, str]]:
    facts = recorded("debian12-bare")
    for path, content in (files or {}).items():
        facts.files[path] = FileFact(path=path, kind="file", mode="644", owner="root", group="root", content=content)
    wanted = wanted_roles(load_catalog(), [(role, {}) for role in roles], {}, "t")
    plan = plan_host(facts, wanted, parse_state(facts))
    return [(op.change, op.target, op.reason) for op in plan.operations if op.kind is OpKind.HEALTH_CHECKS]


def test_checks_are_written_only_where_the_platform_s_timer_runs() -> None:
    assert _health_ops(["postgresql"]) == []
    written = _health_ops(["platform", "postgresql"])
    assert [(change, target) for change, target, _ in written] == [
        (True, f"{MANIFEST_DIR}/platform.conf"),
        (True, f"{MANIFEST_DIR}/postgresql.conf"),
    ]


def test_checks_as_they_are_change_nothing_and_a_left_role_s_are_removed() -> None:
    catalog = load_catalog()
    current = manifest_text(catalog.role("postgresql"), Family.DEBIAN, {"port": 5432}, None, set()).encode()
    ops = _health_ops(["platform", "postgresql"], {f"{MANIFEST_DIR}/postgresql.conf": current})
    assert (False, f"{MANIFEST_DIR}/postgresql.conf", "the role's checks, as they are") in ops
    gone = _health_ops(["platform"], {f"{MANIFEST_DIR}/nginx.conf": b"role FOSSP-WDSNG nginx\n"})
    assert (True, f"{MANIFEST_DIR}/nginx.conf", "its role left the host") in gone
    without = _health_ops(["postgresql"], {f"{MANIFEST_DIR}/postgresql.conf": current})
    assert without == [
        (True, f"{MANIFEST_DIR}/postgresql.conf", "no health timer runs here: the platform is not deployed")
    ]


def test_the_last_checks_to_go_take_their_folders_along() -> None:
    facts = recorded("debian12-bare")
    path = f"{MANIFEST_DIR}/platform.conf"
    facts.files[path] = FileFact(path=path, kind="file", mode="644", owner="root", group="root", content=b"x")
    (op,) = health_checks_ops(facts, [], "FOSSP-PLSPL")
    assert op.commands == [
        ["rm", "-f", "--", path],
        ["rmdir", "--ignore-fail-on-non-empty", "--", MANIFEST_DIR, "/etc/fossp"],
    ]


def test_the_runner_is_valid_posix_shell() -> None:
    values = {"health_root": ROOT, "health_interval": 60, "health_disk_max_percent": 90}
    text = render_template("platform/fossp-health.sh.j2", {**values, "health_memory_min_percent": 5})
    done = subprocess.run(["sh", "-n"], input=text, capture_output=True, timeout=10, env={**os.environ})
    assert done.returncode == 0, done.stderr
