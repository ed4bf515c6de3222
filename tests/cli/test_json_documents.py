"""The JSON documents: the committed schemas are the generated ones, every command with
--json has one, and real commands print documents their schema accepts (the check is in
tests.documents, run by the CLI helpers); errors under --json are documents on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fossp.cli import main
from fossp.cli.documents import COMMANDS
from fossp.cli.main import command
from fossp.cli.schemas import SCHEMAS_DIR, schemas, text
from fossp.errors import BadInput
from fossp.output import print_json
from tests.cli.inprocess import Outcome, fossp
from tests.documents import check_document


def test_the_committed_schemas_are_the_generated_ones() -> None:
    made = schemas()
    assert {p.name for p in SCHEMAS_DIR.glob("*.json")} == set(made), "run: python -m fossp.cli.schemas"
    for name, data in made.items():
        assert (SCHEMAS_DIR / name).read_text() == text(data), f"{name}: run python -m fossp.cli.schemas"


def _json_commands(node: object, words: tuple[str, ...] = ()) -> set[str]:
    subs = getattr(node, "commands", None)
    if subs:
        return set().union(*(_json_commands(sub, (*words, name)) for name, sub in subs.items()))
    has_json = any("--json" in getattr(p, "opts", ()) for p in getattr(node, "params", []))
    return {" ".join(words)} if has_json else set()


def test_every_command_with_json_has_a_documented_shape() -> None:
    assert _json_commands(command()) == set(COMMANDS)


def _document(*args: str, code: int = 0) -> dict[str, Any]:
    outcome = fossp(*args, "--json")
    assert outcome.code == code, outcome
    document = check_document((*args, "--json"), outcome.stdout)
    assert document is not None and document["schema_version"] == 1
    return document


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("roles", "list"), 0),
        (("roles", "show", "postgresql"), 0),
        (("lifecycle",), 0),
        (("release", "list"), 0),
        (("release", "check", "1.1", "2.0"), 0),
        (("release", "check", "2.0", "1.0"), 1),
        (("features",), 0),
        (("recommend", "database", "web server", "dns"), 0),
        (("lab", "list"), 0),
        (("lab", "repo", "list"), 0),
    ],
)
def test_catalog_and_lab_documents(
    args: tuple[str, ...], code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOSSP_LAB_DIR", str(tmp_path / "lab"))
    _document(*args, code=code)


def test_platform_profile_and_inventory_documents(tmp_path: Path) -> None:
    platform = fossp("platform", "check", "--json")
    assert platform.code in (0, 1)
    check_document(("platform", "check", "--json"), platform.stdout)
    profile = tmp_path / "profile.yaml"
    assert fossp("recommend", "database", "--save", str(profile)).code == 0
    assert _document("profile", "check", str(profile))["ok"] is True
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("fossp_inventory: 1\nhosts:\n  web: {address: 192.0.2.1}\ngroups:\n  www: {hosts: [web]}\n")
    assert _document("inventory", "list", "-i", str(inventory))["groups"] == {"www": ["web"]}


def test_gate_documents_and_their_timestamps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOSSP_DB", f"sqlite:///{tmp_path / 'gate.db'}")
    for name, role in (("lia", "liaison"), ("mai", "maintainer")):
        _document("users", "add", name, "--role", role, "--no-password")
    _document("gate", "propose", "Pg", "--role", "postgresql", "--summary", "db", "--as", "mai")
    _document("gate", "deliver", "Pg", "proposal", "--as", "mai", "--ref", "https://example.org/p")
    _document("gate", "maintainers", "list", "Pg")
    _document("gate", "list")
    _document("users", "disable", "lia")
    _document("users", "list")
    _document("gate", "picture")
    _document("gate", "agenda", "--at", "2030-01-07T15:00")
    audit = _document("gate", "audit")["entries"]
    assert isinstance(audit, list) and audit
    for entry in audit:  # SQLite gives the moment back without its zone: printed in UTC
        assert entry["at"].endswith("+00:00"), entry
    refused = fossp("gate", "decide", "Pg", "go", "--as", "lia", "--rationale", "x", "--json")
    _error(refused, 1)


def test_a_timestamp_without_its_zone_is_not_as_documented() -> None:
    entry = {"id": 1, "at": "2026-12-03T15:00:00", "actor": "a", "action": "x", "application_id": None, "detail": {}}
    with pytest.raises(AssertionError, match="is not a 'date-time'"):
        check_document(("gate", "audit", "--json"), json.dumps({"schema_version": 1, "entries": [entry]}))


def _error(outcome: Outcome, exit_code: int) -> dict[str, str | None]:
    """The error document of a failed --json command: on stdout, nothing else on stderr."""
    assert outcome.code == exit_code, outcome
    assert outcome.stderr == "", outcome.stderr
    document = json.loads(outcome.stdout)
    assert set(document) == {"schema_version", "error"}
    error: dict[str, str | None] = document["error"]
    return error


@pytest.mark.parametrize(
    ("args", "code", "where"),
    [
        (("roles", "show", "no-such-role"), "bad_input", None),
        (("roles", "lis"), "usage", None),
        (("release", "check", "1.x", "2.0"), "bad_input", None),
        (
            ("gate", "list", "--db", "postgresql://gate:pw@127.0.0.1:1/gate"),
            "unreachable",
            "postgresql://gate:***@127.0.0.1:1/gate",
        ),
    ],
)
def test_an_error_under_json_is_a_document_on_stdout(args: tuple[str, ...], code: str, where: str | None) -> None:
    error = _error(fossp(*args, "--json"), 2)
    assert (error["code"], error["where"]) == (code, where)
    assert error["message"] and "pw@" not in str(error["message"])


def test_an_error_names_the_file_and_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _error(fossp("profile", "check", str(tmp_path), "--json"), 2)
    assert (folder["code"], folder["where"]) == ("unreadable_file", str(tmp_path))
    monkeypatch.setenv("FOSSP_DB", f"sqlite:///{tmp_path / 'gate.db'}")
    _document("users", "add", "lia", "--role", "liaison", "--no-password")
    missing = _error(fossp("gate", "show", "99", "--json"), 2)
    assert missing["code"] == "not_found"
    invalid = _error(fossp("users", "add", "bob", "--role", "boss", "--no-password", "--json"), 2)
    assert (invalid["code"], invalid["where"]) == ("invalid", "role")


#: Every fleet command, each with what it needs to reach its hosts.
FLEET_COMMANDS = [
    ("plan", "nginx"),
    ("deploy", "nginx"),
    ("status",),
    ("decommission", "--yes"),
    ("facts",),
    ("platform", "check"),
    ("restore", "1", "--yes"),
    ("snapshot", "list"),
    ("snapshot", "create"),
    ("snapshot", "delete", "5", "--yes"),
    ("snapshot", "diff", "1"),
    ("snapshot", "cleanup", "--yes"),
    ("upgrade", "check", "--level", "service-pack"),
    ("upgrade", "run", "--level", "service-pack", "--yes"),
    ("upgrade", "restore", "--yes"),
]


@pytest.mark.parametrize("args", FLEET_COMMANDS, ids=" ".join)
def test_a_host_that_failed_has_an_error_shaped_as_a_commands(args: tuple[str, ...]) -> None:
    """An unreachable host's entry in a fleet command's document: its error is a
    {message, where, code} object as a top-level error is, with the code that says why."""
    host = "127.0.0.1:9"  # the discard port: nothing listens
    outcome = fossp(*args, "--target", host, "--json")
    assert outcome.code == 1, outcome
    assert outcome.stderr == ""  # the document says it all
    document = check_document((*args, "--json"), outcome.stdout)
    assert document is not None
    entries = document["errors"] if "errors" in document else document["hosts"]
    [entry] = [e for e in entries if e.get("error")]
    assert entry["host"] == host
    assert entry["error"]["code"] == "unreachable" and entry["error"]["where"] == host
    assert f"cannot reach {host}" in entry["error"]["message"]


@pytest.mark.parametrize("args", [a for a in FLEET_COMMANDS if a[0] in ("snapshot", "restore")], ids=" ".join)
def test_a_host_that_refused_is_listed_with_a_bad_input_error(args: tuple[str, ...], tmp_path: Path) -> None:
    """Snapshots need a live host: an offline root folder refuses, and the document says so
    for that host (bad_input, exit 2) instead of a traceback or a missing entry."""
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(f"fossp_inventory: 1\nhosts:\n  img: {{connection: root, address: {tmp_path}}}\n")
    outcome = fossp(*args, "-i", str(inventory), "--target", "img", "--json")
    assert (outcome.code, outcome.stderr) == (2, ""), outcome
    document = check_document((*args, "--json"), outcome.stdout)
    assert document is not None
    [entry] = document["hosts"]
    assert entry["host"] == "img" and (entry["error"]["code"], entry["error"]["where"]) == ("bad_input", "img")
    assert "snapshots need a live host" in entry["error"]["message"]


def test_without_json_an_error_stays_one_line_on_stderr() -> None:
    outcome = fossp("roles", "show", "no-such-role")
    assert (outcome.code, outcome.stdout, outcome.stderr) == (2, "", "fossp: unknown role 'no-such-role'\n")


def test_an_error_after_the_document_is_a_line_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """stdout keeps one document: a command that printed its own and then fails says why on stderr."""

    def printed_then_failed(**_: object) -> None:
        print_json({"hosts": []})
        raise BadInput("web1: refused")

    monkeypatch.setattr(main, "command", lambda: SimpleNamespace(main=printed_then_failed))
    monkeypatch.setattr(sys, "argv", ["fossp", "snapshot", "list", "--json"])
    with pytest.raises(SystemExit) as done:
        main.run()
    out, err = capsys.readouterr()
    assert (done.value.code, json.loads(out), err) == (2, {"schema_version": 1, "hosts": []}, "fossp: web1: refused\n")


def test_an_offline_builds_document_is_as_its_schema_says_and_nothing_else(tmp_path: Path) -> None:
    """`build root`'s document from the code that makes it (the profile checked, the root's
    summary, the timed steps); its schema refuses a field it does not list or a step's
    time left out, as those of `build container` and `image build` do."""
    from fossp.build.offline import BuiltRoot, Steps, built_document, check_profile

    profile = tmp_path / "p.yaml"
    profile.write_text("fossp_profile: 1\nroles:\n  - id: FOSSP-WDSNG\n")
    steps = Steps(lambda line: None)
    for name in ("lab repository", "packages", "first boot"):
        steps.step(name)
    built = BuiltRoot(tmp_path / "root", ["write /etc/nginx/conf.d/fossp.conf"], ["start nginx.service"])
    document = {"schema_version": 1, **built_document(check_profile(profile), built.summary(), steps)}
    assert check_document(("build", "root", "--json"), json.dumps(document)) == document
    assert [s["step"] for s in document["steps"]] == ["lab repository", "packages", "first boot"]
    for args in (("build", "root"), ("build", "container"), ("image", "build")):
        with pytest.raises(AssertionError, match="build_steps"):
            check_document((*args, "--json"), json.dumps({**document, "build_steps": document["steps"]}))
    timeless = {**document, "steps": [{"step": "packages", "seconds": 1.0}]}
    with pytest.raises(AssertionError, match="start_seconds"):
        check_document(("build", "root", "--json"), json.dumps(timeless))


def _properties(node: object) -> Iterator[tuple[str, dict[str, object]]]:
    """Every (name, schema) of a property anywhere in a JSON Schema, its $defs included."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield name, sub
        for sub in node.values():
            yield from _properties(sub)
    elif isinstance(node, list):
        for sub in node:
            yield from _properties(sub)


