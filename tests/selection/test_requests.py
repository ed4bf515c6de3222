"""Requests as administrators phrase them (requests.yaml) get the roles they should: whole
sentences, product and protocol names, needs FOSSP has no role for, and gibberish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.catalog import Catalog
from fossp.catalog.schema import Family
from fossp.errors import EXIT_ERROR, EXIT_FINDING, EXIT_OK, BadInput
from fossp.selection.recommend import Recommendation, recommend

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "requests.yaml").read_text())


def _id(case: dict[str, Any]) -> str:
    ask = case["ask"] if isinstance(case["ask"], str) else " | ".join(case["ask"])
    return (
        ask
        + (f" [{case['family']}]" if "family" in case else "")
        + (" [preview]" if case.get("include_preview") else "")
    )


def _answer(case: dict[str, Any], catalog: Catalog) -> Recommendation:
    ask = [case["ask"]] if isinstance(case["ask"], str) else case["ask"]
    family = Family(case["family"]) if "family" in case else None
    return recommend(ask, catalog, family=family, include_preview=case.get("include_preview", False))


def test_the_table_has_enough_requests_of_each_kind() -> None:
    assert len(CASES) >= 60
    assert sum(1 for c in CASES if c.get("unserved")) >= 15 and sum(1 for c in CASES if c.get("error")) >= 3


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_a_request_gets_the_roles_it_should(catalog: Catalog, case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(BadInput, match="unknown feature"):
            _answer(case, catalog)
        return
    result = _answer(case, catalog)
    assert sorted(c.role.name for c in result.choices) == sorted(case["roles"])
    assert sorted(u.need.key for u in result.unserved) == sorted(case.get("unserved", []))
    assert sorted(u.feature for u in result.unmet) == sorted(case.get("unmet", []))
    assert sorted(w for r in result.requests for w in r.ignored) == sorted(case.get("ignored", []))
    if "nearest" in case:
        assert [n.role.name for u in result.unserved for n in u.nearest] == case["nearest"]


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_the_exit_code_follows_the_answer(catalog: Catalog, case: dict[str, Any]) -> None:
    """2 when nothing is understood; 1 when a need is unserved or unmet or a role cannot deploy."""
    try:
        result = _answer(case, catalog)
    except BadInput as error:
        assert error.exit_code == EXIT_ERROR and case.get("error")
        return
    undeployable = any(c.deploy_problem for c in result.choices)
    finding = bool(case.get("unserved") or case.get("unmet")) or undeployable
    assert (EXIT_OK if result.ok else EXIT_FINDING) == (EXIT_FINDING if finding else EXIT_OK)


def test_an_unserved_need_says_so_and_names_only_what_is_near(catalog: Catalog) -> None:
    (mail,) = recommend(["mail server"], catalog).unserved
    assert mail.message == "FOSSP has no role for e-mail; nothing in the catalog is near it"
    (smb,) = recommend(["I need a file share for windows clients"], catalog).unserved
    assert smb.message.startswith("FOSSP has no role for Windows (SMB) file shares; the nearest: NFSv4 server (nfs)")


def test_a_role_that_cannot_deploy_is_marked_and_a_deployable_one_named(catalog: Catalog) -> None:
    bareos = recommend(["bareos"], catalog).choices[0]
    assert bareos.deploy_problem == "FOSSP has no deploy recipe for it yet" and bareos.deploys_on == []
    assert [a.role.name for a in bareos.alternatives] == ["bacula"]


def test_a_provider_that_deploys_wins_over_one_of_higher_preference_that_does_not(catalog: Catalog) -> None:
    result = recommend(["backup"], catalog, include_preview=True)
    assert result.choices[0].role.name == "bacula"
    assert catalog.role("bareos").preference > catalog.role("bacula").preference  # what makes this a test
    assert "Bareos ranks higher but FOSSP does not deploy it" in result.choices[0].reasons[0]


def test_each_role_says_which_families_it_deploys_on(catalog: Catalog) -> None:
    (asterisk,) = recommend(["voip"], catalog).choices
    assert asterisk.deploys_on == [Family.FEDORA]
    assert recommend(["web server"], catalog, family=Family.DEBIAN).choices[0].deploys_on == [Family.DEBIAN]
