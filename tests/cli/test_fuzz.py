"""Property-based search for bad input that crashes: generated profiles, inventories (Ansible
YAML and INI, FOSSP's own), site role files, recipes, --set values and targets go through
the real CLI entry point in-process. Whatever the input, the command answers with a
documented exit code; a refusal (2) is one line with no traceback; nothing is written.

Hosts are never reached: deploy-like commands name the discard port on loopback (refused at
once), and generated targets are never valid addresses with a port in range."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from fossp.catalog.loader import load_catalog
from tests.cli.inprocess import Outcome, assert_answered, assert_refused_in_one_line, forget_files, fossp, listing
from tests.conftest import DATA_DIR

CATALOG = load_catalog()
ROLE_IDS = sorted(CATALOG.roles)
NGINX = yaml.safe_load((DATA_DIR / "roles" / "nginx.yaml").read_text())
SITE_ROLE = {**NGINX, "id": "FOSSP-WDSZZ", "code": "ZZ", "name": "site-web", "preference": 1}
SETTINGS = sorted({setting.name for role in CATALOG.roles.values() for setting in role.settings})
ROLE_NAMES = sorted(role.name for role in CATALOG.roles.values())
FUZZ = settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking these slow examples takes minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Text as it comes in files and on command lines (argv holds no NUL byte).
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), max_size=24)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), TEXT,
    st.sampled_from(["0", "22", "65536", "abc", "{from_env: X}", "/etc", "10.0.0.0/24", "yes", "~"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)


def _extra(mappings: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """The mappings, sometimes with a key no schema knows."""
    return st.tuples(mappings, st.dictionaries(TEXT, VALUES, max_size=1)).map(lambda pair: {**pair[1], **pair[0]})


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No machine's gate database or site roles; no catalog with a test's site roles kept."""
    monkeypatch.setenv("FOSSP_DB", f"sqlite:///{tmp_path / 'gate.db'}")
    monkeypatch.delenv("FOSSP_ROLES_DIR", raising=False)
    monkeypatch.delenv("FOSSP_RECIPES_DIR", raising=False)
    forget_files()
    yield
    forget_files()


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    return path


def _run_unchanged(folder: Path, *args: str) -> Outcome:
    before = listing(folder)
    outcome = fossp(*args)
    assert listing(folder) == before, args
    return outcome


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True)


# --- profiles ---------------------------------------------------------------------------

ROLE_CHOICES = _extra(
    st.fixed_dictionaries(
        {"id": st.sampled_from(ROLE_IDS) | TEXT},
        optional={"settings": st.dictionaries(st.sampled_from(SETTINGS) | TEXT, VALUES, max_size=3), "hosts": VALUES},
    )
)
PROFILES = st.fixed_dictionaries(
    {"fossp_profile": st.just(1) | SCALARS},
    optional={"roles": st.lists(ROLE_CHOICES, max_size=3) | VALUES, "description": VALUES},
).map(_dump)
VALID = "fossp_profile: 1\nroles:\n- id: FOSSP-WDSNG\n  settings: {http_port: 8080}\n"


@st.composite
def mangled(draw: st.DrawFn, text: str) -> bytes:
    """``text`` with a few bytes replaced or inserted at random places."""
    data = bytearray(text.encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=3))
    return bytes(data)


@FUZZ
@given(content=PROFILES | mangled(VALID) | st.binary(max_size=64))
def test_any_profile_gets_an_answer(tmp_path: Path, content: str | bytes) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    profile = _write(folder, "p.yaml", content)
    assert_answered(_run_unchanged(folder, "profile", "check", str(profile)))


# --- inventories ------------------------------------------------------------------------

