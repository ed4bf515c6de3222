"""The backup director as the platform's typed setting, and which hosts a run registers:
the setting takes the director's name (read once per director) before any target is
reached, bad values are one line and exit 2 naming platform.backup_director (from --set,
`platform apply --set`, --backup-director or a profile); a registered host (its record
read with its facts) that gets a new role is registered again, a dry run planning it as
the host would be after the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fossp.catalog import load_catalog
from fossp.cli.backup_cmds import registering, resolve_backup_directors
from fossp.engine.backup import RECORD, registered_director
from fossp.engine.cluster import HostWork
from fossp.engine.planner import plan_host, wanted_roles
from fossp.engine.state import HostState
from fossp.errors import BadInput, Finding
from fossp.hosts.facts import Facts, FileFact
from fossp.hosts.inventory import HostSpec
from tests.cli.inprocess import fossp
from tests.engine.conftest import recorded

PLATFORM, NGINX = "FOSSP-PLSPL", "FOSSP-WDSNG"


@pytest.fixture(autouse=True)
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated secrets in a scratch folder, never the controller's."""
    from fossp import secrets

    monkeypatch.setattr(secrets, "GENERATED_DIR", tmp_path / "secrets")


def _platform(**given: str) -> HostWork:
    return HostWork(choices=[(PLATFORM, dict(given))])


def test_the_setting_takes_the_directors_name_read_once_per_director() -> None:
    work = {"lab:a": _platform(backup_director="lab:dir"), "lab:b": _platform(backup_director="lab:dir")}
    asked: list[str] = []
    resolve_backup_directors(load_catalog(), work, lambda name: asked.append(name) or "main-dir")
    assert asked == ["lab:dir"]
    assert [w.choices[0][1] for w in work.values()] == [{"backup_director": "lab:dir", "director_name": "main-dir"}] * 2
    untouched = {"lab:c": _platform(ntp_servers="ntp.example")}
    resolve_backup_directors(load_catalog(), untouched, lambda name: pytest.fail("no director to read"))
    assert untouched["lab:c"].choices[0][1] == {"ntp_servers": "ntp.example"}


def test_bad_directors_are_bad_input_naming_the_setting() -> None:
    catalog = load_catalog()
    clash = {"lab:a": _platform(backup_director="lab:dir", director_name="other")}
    with pytest.raises(BadInput, match=r"^platform\.backup_director=lab:dir: the director there is named main-dir"):
        resolve_backup_directors(catalog, clash, lambda name: "main-dir")

    def none_there(name: str) -> str:
        raise Finding(f"{name}: no Bacula director is deployed here")

    with pytest.raises(BadInput, match=r"^platform\.backup_director=lab:web: lab:web: no Bacula director"):
        resolve_backup_directors(catalog, {"lab:a": _platform(backup_director="lab:web")}, none_there)

    def unreachable(name: str) -> str:
        raise Finding(f"{name}: cannot reach the backup director: timed out", code="unreachable")

    with pytest.raises(Finding, match="cannot reach") as raised:  # a finding (exit 1), not bad input
        resolve_backup_directors(catalog, {"lab:a": _platform(backup_director="lab:dir")}, unreachable)
    assert not isinstance(raised.value, BadInput)


