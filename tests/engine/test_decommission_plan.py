"""Decommission as data: recorded facts and ledger in, operations out (what goes, what is
kept, what is backed up first); then the same plan run against a recorded host, to see
that a failing backup removes nothing and an interrupted entry's failing undo is tolerated."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from fossp.catalog import Catalog
from fossp.engine import decommission
from fossp.engine.decommission import Purge, decommission_host, plan_decommission, removal_question
from fossp.engine.operations import OpKind
from fossp.engine.state import ChangeStatus, HostState, parse_state
from fossp.errors import BadInput
from fossp.hosts.connector import Connector, HostError, Result
from fossp.hosts.facts import Facts, FileFact

from .conftest import FIXTURES, plan_lines, recorded

POSTGRESQL = "FOSSP-DASPO"
PURGE = Purge("/srv/backups", "20261201T120000Z")
FOLDER = "/srv/backups/debian12-deployed/postgresql-20261201T120000Z"
CLUSTER = "/var/lib/postgresql/15/main"


def _facts() -> Facts:
    """The recorded host, with its cluster's folder (the data folder's own is recorded)."""
    facts = recorded("debian12-deployed")
    cluster = FileFact(path=CLUSTER, kind="dir", mode="700", owner="postgres", group="postgres")
    return facts.model_copy(update={"files": {**facts.files, CLUSTER: cluster}})


def _plan(catalog: Catalog, roles: list[str], purge: Purge | None = None) -> Any:
    facts = _facts()
    return plan_decommission(facts, parse_state(facts), catalog, roles, purge)


def test_the_data_is_kept_and_set_aside_while_the_packages_go(catalog: Catalog) -> None:
    plan = _plan(catalog, [POSTGRESQL])
    assert plan_lines(plan)[:5] == [
        "+ restore-file /etc/postgresql/15/main/pg_hba.conf",
        "+ restore-file /etc/postgresql/15/main/postgresql.conf",
        "+ stop-unit postgresql.service",
        "+ keep-data /var/lib/postgresql",
        "+ keep-data /var/log/postgresql",
    ]
    assert plan_lines(plan)[-3:-1] == ["+ put-back-data /var/log/postgresql", "+ put-back-data /var/lib/postgresql"]
    assert plan.kept == ["/var/lib/postgresql", "/var/log/postgresql"]
    keep = next(op for op in plan.operations if op.kind is OpKind.KEEP)
    assert keep.reason.startswith("kept: the database clusters; remove with --purge")
    # Debian's cluster configuration goes into the kept cluster, where the next install adopts it
    assert keep.commands[0] == [
        "cp",
        "-p",
        "--",
        "/etc/postgresql/15/main/postgresql.conf",
        f"{CLUSTER}/postgresql.conf",
    ]
    assert keep.commands[-1][-2:] == ["/var/lib/postgresql", "/var/lib/postgresql.fossp-kept"]
    removal = [op.kind for op in plan.operations]
    assert removal.index(OpKind.KEEP) < removal.index(OpKind.REMOVE_PACKAGES) < removal.index(OpKind.PUT_BACK)


def test_nothing_but_moves_touches_kept_data(catalog: Catalog) -> None:
    """The purge's empty-folder clean-up must not remove the empty folders a cluster needs."""
    plan = _plan(catalog, [POSTGRESQL])
    for op in plan.operations:
        if op.kind in (OpKind.KEEP, OpKind.PUT_BACK):
            continue
        touched = [arg for argv in op.commands for arg in argv if arg.startswith("/var/lib/postgresql")]
        assert touched == [], op
    assert not any(op.kind is OpKind.PURGE for op in plan.operations)


def test_data_an_interrupted_decommission_left_aside_is_put_back(catalog: Catalog) -> None:
    """Killed after the set-aside and the package removal: the next run puts the data back."""
    facts = _facts()
    state = parse_state(facts)
    files = {k: v for k, v in facts.files.items() if not k.startswith("/var/lib/postgresql")}
    files["/var/lib/postgresql.fossp-kept"] = facts.files["/var/lib/postgresql"]
    installed = set(next(c for c in state.ledger if c.role == POSTGRESQL).packages)
    packages = {name: version for name, version in facts.packages.items() if name not in installed}
    plan = plan_decommission(
        facts.model_copy(update={"files": files, "packages": packages}), state, catalog, [POSTGRESQL], None
    )
    assert plan.removing == [] and "+ put-back-data /var/lib/postgresql" in plan_lines(plan)
    assert plan.kept == ["/var/lib/postgresql", "/var/log/postgresql"]


