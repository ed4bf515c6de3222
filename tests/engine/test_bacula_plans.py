"""The Bacula role planned on recorded Fedora 40 facts: a director (bacula-dir, bacula-sd,
bconsole, the catalog) and a client placed by a profile, each member's exact commands and
files: the catalog library picked with alternatives, the catalog made in PostgreSQL with
its password on psql's stdin only, the daemons' generated passwords shared and private
(0640 root:bacula), one Client resource per member. Debian's preinstall step (the answer
bacula-director's install script needs beside dbconfig-no-thanks) is planned before the
packages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fossp.catalog import load_catalog
from fossp.engine.backends import backend_for
from fossp.engine.cluster import layout
from fossp.engine.operations import Operation
from fossp.engine.planner import plan_role, wanted_roles
from fossp.engine.state import HostState
from fossp.hosts.inventory import HostSpec

from .conftest import cluster_plans, recorded

ROLE = "FOSSP-BASBA"
HOSTS = [HostSpec(name=f"lab:ba-{i}", address=f"10.213.0.{10 + i}") for i in (1, 2)]
PLACED = {"director": ["ba-1"], "client": ["ba-2"]}
FIREWALL = [["firewall-cmd", "--add-service=bacula"], ["firewall-cmd", "--permanent", "--add-service=bacula"]]
SUBVOLUME = [
    ["mkdir", "-p", "--", "/srv"],
    ["btrfs", "subvolume", "create", "--", "/srv/bacula"],
    ["chmod", "755", "--", "/srv/bacula"],
]
PROBE_FILES = [
    (
        "+",
        "create-dir /var/lib/fossp/bacula-probe",
        [["mkdir", "-p", "-m", "700", "--", "/var/lib/fossp/bacula-probe"]],
    ),
    ("+", "write-file /var/lib/fossp/bacula-probe/probe.txt", []),
]


def _plans(settings: dict[str, Any] | None = None, facts_name: str = "fedora40-bare") -> dict[str, list[Operation]]:
    return cluster_plans(ROLE, PLACED, HOSTS, settings, facts_name)


def _lines(ops: list[Operation]) -> list[tuple[str, str, list[list[str]]]]:
    return [
        ("~" if op.pending else "+" if op.change else "=", f"{op.kind.value} {op.target}", op.commands) for op in ops
    ]


def _op(ops: list[Operation], target: str) -> Operation:
    return next(op for op in ops if op.target == target)


def _text(ops: list[Operation], path: str) -> str:
    return (_op(ops, path).content or b"").decode()


def _units(*units: str) -> list[tuple[str, str, list[list[str]]]]:
    lines = []
    for unit in units:
        lines.append(("~", f"enable-unit {unit}", [["systemctl", "enable", unit]]))
        lines.append(("~", f"start-unit {unit}", [["systemctl", "restart", unit]]))
    return lines


def test_the_director_gets_the_daemons_the_catalog_and_the_probe() -> None:
    ops = _plans()["lab:ba-1"]
    catalog = _op(ops, "catalog").commands[0]
    assert catalog[:2] == ["sh", "-c"] and catalog[3:] == ["catalog", "bacula", "/usr/libexec/bacula"]
    assert _lines(ops) == [
        ("+", "create-subvolume /srv/bacula", SUBVOLUME),
        (
            "+",
            "install-packages bacula-client bacula-director bacula-storage bacula-console",
            [["dnf", "-y", "-q", "install", "bacula-client", "bacula-director", "bacula-storage", "bacula-console"]],
        ),
        ("+", "open-firewall service bacula", FIREWALL),
        (
            "+",
            "run-step catalog-backend",
            [["alternatives", "--set", "libbaccats.so", "/usr/lib64/libbaccats-postgresql.so"]],
        ),
        (
            "+",
            "run-step storage-folder",
            [["install", "-d", "-o", "bacula", "-g", "bacula", "-m", "750", "/srv/bacula/volumes"]],
        ),
        ("+", "run-step catalog", [catalog]),
        ("+", "write-file /etc/bacula/bacula-fd.conf", []),
        ("+", "write-file /etc/bacula/bacula-dir.conf", []),
        ("+", "write-file /etc/bacula/bacula-sd.conf", []),
        ("+", "write-file /etc/bacula/bconsole.conf", []),
        *PROBE_FILES,
        ("+", "write-file /usr/local/sbin/fossp-bacula-probe", []),
        *_units("bacula-dir.service", "bacula-fd.service", "bacula-sd.service"),
    ]
    assert _op(ops, "catalog-backend").undo == [["alternatives", "--auto", "libbaccats.so"]]
    drop = _op(ops, "catalog")
    assert drop.undo_on_purge and drop.undo[0][-2:] == ["drop-catalog", "bacula"]


def test_a_client_gets_the_file_daemon_only() -> None:
    ops = _plans()["lab:ba-2"]
    assert _lines(ops) == [
        ("+", "create-subvolume /srv/bacula", SUBVOLUME),
        ("+", "install-packages bacula-client", [["dnf", "-y", "-q", "install", "bacula-client"]]),
        ("+", "open-firewall service bacula", FIREWALL),
        ("+", "write-file /etc/bacula/bacula-fd.conf", []),
        *PROBE_FILES,
        *_units("bacula-fd.service"),
    ]
    conf = _text(ops, "/etc/bacula/bacula-fd.conf")
    assert "  Name = ba-2-fd\n" in conf and "  Name = fossp-dir\n" in conf
    assert "  WorkingDirectory = /var/spool/bacula\n" in conf and "  Plugin Directory = /usr/lib64/bacula\n" in conf
    assert _text(ops, "/var/lib/fossp/bacula-probe/probe.txt") == "FOSSP Bacula probe of ba-2\n"


def test_the_passwords_are_generated_once_shared_and_never_in_arguments(generated: Path) -> None:
    plans = _plans()
    director, client = plans["lab:ba-1"], plans["lab:ba-2"]
    stored = {name: (generated / "bacula" / "lab:ba-1" / name).read_text().strip() for name in _secret_names()}
    assert all(len(value) == 48 for value in stored.values()) and len(set(stored.values())) == 4
    dir_conf = _text(director, "/etc/bacula/bacula-dir.conf")
    assert f'  Password = "{stored["console_password"]}"\n' in _text(director, "/etc/bacula/bconsole.conf")
    assert f'  dbpassword = "{stored["catalog_password"]}"\n' in dir_conf
    assert dir_conf.count(f'  Password = "{stored["client_password"]}"\n') == 2  # one Client per member
    assert f'  Password = "{stored["storage_password"]}"\n' in _text(director, "/etc/bacula/bacula-sd.conf")
    assert f'  Password = "{stored["client_password"]}"\n' in _text(client, "/etc/bacula/bacula-fd.conf")
    for ops in plans.values():
        for op in ops:
            if op.target.startswith("/etc/bacula/"):
                assert (op.mode, op.owner) == ("640", "root:bacula"), op.target
            shown = str([op.commands, op.undo, op.reason])
            assert not any(value in shown for value in stored.values()), op.target
    assert f"\\set pw '{stored['catalog_password']}'\n" in (_op(director, "catalog").stdin or "")


def _secret_names() -> list[str]:
    return ["catalog_password", "console_password", "storage_password", "client_password"]


def test_the_director_knows_every_member_and_the_storage_address() -> None:
    conf = _text(
        _plans({"director_name": "site-dir", "catalog_database": "backups"})["lab:ba-1"], "/etc/bacula/bacula-dir.conf"
    )
    assert "  Name = site-dir\n" in conf and '  dbname = "backups"\n' in conf and '  DB Address = "localhost"\n' in conf
    assert (
        "  Name = ba-1-fd\n  Address = 10.213.0.11\n" in conf and "  Name = ba-2-fd\n  Address = 10.213.0.12\n" in conf
    )
    assert "Storage {\n  Name = fossp-sd\n  Address = 10.213.0.11\n" in conf  # clients' daemons send here
    assert '  QueryFile = "/etc/bacula/query.sql"\n' in conf and '  File = "/var/lib/fossp/bacula-probe"\n' in conf
    assert "  File Retention = 60 days\n" in conf and "  Volume Retention = 365 days\n" in conf


def test_debian_answers_dbconfig_before_the_packages() -> None:
    catalog = load_catalog()
    work = layout(catalog, [(ROLE, {})], {ROLE: PLACED}, HOSTS, "p.yaml")
    facts = recorded("debian12-bare")
    assert facts.family is not None
    wanted = wanted_roles(catalog, work["lab:ba-1"].choices, {}, "lab:ba-1", work["lab:ba-1"].memberships)[0]
    ops = plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))
    kinds = [f"{op.kind.value} {op.target}" for op in ops]
    packages = next(i for i, kind in enumerate(kinds) if kind.startswith("install-packages"))
    assert kinds[packages - 1] == "run-step before-install"
    assert "bacula-director" in kinds[packages].split() and "dbconfig-no-thanks" in kinds[packages].split()
    answer = _op(ops, "before-install")
    path, absent = "/etc/dbconfig-common/bacula-director-pgsql.conf", "/var/lib/fossp/bacula-absent"
    assert answer.commands[0][:2] == ["sh", "-c"] and answer.commands[0][3:] == ["before-install", path, absent]
    assert "dbc_install='false'\n" in (answer.stdin or "")
    assert answer.undo[0][3:] == ["before-install", path, absent] and not answer.undo_on_purge