def test_bad_values_from_every_way_of_giving_it_are_one_line_and_exit_2(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    roles = [{"id": PLATFORM, "hosts": ["192.0.2.1"], "settings": {"backup_director": "lab:rr-none"}}]
    profile.write_text(yaml.safe_dump({"fossp_profile": 1, "roles": roles}))
    runs = {
        "platform.backup_director=lab:rr-none": [
            ["plan", "platform", "-t", "192.0.2.1", "--set", "platform.backup_director=lab:rr-none"],
            ["deploy", "-p", str(profile), "-t", "192.0.2.1"],
            ["platform", "apply", "-t", "192.0.2.1", "--set", "backup_director=lab:rr-none"],
            ["platform", "apply", "-t", "192.0.2.1", "--backup-director", "lab:rr-none"],
        ],
        "'backup_director': 'a b;c' does not match": [
            ["deploy", "platform", "-t", "192.0.2.1", "--set", "platform.backup_director=a b;c"],
        ],
        "give it or --set backup_director": [
            ["platform", "apply", "-t", "192.0.2.1", "--backup-director", "lab:x", "--set", "backup_director=lab:y"]
        ],
    }
    for expected, argvs in runs.items():
        for argv in argvs:
            done = fossp(*argv)
            assert done.code == 2 and len(done.errors) == 1, (argv, done)
            assert expected in done.errors[0], (argv, done.errors)


def _facts(record: bytes | None) -> Facts:
    facts = recorded("debian12-bare")
    if record is None:
        return facts
    found = FileFact(path=RECORD, kind="file", content=record)
    return facts.model_copy(update={"files": {**facts.files, RECORD: found}})


def test_the_hosts_record_read_with_its_facts_names_its_director() -> None:
    record = {"fossp_backup": 1, "director": "lab:dir", "client": "db-fd", "jobs": {}}
    wanted = wanted_roles(load_catalog(), [(NGINX, {})], {}, "lab:db")
    assert plan_host(_facts(json.dumps(record).encode()), wanted, HostState()).backup_director == "lab:dir"
    for other in (None, b"not json", b'{"director": "lab:dir"}'):
        assert registered_director(_facts(other)) is None


def test_a_registered_host_with_a_new_role_is_registered_again() -> None:
    catalog = load_catalog()
    hosts = [HostSpec(name=name, address=address) for name, address in (("db", "192.0.2.1"), ("web", "192.0.2.2"))]
    work = {"db": HostWork(choices=[(NGINX, {})]), "web": HostWork(choices=[(NGINX, {})])}
    record = json.dumps({"fossp_backup": 1, "director": "lab:dir", "client": "db-fd", "jobs": {}}).encode()
    wanted = wanted_roles(catalog, [(NGINX, {})], {}, "db")
    plans = {
        "db": plan_host(_facts(record), wanted, HostState()),
        "web": plan_host(_facts(None), wanted, HostState()),
    }
    (planned,) = registering(catalog, hosts, work, plans, dry_run=True)
    assert (planned.spec.name, planned.director, planned.platform) == ("db", "lab:dir", None)
    assert [role.name for role, _ in planned.adding] == ["nginx"]  # as the host will be after the run
    (done,) = registering(catalog, hosts, work, plans, dry_run=False)
    assert done.adding == []  # the host's state has the role by then

    # The run's own setting wins over the record, and its platform settings give the password.
    given = {"backup_director": "lab:dir2", "director_name": "dir2"}
    work["web"] = HostWork(choices=[(PLATFORM, given)])
    items = registering(catalog, hosts, work, plans, dry_run=False)
    assert [(i.spec.name, i.director, i.platform) for i in items] == [
        ("db", "lab:dir", None),
        ("web", "lab:dir2", given),
    ]


def test_a_platform_deployed_without_the_setting_must_still_answer_its_director() -> None:
    """A registered host whose platform a run deployed without backup_director answers
    director_name (fossp-dir unless given): another director's name fails its registration."""
    from fossp.cli.backup_cmds import Registering, _answers

    platform, spec = load_catalog().role("platform"), HostSpec(name="db", address="192.0.2.1")
    _answers(Registering(spec, "lab:dir", {}), platform, "fossp-dir")
    _answers(Registering(spec, "lab:dir", {"director_name": "main-dir"}), platform, "main-dir")
    _answers(Registering(spec, "lab:dir", None), platform, "main-dir")  # the platform not in the run: untouched
    with pytest.raises(Finding, match=r"^db: its file daemon answers the director fossp-dir, but the one on lab:dir"):
        _answers(Registering(spec, "lab:dir", {}), platform, "main-dir")