HOST_NAMES = st.sampled_from(["web1", "db[1:3]", "h-[a:c]", "x:2222", "[::1]:22", "a[1:", "b[9:1]", "c:"]) | TEXT
HOST_VARS = st.dictionaries(
    st.sampled_from(["ansible_port", "ansible_host", "ansible_user", "ansible_become", "nginx_http_port"]) | TEXT,
    VALUES,
    max_size=3,
)
GROUP = st.recursive(
    st.none() | SCALARS,
    lambda inner: _extra(
        st.fixed_dictionaries(
            {},
            optional={
                "hosts": st.dictionaries(HOST_NAMES, st.none() | HOST_VARS | SCALARS, max_size=3) | VALUES,
                "vars": HOST_VARS | VALUES,
                "children": st.dictionaries(TEXT | st.just("web"), inner, max_size=2) | VALUES,
            },
        )
    ),
    max_leaves=6,
)
ANSIBLE_YAML = st.dictionaries(st.sampled_from(["all", "web"]) | TEXT, GROUP, min_size=1, max_size=3).map(_dump)
INI_WORDS = st.sampled_from(
    [
        "[web]", "[web:vars]", "[web:children]", "[all:vars]", "[x:bad]", "[a b]", "[web", "web1", "db[01:03]",
        "db-[a:c]", "h:22", "h:", "ansible_port=abc", "ansible_port=99999", "ansible_port=22", 'motd="hello there"',
        "x='[1, 2]'", "x={", "'", '"', "#", ";", "=", "[", "]", ":", "web", "a=b=c", "y=1e999", "z=1j",
    ]
) | TEXT  # fmt: skip
INI = st.lists(st.lists(INI_WORDS, max_size=4).map(" ".join), max_size=6).map("\n".join)
FOSSP_HOST = st.none() | st.dictionaries(
    st.sampled_from(["address", "port", "user", "key", "known_hosts", "connection", "become", "vars"]) | TEXT,
    VALUES,
    max_size=3,
)
FOSSP_INVENTORY = st.fixed_dictionaries(
    {"fossp_inventory": st.just(1) | SCALARS},
    optional={
        "hosts": st.dictionaries(TEXT, FOSSP_HOST, max_size=3) | VALUES,
        "groups": st.dictionaries(
            TEXT, st.fixed_dictionaries({}, optional={"hosts": VALUES, "vars": VALUES}), max_size=2
        ),
    },
).map(_dump)


HOSTVARS = st.dictionaries(TEXT, HOST_VARS, max_size=2) | VALUES
LISTED = st.tuples(
    st.fixed_dictionaries({"_meta": st.fixed_dictionaries({}, optional={"hostvars": HOSTVARS})}),
    st.dictionaries(
        TEXT | st.just("all"),
        st.fixed_dictionaries({}, optional={"hosts": st.lists(TEXT, max_size=2) | VALUES, "children": VALUES}),
        max_size=2,
    ),
).map(lambda parts: _dump({**parts[1], **parts[0]}))  # what `ansible-inventory --list` prints


@FUZZ
@given(
    inventory=st.one_of(
        st.tuples(st.just("inv.json"), LISTED),
        st.tuples(st.just("inv.yml"), ANSIBLE_YAML | FOSSP_INVENTORY | st.binary(max_size=48)),
        st.tuples(st.just("inv.ini"), INI | mangled("[web]\nweb[01:03] motd='hi there'\n")),
        st.tuples(st.just("hosts"), INI | ANSIBLE_YAML),
    ),
    as_json=st.booleans(),
)
def test_any_inventory_gets_an_answer(tmp_path: Path, inventory: tuple[str, str | bytes], as_json: bool) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = _write(folder, *inventory)
    outcome = _run_unchanged(folder, "inventory", "list", "-i", str(path), *(["--json"] if as_json else []))
    assert_answered(outcome)
    assert outcome.code != 1, outcome  # reading an inventory finds nothing to act on


# --- site role files and recipes ------------------------------------------------------------


@st.composite
def broken_roles(draw: st.DrawFn) -> str | bytes:
    """The site role with one field (or one field of a setting) set to anything, or bytes."""
    role = {**SITE_ROLE, "settings": [dict(s) for s in SITE_ROLE["settings"]]}
    if draw(st.booleans()):
        setting = draw(st.sampled_from(role["settings"]))
        setting[draw(st.sampled_from(["type", "pattern", "default", "choices", "minimum", "name"]) | TEXT)] = draw(
            VALUES | st.sampled_from(["(", "[a-", "*", "(?P<x>", "a{99999999}"])
        )
    else:
        role[draw(st.sampled_from(sorted(role)) | TEXT)] = draw(VALUES)
    return draw(st.just(_dump(role)) | mangled(_dump(SITE_ROLE)))


