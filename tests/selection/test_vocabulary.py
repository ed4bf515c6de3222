"""The vocabulary file is data with a schema: refused with the file, the field and why
when it is wrong, and every phrase in it means what it is listed for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fossp.catalog import Catalog, CatalogError
from fossp.selection.text import Lexicon, match_text
from fossp.selection.vocabulary import VOCABULARY_FILE, check_against, load_vocabulary, parse_vocabulary


def _written(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load(VOCABULARY_FILE.read_text())
    data.update(change)
    path = tmp_path / "vocabulary.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_packaged_vocabulary_names_only_what_the_catalog_has(catalog: Catalog) -> None:
    check_against(load_vocabulary(), catalog, VOCABULARY_FILE.name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": {"dns": {"synonyms": ["dns"]}, "dhcp": {"synonyms": ["dns"]}}}, "'dns' is listed for feature"),
        ({"stop_words": ["a", True]}, "field 'stop_words.1': Input should be a valid string"),
        ({"roles": {"nginx": {"products": ["Engine X"]}}}, "field 'roles.nginx.products.0'"),
        ({"unserved": [{"key": "mail", "name": "mail", "near": [{"why": "x"}]}]}, "exactly one of feature and role"),
        ({"features": {"dns": {"aliases": ["x"]}}}, "field 'features.dns.aliases': Extra inputs are not permitted"),
    ],
)
def test_a_wrong_vocabulary_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(CatalogError, match=r"^vocabulary\.yaml: ") as error:
        parse_vocabulary(_written(tmp_path, change))
    assert message in error.value.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": {"time-travel": {}}}, "field 'features.time-travel': unknown feature 'time-travel'"),
        ({"roles": {"exchange": {}}}, "field 'roles.exchange': unknown role 'exchange'"),
        (
            {"unserved": [{"key": "mail", "name": "mail", "near": [{"feature": "post", "why": "x"}]}]},
            "field 'unserved.0.near': unknown feature 'post'",
        ),
    ],
)
def test_a_vocabulary_naming_what_the_catalog_lacks_is_refused(
    tmp_path: Path, catalog: Catalog, change: dict[str, object], message: str
) -> None:
    with pytest.raises(CatalogError, match=message):
        check_against(parse_vocabulary(_written(tmp_path, change)), catalog, "vocabulary.yaml")


def test_every_phrase_means_what_it_is_listed_for(catalog: Catalog) -> None:
    """No phrase is shadowed by another (a role's name, a longer phrase): typed alone, each
    finds its feature (or a role that provides it), its role, or its unserved need."""
    vocabulary, lexicon = load_vocabulary(), Lexicon.build(catalog)
    by_name = {role.name: role for role in catalog.roles.values()}
    for key, terms in vocabulary.features.items():
        for _, phrase in terms.by_kind():
            found = match_text(phrase, lexicon)
            roles = [catalog.roles[r] for r in found.targets("role")]
            assert key in found.targets("feature") or any(key in r.features for r in roles), phrase
    for name, terms in vocabulary.roles.items():
        for _, phrase in terms.by_kind():
            assert list(match_text(phrase, lexicon).targets("role")) == [by_name[name].id], phrase
    for need in vocabulary.unserved:
        for _, phrase in need.by_kind():
            assert list(match_text(phrase, lexicon).targets("unserved")) == [need.key], phrase