#: Names a field had before each meaning got one name (docs/json.md).
RETIRED = {"run", "fossp_run", "build_steps", "created", "date", "known_hosts", "console"}


def test_one_name_per_meaning_across_every_document() -> None:
    """A run's ID is run_id, a moment is at or *_at, a file on the controller *_path, a
    host's error the error object, in every command's schema."""
    misnamed, moments, errors = set(), set(), set()
    for name, data in schemas().items():
        for field, sub in _properties(data):
            if field in RETIRED:
                misnamed.add(f"{name}: {field}")
            if "date-time" in json.dumps(sub) and not (field == "at" or field.endswith("_at")):
                moments.add(f"{name}: {field}")
            if field == "error" and "message" not in json.dumps(sub) and "ErrorInfo" not in json.dumps(sub):
                errors.add(name)
    assert (misnamed, moments, errors) == (set(), set(), set())


def test_every_gate_change_prints_the_application_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """assess, actions add/done/approve, review, decide and resume, each through the real
    command line with --json (the schema check is the helper's)."""
    monkeypatch.setenv("FOSSP_DB", f"sqlite:///{tmp_path / 'gate.db'}")
    for name, role in (("lia", "liaison"), ("mai", "maintainer"), ("mem", "member")):
        _document("users", "add", name, "--role", role, "--no-password")
    proposed = _document("gate", "propose", "Pg", "--role", "postgresql", "--summary", "db", "--as", "mai")
    [criterion] = proposed["gate"]["criteria"]
    assessed = _document("gate", "assess", "Pg", criterion["key"], "--as", "lia", "--note", "fits")
    assert assessed["gate"]["criteria"][0]["met"] is True
    opened = _document(
        "gate", "actions", "add", "Pg", "--as", "lia", "--title", "fix", "--owner", "mai", "--due", "2030-01-01"
    )
    action = str(opened["actions"][0]["id"])
    _document("gate", "actions", "done", action, "--as", "mai")
    approved = _document("gate", "actions", "approve", action, "--as", "lia")
    assert approved["actions"][0]["status"] != "open"
    _document("gate", "review", "Pg", "--as", "mem", "--recommend", "hold", "--findings", "wait")
    assert _document("gate", "decide", "Pg", "hold", "--as", "lia", "--rationale", "wait")["state"] == "on-hold"
    assert _document("gate", "resume", "Pg", "--as", "lia")["state"] == "active"
    assert _document("users", "enable", "mem")["disabled"] is False


