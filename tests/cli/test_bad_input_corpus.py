"""Every bad input of issue 14, table-driven: one line on stderr naming what and where,
exit 2, no traceback, and nothing written (the folder's listing is unchanged)."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cli.inprocess import assert_answered, assert_refused_in_one_line, forget_files, fossp, listing
from tests.conftest import DATA_DIR

#: A file's content, or what to make instead: a folder, a FIFO, a symbolic link loop.
DIR, FIFO, LOOP = "<dir>", "<fifo>", "<loop>"
PROFILE = b"fossp_profile: 1\nroles: [{id: FOSSP-WDSNG}]\n"


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No machine's gate database or site roles; no catalog with a test's site roles kept."""
    monkeypatch.setenv("FOSSP_DB", f"sqlite:///{tmp_path / 'gate.db'}")
    monkeypatch.delenv("FOSSP_ROLES_DIR", raising=False)
    monkeypatch.delenv("FOSSP_RECIPES_DIR", raising=False)
    forget_files()
    yield
    forget_files()


def _make(path: Path, content: bytes | str) -> None:
    if content == DIR:
        path.mkdir()
    elif content == FIFO:
        os.mkfifo(path)
    elif content == LOOP:
        path.symlink_to(path.with_name(path.name + ".other"))
        path.with_name(path.name + ".other").symlink_to(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


FILES: list[tuple[str, bytes | str, str]] = [
    ("latin1", PROFILE.replace(b"roles", b"description: caf\xe9\nroles"), "line 2: not UTF-8 text (byte 0xe9)"),
    ("utf16", PROFILE.decode().encode("utf-16"), "is UTF-16 text"),
    ("xff", b"\xff\n", "line 1: not UTF-8 text (byte 0xff)"),
    ("folder", DIR, "is a folder, not a file"),
    ("loop", LOOP, "Too many levels of symbolic links"),
    ("fifo", FIFO, "is a FIFO, not a regular file"),
    ("nul", PROFILE.replace(b"1\n", b"1\x00\n"), "line 1: a NUL byte"),
    ("huge string", f"fossp_profile: 1\nroles: [{{id: FOSSP-WDSNG, settings: {{server_name: {'a' * 2_000_000}}}}}]\n",
     "2000000 characters is more than the 4096"),
    ("huge number", f"fossp_profile: 1\nroles: [{{id: FOSSP-WDSNG, settings: {{http_port: {'9' * 5000}}}}}]\n",
     "a number too long to read"),
]  # fmt: skip


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in FILES], ids=[c[0] for c in FILES])
@pytest.mark.parametrize("command", ["profile check", "deploy --target 127.0.0.1:9 --profile"])
def test_a_bad_profile_file_is_one_line(tmp_path: Path, command: str, content: bytes | str, expected: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _make(work / "p.yaml", content)
    before = listing(tmp_path)
    outcome = fossp(*command.split(), str(work / "p.yaml"))
    assert_refused_in_one_line(outcome, str(work / "p.yaml"), expected)
    assert len(outcome.errors[0]) < 300  # the 2 MB value is not echoed back
    assert listing(tmp_path) == before


def test_an_empty_path_is_the_current_folder_and_refused(tmp_path: Path) -> None:
    assert_refused_in_one_line(fossp("profile", "check", "", cwd=tmp_path), "is a folder, not a file")
    assert listing(tmp_path) == {}


INVENTORIES = [
    ("port abc yaml", "i.yaml", "all:\n  hosts:\n    a:\n      ansible_port: abc\n", "host 'a': ansible_port 'abc'"),
    ("port abc ini", "i.ini", "[web]\na ansible_port=abc\n", "host 'a': ansible_port 'abc' is not a port"),
    ("port 99999", "i.yaml", "all:\n  hosts:\n    a:\n      ansible_port: 99999\n", "99999 is not a port (1-65535)"),
    ("hosts list", "i.yaml", "all:\n  hosts: [a, b]\n", "group 'all': 'hosts' must be a mapping"),
    ("children list", "i.yaml", "all:\n  children: [a, b]\n", "group 'all': 'children' must be a mapping"),
    ("host text", "i.yaml", "all:\n  hosts: {a: hello}\n", "host 'a': its variables must be a mapping"),
    ("ini xff", "i.ini", b"[web]\na\xff\n", "line 2: not UTF-8 text"),
    ("ini quote", "i.ini", '[web]\na motd="open\n', "line 2: no closing quotation"),
    ("ini range", "i.ini", "[web]\nweb[1:99999999]\n", "gives more than 10000 hosts"),
    ("fossp port", "i.yaml", "fossp_inventory: 1\nhosts: {a: {port: 0}}\n", "field 'hosts.a.port'"),
]


@pytest.mark.parametrize(("name", "text", "expected"), [c[1:] for c in INVENTORIES], ids=[c[0] for c in INVENTORIES])
def test_a_bad_inventory_is_one_line(tmp_path: Path, name: str, text: str | bytes, expected: str) -> None:
    _make(tmp_path / name, text)
    before = listing(tmp_path)
    assert_refused_in_one_line(fossp("inventory", "list", "-i", str(tmp_path / name)), name, expected)
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    ("target", "expected"),
    [("127.0.0.1:0", "port '0' is not a port"), ("127.0.0.1:65536", "'65536' is not a port (1-65535)")],
)
def test_a_target_port_out_of_range_is_one_line(tmp_path: Path, target: str, expected: str) -> None:
    assert_refused_in_one_line(fossp("plan", "nginx", "--target", target), f"--target '{target}'", expected)
    assert listing(tmp_path) == {}


