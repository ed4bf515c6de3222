"""Values reach files as data, quoted for the file's format; Augeas and line edits are idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from fossp.engine.recipe import AugeasEdit, AugeasEntry, AugeasSet, fact_paths, load_recipe
from fossp.engine.recipe_files import RECIPES_DIR
from fossp.engine.render import augeas_edit, bind_string, edit_text, ensure_line, nginx_string, render_template
from fossp.errors import BadInput

INJECTION = "$(touch /tmp/fossp-injected)"


def test_shell_syntax_lands_literally_in_the_page() -> None:
    page = render_template("web/index.html.j2", {"server_name": "localhost", "welcome_text": INJECTION + " <b>&"})
    assert INJECTION.encode() in page
    assert b"&lt;b&gt;&amp;" in page
    assert not Path("/tmp/fossp-injected").exists()


def test_quoting_for_config_formats() -> None:
    assert bind_string('a"b\\c') == '"a\\"b\\\\c"'
    assert nginx_string("/srv/my site") == '"/srv/my site"'
    with pytest.raises(BadInput, match=r"\$"):
        nginx_string("/srv/$(x)")


def test_ensure_line_appends_once() -> None:
    once = ensure_line(b"// local\n", 'include "/x";')
    assert once == b'// local\ninclude "/x";\n'
    assert ensure_line(once, 'include "/x";') == once
    assert ensure_line(b"no newline", "x") == b"no newline\nx\n"


def test_augeas_set_and_ensure_are_idempotent() -> None:
    conf = AugeasEdit(lens="Postgresql.lns", set=[AugeasSet(node="port", value="{port}")])
    first = augeas_edit("/etc/pg/postgresql.conf", b"# c\nport = 5432 # here\n", conf, {"port": "5433"})
    assert first == b"# c\nport = 5433 # here\n"
    assert augeas_edit("/etc/pg/postgresql.conf", first, conf, {"port": "5433"}) == first
    hba = AugeasEdit(
        lens="Pg_Hba.lns",
        ensure=[
            AugeasEntry(entry={"type": "host", "database": "d", "user": "all", "address": "{net}", "method": "md5"})
        ],
    )
    once = augeas_edit("/etc/pg/pg_hba.conf", b"local all all peer\n", hba, {"net": "10.0.0.0/8"})
    assert once.splitlines()[-1].split() == [b"host", b"d", b"all", b"10.0.0.0/8", b"md5"]
    assert augeas_edit("/etc/pg/pg_hba.conf", once, hba, {"net": "10.0.0.0/8"}) == once


def test_augeas_refuses_a_file_its_lens_cannot_parse() -> None:
    hba = AugeasEdit(lens="Pg_Hba.lns", ensure=[AugeasEntry(entry={"type": "host"})])
    with pytest.raises(BadInput, match="Augeas cannot parse"):
        augeas_edit("/etc/pg_hba.conf", b"this is { not pg_hba\n", hba, {})


def test_fact_paths_glob_what_only_facts_can_tell() -> None:
    paths = fact_paths([(load_recipe("postgresql"), {"port": 5432})])
    assert "/etc/postgresql/*/main/pg_hba.conf" in paths
    assert "/var/lib/pgsql/data/PG_VERSION" in paths


def test_every_recipe_loads_and_names_its_role() -> None:
    for path in sorted(RECIPES_DIR.glob("*.yaml")):
        assert load_recipe(path.stem).role == path.stem


def test_substitution_then_line_where_no_lens_exists() -> None:
    conf = b"options {\n\tlisten-on port 53 { 127.0.0.1; };\n};\n"
    pattern = r"listen-on port 53 \{ 127\.0\.0\.1; \};"
    once = edit_text(conf, [(pattern, r"listen-on port 53 { any; }; // \1 stays literal")], 'include "/z";')
    assert once == b'options {\n\tlisten-on port 53 { any; }; // \\1 stays literal\n};\ninclude "/z";\n'
    assert edit_text(once, [(pattern, "unused")], 'include "/z";') == once