def test_purge_backs_up_first_and_removes_the_data_after_the_packages(catalog: Catalog) -> None:
    plan = _plan(catalog, [POSTGRESQL], PURGE)
    lines = plan_lines(plan)
    assert lines[:2] == [f"+ dump-data {FOLDER}/postgresql.sql", f"+ archive-data {FOLDER}/data.tar"]
    assert lines.index("+ purge-data /var/lib/postgresql") > lines.index(next(x for x in lines if "remove-pack" in x))
    dump, archive = plan.operations[:2]
    assert dump.commands == [
        ["env", "--chdir=/", "runuser", "-u", "postgres", "--", "pg_dumpall", "-p", "5432", "--clean", "--if-exists"]
    ]
    assert archive.commands == [["tar", "-C", "/", "-cf", "-", "--", "var/lib/postgresql", "var/log/postgresql"]]
    assert plan.backups == {POSTGRESQL: FOLDER} and plan.kept == []
    assert plan.restore[f"{FOLDER}/postgresql.sql"][-4:] == ["-p", "5432", "-d", "postgres"]
    assert not any(op.kind in (OpKind.KEEP, OpKind.PUT_BACK) for op in plan.operations)


def test_packages_a_staying_role_needs_are_kept(catalog: Catalog) -> None:
    facts = _facts()
    state = parse_state(facts)
    state.ledger[-1].packages = ["libpq5"]  # as if BIND's install had brought it
    plan = plan_decommission(facts, state, catalog, [POSTGRESQL], None)
    assert plan.kept_packages == ["libpq5"] and "libpq5" not in plan.removing
    assert "= remove-packages libpq5" in plan_lines(plan)


def test_an_interrupted_entry_is_undone_too_but_marked_unsure(catalog: Catalog) -> None:
    facts = _facts()
    state = parse_state(facts)
    hba = next(c for c in state.ledger if c.target.endswith("pg_hba.conf"))
    hba.status = ChangeStatus.INTERRUPTED
    ops = {op.target: op for op in plan_decommission(facts, state, catalog, [POSTGRESQL], None).operations}
    assert ops[hba.target].unsure and "interrupted: it may not have happened" in ops[hba.target].reason
    assert not ops["/etc/postgresql/15/main/postgresql.conf"].unsure


def test_the_question_names_roles_data_and_hosts(catalog: Catalog) -> None:
    assert removal_question([_plan(catalog, [POSTGRESQL])]) == f"Remove {POSTGRESQL} from debian12-deployed?"
    purging = _plan(catalog, [POSTGRESQL], PURGE)
    assert removal_question([purging, purging]) == (
        f"Remove {POSTGRESQL} and their data (/var/lib/postgresql, /var/log/postgresql) "
        "from 2 hosts (debian12-deployed, debian12-deployed)?"
    )


class RecordedHost(Connector):
    """A host that answers the facts script with a recording and runs nothing else: it
    notes every command, and fails those containing one of ``failing``."""

    def __init__(self, state: HostState, failing: tuple[str, ...] = ()) -> None:
        self.name = self.address = "debian12-deployed"
        # An ext4 root: these tests are about the removal, not the snapshots around it.
        text = (FIXTURES / "debian12-deployed.facts").read_text().replace("rootfs@@\nbtrfs", "rootfs@@\next4")
        recorded_state = re.compile(r"(?<===> /var/lib/fossp/state.json <==\n).*?(?=\n==> |\n@@fossp:)", re.S)
        self.facts, found = recorded_state.subn(lambda _: state.model_dump_json(), text, count=1)
        assert found == 1, "the recording holds a state.json to replace"
        self.failing = failing
        self.ran: list[list[str]] = []

    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: BinaryIO | None) -> Result:
        if argv[:2] == ["sh", "-s"]:
            return Result(tuple(argv), 0, self.facts, "")
        self.ran.append(argv)
        failed = any(word in arg for word in self.failing for arg in argv)
        return Result(tuple(argv), 1 if failed else 0, "", "no such unit" if failed else "")

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        self.ran.append(["write", path])


def _state() -> HostState:
    return parse_state(recorded("debian12-deployed"))


