"""Free text is understood through the vocabulary: stems, phrases, filler, slips."""

from __future__ import annotations

import pytest

from fossp.catalog import Catalog
from fossp.selection.text import Lexicon, match_text, suggest, words


@pytest.fixture(scope="module")
def lexicon(catalog: Catalog) -> Lexicon:
    return Lexicon.build(catalog)


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("postgres", "postgresql-database"),
        ("load balancer", "load-balancing"),
        ("windows domain logins", "windows-domain"),
        ("network boot", "network-boot"),
        ("We need a DNS zone for the office", "dns"),
        ("Web sites over HTTPS", "web-server"),
        ("booting machines over the network", "network-boot"),
    ],
)
def test_phrases_find_their_feature(lexicon: Lexicon, text: str, feature: str) -> None:
    assert feature in match_text(text, lexicon).targets("feature")


def test_role_names_pin_roles(lexicon: Lexicon) -> None:
    found = match_text("nginx in front of FOSSP-DASPO", lexicon)
    assert set(found.targets("role")) == {"FOSSP-WDSNG", "FOSSP-DASPO"}


def test_product_names_in_the_vocabulary_pin_their_role(lexicon: Lexicon) -> None:
    assert list(match_text("apache", lexicon).targets("role")) == ["FOSSP-WDSHT"]


def test_longest_phrase_wins_and_words_are_used_once(lexicon: Lexicon) -> None:
    found = match_text("reverse proxy", lexicon)
    assert [(m.words, m.term.target) for m in found.matches] == [("reverse proxy", "reverse-proxy")]


def test_a_phrase_matches_its_words_in_another_order_within_one_clause(lexicon: Lexicon) -> None:
    found = match_text("a file share for windows clients", lexicon)
    assert [(m.words, m.term.target) for m in found.matches] == [("file share windows", "windows-file-sharing")]


def test_a_phrase_never_spans_an_and_or_a_comma(lexicon: Lexicon) -> None:
    for text in ("file server and windows logins", "file server, windows logins"):
        assert set(match_text(text, lexicon).targets("feature")) == {"network-file-sharing", "windows-domain"}, text


def test_a_word_of_the_same_target_beside_a_match_joins_it(lexicon: Lexicon) -> None:
    found = match_text("windows domain logins", lexicon)
    assert [m.words for m in found.matches] == ["windows domain logins"] and found.ignored == []


def test_unknown_words_are_reported_not_silently_dropped(lexicon: Lexicon) -> None:
    found = match_text("a web server with blockchain", lexicon)
    assert found.ignored == ["blockchain"] and found.filler == ["a", "with"]
    assert "web-server" in found.targets("feature")


def test_needs_without_a_role_are_understood_as_such(lexicon: Lexicon) -> None:
    assert list(match_text("mail server", lexicon).targets("unserved")) == ["mail"]
    assert list(match_text("docker registry", lexicon).targets("unserved")) == ["container-registry"]


def test_stems_and_case_fold_inflections_together() -> None:
    found = words("Databases, LOGINS and Sharing", frozenset({"and"}))
    assert [(w.text, w.stem) for w in found] == [
        ("databases", "databas"),
        ("logins", "login"),
        ("and", "and"),
        ("sharing", "share"),
    ]
    assert found[2].filler and len({w.clause for w in found}) == 4


@pytest.mark.parametrize(
    ("slip", "meant"),
    [("postgress", "postgres"), ("ngnix", "nginx"), ("databse", "database"), ("monitorring", "monitoring")],
)
def test_slips_get_the_word_they_look_like(lexicon: Lexicon, slip: str, meant: str) -> None:
    assert meant in [t.text.casefold() for t in suggest(slip, lexicon)]


@pytest.mark.parametrize("word", ["php", "lab", "teleportation", "blockchain", "storage", "network", "wifi"])
def test_no_nonsense_suggestions(lexicon: Lexicon, word: str) -> None:
    assert suggest(word, lexicon) == []