@settings(FUZZ, max_examples=20)  # two loads of the catalog each
@given(content=broken_roles())
def test_a_broken_site_role_file_never_stops_other_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | bytes
) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "roles.d").mkdir()
    _write(folder / "roles.d", "site-web.yaml", content)
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(folder / "roles.d"))
    forget_files()
    listed = _run_unchanged(folder, "roles", "list", "--json")
    assert listed.code == 0 and "FOSSP-DASPO" in listed.stdout, listed
    assert len(listed.stderr.splitlines()) <= 1 and "Traceback" not in listed.stderr, listed.stderr
    shown = _run_unchanged(folder, "roles", "show", "site-web")
    assert_answered(shown)
    assert (shown.code == 0) == (listed.stderr == ""), (listed, shown)


STEPS = st.lists(
    _extra(st.fixed_dictionaries({"name": TEXT}, optional={"run": st.lists(TEXT, max_size=3) | VALUES})),
    max_size=2,
)
FILE_SPECS = st.lists(
    _extra(
        st.fixed_dictionaries(
            {"path": TEXT | st.just("/etc/site-web.conf")},
            optional={"template": TEXT | VALUES, "line": VALUES, "augeas": VALUES, "mode": VALUES},
        )
    ),
    max_size=2,
)
RECIPES = st.fixed_dictionaries(
    {"role": st.just("site-web") | TEXT},
    optional={
        "families": st.dictionaries(
            st.sampled_from(["debian", "fedora"]) | TEXT,
            st.fixed_dictionaries({}, optional={"files": FILE_SPECS, "steps": STEPS, "vars": VALUES}) | VALUES,
            max_size=2,
        )
    },
).map(_dump)


@settings(FUZZ, max_examples=20)  # a catalog load and a refused connection each
@given(recipe=RECIPES | mangled("role: site-web\nfamilies:\n  debian:\n    files: []\n"))
def test_any_site_recipe_is_refused_before_a_host_or_planned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recipe: str | bytes
) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "roles.d").mkdir()
    (folder / "recipes.d").mkdir()
    _write(folder / "roles.d", "site-web.yaml", _dump(SITE_ROLE))
    _write(folder / "recipes.d", "site-web.yaml", recipe)
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(folder / "roles.d"))
    monkeypatch.setenv("FOSSP_RECIPES_DIR", str(folder / "recipes.d"))
    forget_files()
    outcome = _run_unchanged(folder, "plan", "site-web", "--target", "127.0.0.1:9")
    assert_answered(outcome)  # 1: a recipe that validates, and the host (the discard port) refused


# --- --set values and targets --------------------------------------------------------------

SET_VALUES = TEXT | st.sampled_from(["[a, b]", "{x: 1}", "'", "{from_file: /nonexistent}", "9" * 5000])
ASSIGNMENTS = st.lists(
    st.tuples(st.sampled_from(ROLE_NAMES) | TEXT, st.sampled_from(SETTINGS) | TEXT, SET_VALUES).map(
        "{0[0]}.{0[1]}={0[2]}".format
    )
    | TEXT,
    min_size=1,
    max_size=3,
)


@FUZZ
@given(assignments=ASSIGNMENTS, role=st.sampled_from(["nginx", "kea", "postgresql", "samba-ad"]))
def test_any_set_value_gets_an_answer(tmp_path: Path, assignments: list[str], role: str) -> None:
    args = [arg for text in assignments for arg in ("--set", text)]
    assert_answered(_run_unchanged(tmp_path, "recommend", role, *args))


_ADDRESS = re.compile(r"^(?:[A-Za-z0-9._-]+@)?(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d+))?$")
TARGETS = st.one_of(
    TEXT.filter(lambda text: not _ADDRESS.match(text) and text not in ("all", "local") and not text.startswith("lab:")),
    st.integers(65536, 10**30).map(lambda port: f"127.0.0.1:{port}"),
    st.sampled_from(["127.0.0.1:0", "root@[::1]:0", "127.0.0.1:00000", "host:", "a b", "lab:", "lab:a/b", "lab:-x"]),
)


@FUZZ
@given(target=TARGETS)
def test_any_bad_target_is_one_line_before_any_host(tmp_path: Path, target: str) -> None:
    assume(target.strip() == target or not _ADDRESS.match(target.strip()))
    assert_refused_in_one_line(_run_unchanged(tmp_path, "plan", "nginx", "--target", target))