@pytest.mark.parametrize("running", [True, False])
def test_image_boots_document_is_as_its_schema_says(tmp_path: Path, running: bool) -> None:
    """`image boot`'s document from the code that makes it, for a VM left running or
    stopped (booting one takes minutes: the e2e test boots a real image)."""
    import subprocess

    from fossp.build.qemu import Vm
    from fossp.cli.image_cmds import _result
    from fossp.engine.probes.common import ProbeResult
    from fossp.engine.status import RoleStatus

    process = subprocess.Popen(["true"])
    process.wait()
    vm = Vm(process, tmp_path / "disk.qcow2", 2222, tmp_path / "key", tmp_path, "fossp-vm", seconds_to_ssh=9.5)
    probe = ProbeResult("FOSSP-WDSNG", "http-get", "http", True, "200")
    statuses = [RoleStatus("FOSSP-WDSNG", "nginx", "running", "running", probes=[probe])]
    document = {"schema_version": 1, **_result(vm, statuses, running)}
    assert check_document(("image", "boot", "--json"), json.dumps(document)) == document
    assert (document["known_hosts_path"] is None) is not running


def test_a_lab_host_recorded_before_created_at_still_reads(tmp_path: Path) -> None:
    """Host records written when the field was ``created`` load, and print ``created_at``."""
    from fossp.lab.hosts import LabHost

    paths = {f: str(tmp_path / f) for f in ("key_path", "known_hosts_path", "root_path", "log_path")}
    record = {"name": "old", "address": "10.213.0.9", **paths, "netns": "n", "veth": "v", "mac": "", "host_key": "k"}
    host = LabHost.model_validate_json(json.dumps({**record, "created": "2026-11-01T08:00:00+00:00"}))
    assert host.model_dump(mode="json")["created_at"] == "2026-11-01T08:00:00Z"
