"""The catalog cache (fossp.catalog.cache): the same catalog as the files give, a new key
for any change to them, never trusted when corrupt or writable by others, never an error
when it cannot be written, and a skipped site role file still warned about on every run;
recommend's lexicon and vocabulary, cached the same way, answer as they did."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fossp.catalog import Catalog
from fossp.catalog.cache import ROOT_CACHE, cache_dir, cache_key, cached, load_cached, store
from fossp.catalog.loader import build_catalog, catalog_files
from tests.conftest import DATA_DIR, run_fossp


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("FOSSP_CACHE_DIR", str(folder))
    return folder


def test_a_stored_catalog_comes_back_equal_and_replaces_the_older_one(cache: Path, catalog: Catalog) -> None:
    store("catalog", "old", catalog)
    store("lexicon", "old", "another kind, kept")
    store("catalog", "new", catalog)
    assert load_cached("catalog", "new") == catalog
    assert sorted(p.name for p in cache.iterdir()) == ["catalog-new.pickle", "lexicon-old.pickle"]
    assert cache.stat().st_mode & 0o777 == 0o700 and (cache / "catalog-new.pickle").stat().st_mode & 0o777 == 0o600


def test_a_value_is_made_once_for_the_same_inputs(cache: Path, tmp_path: Path) -> None:
    made: list[str] = []
    (tmp_path / "input").write_text("one")

    def make() -> str:
        made.append("made")
        return (tmp_path / "input").read_text()

    assert cached("thing", str, [tmp_path / "input"], make) == "one"
    assert cached("thing", str, [tmp_path / "input"], make) == "one"
    assert cached("thing", str, [tmp_path / "input"], make, data="other data") == "one"
    (tmp_path / "input").write_text("two")
    assert cached("thing", str, [tmp_path / "input"], make) == "two"
    assert made == ["made"] * 3
    store("thing", cache_key([tmp_path / "input"]), 12)  # not of the kind asked for: made anew
    assert cached("thing", str, [tmp_path / "input"], make) == "two" and len(made) == 4


def test_any_change_to_an_input_is_a_new_key(data_copy: Path, tmp_path: Path) -> None:
    site = tmp_path / "roles.d"
    site.mkdir()
    keys = {cache_key(catalog_files(data_copy, [site]))}
    role = data_copy / "roles" / "nginx.yaml"
    role.write_text(role.read_text().replace("nginx", "nginx ", 1))
    keys.add(cache_key(catalog_files(data_copy, [site])))
    os.mkfifo(site / "broken.yaml")  # unreadable: its reason goes in the key, and nothing blocks
    keys.add(cache_key(catalog_files(data_copy, [site])))
    (site / "broken.yaml").unlink()
    (site / "broken.yaml").write_text("id: [")
    keys.add(cache_key(catalog_files(data_copy, [site])))
    assert len(keys) == 4
    assert cache_key(catalog_files(data_copy, [site])) in keys  # the same files: the same key


def test_a_corrupt_foreign_or_other_cache_file_is_not_used(cache: Path, catalog: Catalog) -> None:
    store("catalog", "k", catalog)
    stored = cache / "catalog-k.pickle"
    stored.chmod(0o666)  # anyone could have put something there
    assert load_cached("catalog", "k") is None
    stored.chmod(0o600)
    cache.chmod(0o777)
    assert load_cached("catalog", "k") is None
    cache.chmod(0o700)
    assert load_cached("catalog", "k") == catalog
    stored.write_bytes(b"not a pickle")
    assert load_cached("catalog", "k") is None
    assert load_cached("catalog", "missing") is None


def test_an_unwritable_cache_costs_time_not_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("FOSSP_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    store("catalog", "k", build_catalog(DATA_DIR))  # no error
    listed = run_fossp("roles", "list", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    assert len(json.loads(listed.stdout)["roles"]) == len(list((DATA_DIR / "roles").glob("*.yaml")))


def test_a_corrupt_cache_is_loaded_anew_and_replaced(cache: Path) -> None:
    first = run_fossp("roles", "list", "--json")
    [stored] = cache.glob("catalog-*")
    stored.write_bytes(b"\x80\x05garbage")
    again = run_fossp("roles", "list", "--json")
    assert again.returncode == 0 and again.stdout == first.stdout and again.stderr == ""
    assert pickle.loads(stored.read_bytes()).roles


def test_site_roles_bad_and_changed_are_seen_on_every_run(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "roles.d"
    site.mkdir()
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(site))
    (site / "broken.yaml").write_text("id: [")
    role = yaml.safe_load((DATA_DIR / "roles" / "nginx.yaml").read_text())
    role.update(id="FOSSP-WDSZZ", code="ZZ", name="site-web", preference=1)
    (site / "site-web.yaml").write_text(yaml.safe_dump(role))
    runs = [run_fossp("roles", "list", "--json") for _ in range(2)]  # the second from the cache
    assert len(list(cache.glob("catalog-*"))) == 1
    for done in runs:
        assert done.returncode == 0 and "site-web" in done.stdout
        [warning] = done.stderr.splitlines()
        assert warning.startswith(f"fossp: warning: {site / 'broken.yaml'}: ") and "is not valid YAML" in warning
    role.update(name="site-www")
    (site / "site-web.yaml").write_text(yaml.safe_dump(role))
    changed = run_fossp("roles", "list", "--json")
    assert "site-www" in changed.stdout and "site-web" not in changed.stdout


def test_the_cache_folder_is_the_conventional_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOSSP_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("FOSSP_CACHE_DIR")
    if os.geteuid() == 0:
        assert cache_dir() == ROOT_CACHE


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to become another user")
@pytest.mark.parametrize(("xdg", "expected"), [("/xdg/cache", "/xdg/cache/fossp"), ("", "/home/u/.cache/fossp")])
def test_a_user_s_cache_is_under_xdg_cache_home_or_home(xdg: str, expected: str) -> None:
    env = {"HOME": "/home/u", "XDG_CACHE_HOME": xdg, "PATH": "/usr/bin:/bin"}
    probe = "from fossp.catalog.cache import cache_dir; print(cache_dir())"
    shown = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", probe],
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == expected


def test_recommend_from_the_cache_answers_as_from_the_files(cache: Path, tmp_path: Path) -> None:
    asked = ("recommend", "a file share for windows clients and a databse", "--json")
    first = run_fossp(*asked)
    assert sorted(p.name.split("-")[0] for p in cache.iterdir()) == ["catalog", "lexicon", "vocabulary"]
    again = run_fossp(*asked)
    assert first.returncode == again.returncode == 1 and first.stdout == again.stdout  # 1: an unserved need
    [request] = json.loads(again.stdout)["requests"]
    assert request["unserved"] == {"windows-file-sharing": "file share windows"}
    assert request["did_you_mean"] == {"databse": ["database (relational-database)"]}