SITE_ROLES = [
    ("bad pattern", "x.yaml", "pattern '(' is not a regular expression"),
    ("latin1", "x.yaml", "line 1: not UTF-8 text"),
    ("folder", "x.yaml", "is a folder, not a file"),
]


def _site_role(path: Path, kind: str) -> None:
    role = yaml.safe_load((DATA_DIR / "roles" / "nginx.yaml").read_text())
    role.update(id="FOSSP-WDSZZ", code="ZZ", name="site-web", preference=1)
    if kind == "bad pattern":
        role["settings"].append({"name": "tag", "type": "string", "pattern": "(", "description": "a tag"})
        path.write_text(yaml.safe_dump(role))
    elif kind == "latin1":
        path.write_bytes(b"# caf\xe9\n" + yaml.safe_dump(role).encode())
    else:
        path.mkdir()


@pytest.mark.parametrize(("kind", "name", "expected"), SITE_ROLES, ids=[c[0] for c in SITE_ROLES])
def test_a_bad_site_role_file_is_skipped_by_others_and_refused_by_its_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, name: str, expected: str
) -> None:
    roles = tmp_path / "roles.d"
    roles.mkdir()
    _site_role(roles / name, kind)
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(roles))
    before = listing(tmp_path)
    listed = fossp("roles", "list", "--json", fresh=True)
    assert listed.code == 0 and "FOSSP-DASPO" in listed.stdout and "FOSSP-WDSZZ" not in listed.stdout
    [warning] = listed.stderr.splitlines()
    assert warning.startswith(f"fossp: warning: {roles / name}: ") and warning.endswith(
        "this site role file is skipped"
    )
    assert expected in warning
    assert_refused_in_one_line(fossp("roles", "show", "site-web"), "unknown role 'site-web'", str(roles / name))
    assert listing(tmp_path) == before


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    outcome = fossp("gate", "list", "--db", "postgresql://gate:s3cret-pass@127.0.0.1:1/gate")
    assert_refused_in_one_line(outcome, "gate database postgresql://gate:***@127.0.0.1:1/gate", "connection failed")
    assert "s3cret-pass" not in outcome.stderr


@pytest.mark.parametrize(
    "command", [["gate", "list"], ["users", "list"], ["gate", "show", "1"], ["gate", "audit"], ["roles", "list"]]
)
def test_a_read_only_command_creates_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("FOSSP_DB", f"sqlite:///{tmp_path / 'no-such-folder' / 'gate.db'}")  # as --db gives it
    outcome = fossp(*command)
    assert_answered(outcome)  # `gate show 1`: no application 1, in one line
    assert listing(tmp_path) == {}


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_serve_on_a_port_in_use_is_one_line(tmp_path: Path, busy_port: int) -> None:
    outcome = fossp("serve", "--port", str(busy_port))
    assert_refused_in_one_line(outcome, f"--port {busy_port}: cannot listen there: Address already in use")


def test_users_add_with_no_terminal_is_one_line(tmp_path: Path) -> None:
    outcome = fossp("users", "add", "bob", "--role", "admin")
    assert_refused_in_one_line(outcome, "users add 'bob': no terminal to ask the password at")
    assert listing(tmp_path) == {}


def test_a_missing_python_augeas_is_found_before_any_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's recipe edits with Augeas; the target is the discard port, never reached."""
    monkeypatch.setitem(sys.modules, "augeas", None)  # import augeas raises ImportError
    outcome = fossp("deploy", "postgresql", "--target", "127.0.0.1:9")
    assert_refused_in_one_line(outcome, "needs python-augeas on this machine", "-m pip install python-augeas")
    assert listing(tmp_path) == {}


#: 120 KB, as the issue's echoed values were.
LONG = "x" * 120_000


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("recommend", LONG), "unknown feature 'xxx"),
        (("roles", "show", LONG), "unknown role"),
        (("plan", "nginx", "--set", f"nginx.server_name={LONG}", "--target", "127.0.0.1:9"), "server_name"),
        (("plan", "nginx", "--set", f"nginx.{LONG}=1", "--target", "127.0.0.1:9"), "has no setting"),
        (("lifecycle", "--format", LONG), "--format"),
        (("roles", "list", "--json", f"--{LONG}"), "No such option"),
        ((LONG,), "No such command"),
    ],
    ids=["feature", "role", "setting value", "setting name", "option value", "option", "command"],
)
def test_a_long_value_is_shortened_in_its_error(args: tuple[str, ...], expected: str) -> None:
    outcome = fossp(*args)
    assert outcome.code == 2 and "Traceback" not in outcome.stderr, outcome
    assert expected in outcome.stdout + outcome.stderr
    assert len(outcome.stdout + outcome.stderr) < 1000, len(outcome.stdout + outcome.stderr)