def test_a_failing_dump_removes_nothing(catalog: Catalog, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    async def failing_dump(connector: Connector, argv: list[str], destination: Path, timeout: float) -> Result:
        destination.write_bytes(b"partial")
        return Result(tuple(argv), 1, "", "pg_dumpall: error: connection refused")

    monkeypatch.setattr(decommission, "save_output", failing_dump)
    host = RecordedHost(_state())
    with pytest.raises(HostError, match=r"dump-data .* failed, nothing removed: .*connection refused"):
        asyncio.run(decommission_host(host, catalog, ["postgresql"], purge=Purge(str(tmp_path), "T")))
    changes = [a for a in host.ran if a[0] in ("cp", "systemctl", "env") or "/var/lib/postgresql" in a]
    assert changes == []  # only the lock, the removal's dry run and the state were touched
    assert list(tmp_path.rglob("*.sql")) == []  # no partial dump left to be mistaken for one


def test_an_interrupted_entrys_failing_undo_is_a_warning_a_done_ones_a_failure(catalog: Catalog) -> None:
    state = _state()
    hba = next(c for c in state.ledger if c.target.endswith("pg_hba.conf"))
    hba.undo = [["cp", "-a", "--", "/var/lib/fossp/backups/gone", hba.target]]

    with pytest.raises(HostError, match=r"restore-file /etc/postgresql/15/main/pg_hba\.conf failed"):
        asyncio.run(decommission_host(RecordedHost(state, failing=("backups/gone",)), catalog, ["postgresql"]))

    hba.status = ChangeStatus.INTERRUPTED
    host = RecordedHost(state, failing=("backups/gone",))
    undone = asyncio.run(decommission_host(host, catalog, ["postgresql"]))
    assert undone.warnings and "pg_hba.conf" in undone.warnings[0]
    assert undone.removed_packages and any(argv[-1] == "/var/lib/postgresql.fossp-kept" for argv in host.ran)


def test_a_role_that_is_not_deployed_is_refused(catalog: Catalog) -> None:
    with pytest.raises(BadInput, match="not deployed"):
        asyncio.run(decommission_host(RecordedHost(HostState()), catalog, ["postgresql"]))


@pytest.mark.parametrize("left", ["decommissioning", "error"])
def test_a_decommission_that_began_before_undoes_everything_leniently(catalog: Catalog, left: str) -> None:
    """Killed (the role still decommissioning) or failed midway (in error, saying so): any
    undo may have run already, so each one tolerates "already gone"; a fresh one does not."""
    from fossp.engine.decommission import DECOMMISSION_FAILED
    from fossp.engine.state import InstanceState

    facts = _facts()
    fresh = plan_decommission(facts, parse_state(facts), catalog, [POSTGRESQL], None)
    assert not any(getattr(op, "unsure", False) for op in fresh.operations if op.kind is OpKind.RESTORE)

    state = parse_state(facts)
    message = f"{DECOMMISSION_FAILED}lost the host" if left == "error" else None
    state.set_state(POSTGRESQL, InstanceState(left), message)
    resumed = plan_decommission(facts, state, catalog, [POSTGRESQL], None)
    restores = [op for op in resumed.operations if op.kind is OpKind.RESTORE]
    assert restores and all(op.unsure and "may be undone already" in op.reason for op in restores)


def test_packages_that_other_packages_came_to_need_stay(catalog: Catalog) -> None:
    """A package installed since (the platform's sssd needs PostgreSQL's libldap) depends on
    some of what FOSSP installed for the role: those stay, named with why; the rest goes."""
    facts = _facts()
    state = parse_state(facts)
    everything = plan_decommission(facts, state, catalog, [POSTGRESQL], None).removing
    kept = everything[:2]
    plan = plan_decommission(facts, state, catalog, [POSTGRESQL], None, frozenset(kept))
    assert plan.kept_packages == kept and plan.removing == everything[2:]
    staying = next(op for op in plan.operations if op.kind is OpKind.REMOVE_PACKAGES and not op.change)
    assert (staying.target, staying.reason) == (", ".join(kept), "kept: a role or package that stays needs them")


def test_a_stop_waits_for_the_units_that_are_part_of_it(catalog: Catalog) -> None:
    """Debian's postgresql.service returns before postgresql@15-main (PartOf it) has
    stopped: the stop stops those too, which waits, before the data moves."""
    stop = next(op for op in _plan(catalog, [POSTGRESQL]).operations if op.kind is OpKind.STOP)
    assert stop.commands[-1] == ["sh", "-c", decommission.STOP_PARTS, "stop-parts", "postgresql.service"]
