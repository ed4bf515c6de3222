"""Free text is understood as features and role names."""

from __future__ import annotations

import pytest

from fossp.catalog import Catalog
from fossp.selection.text import match_text, tokens


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("postgres", "postgresql-database"),
        ("load balancer", "load-balancing"),
        ("windows domain logins", "windows-domain"),
        ("network boot", "network-boot"),
        ("We need a DNS zone for the office", "dns"),
        ("Web sites over HTTPS", "web-server"),
    ],
)
def test_phrases_find_their_feature(catalog: Catalog, text: str, feature: str) -> None:
    assert feature in match_text(text, catalog).features


def test_role_names_pin_roles(catalog: Catalog) -> None:
    found = match_text("nginx in front of FOSSP-DASPO", catalog)
    assert set(found.roles) == {"FOSSP-WDSNG", "FOSSP-DASPO"}


def test_longest_phrase_wins_and_words_are_used_once(catalog: Catalog) -> None:
    found = match_text("reverse proxy", catalog)
    assert list(found.features) == ["reverse-proxy"]


def test_unknown_words_are_reported_not_silently_dropped(catalog: Catalog) -> None:
    found = match_text("a web server with blockchain", catalog)
    assert found.ignored == ["blockchain"]
    assert "web-server" in found.features


def test_plural_and_case_folding() -> None:
    assert tokens("Databases, LOGINS and DNS") == ["database", "login", "and", "dns"]
