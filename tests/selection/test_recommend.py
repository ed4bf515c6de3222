"""recommend: a role for every feature, reasons, alternatives, dependencies, conflicts."""

from __future__ import annotations

import pytest

from fossp.catalog import Catalog
from fossp.catalog.schema import Family
from fossp.errors import BadInput
from fossp.selection.offer import in_deploy_order
from fossp.selection.recommend import recommend


def test_every_feature_in_the_vocabulary_gets_a_role(catalog: Catalog) -> None:
    for feature in catalog.features:
        result = recommend([feature], catalog, include_preview=True)
        assert result.choices, feature
        provided = {f for c in result.choices for f in c.role.features}
        replaced = [
            c for c in result.choices if any(r.startswith(f"offered for {feature} in place of") for r in c.reasons)
        ]
        assert feature in provided or replaced, feature
        assert [u for u in result.unmet if u.feature == feature] == []


def test_a_dead_roles_replacement_is_offered_in_its_place(catalog: Catalog) -> None:
    result = recommend(["aws"], catalog)
    choice = result.choices[0]
    assert choice.role.id == catalog.role("eucalyptus").upstream.replacement_role == "FOSSP-CLSOS"
    assert "in place of Eucalyptus (FOSSP-CLSEU)" in choice.reasons[0]
    assert [a.role.id for a in choice.alternatives] == ["FOSSP-CLSEU"]


def test_preview_roles_without_packages_are_offered_only_on_request_with_a_warning(catalog: Catalog) -> None:
    assert recommend(["wildfly"], catalog).choices[0].role.name == "wildfly"  # named: offered, with warnings
    default = recommend(["java-application-server"], catalog)
    assert default.choices == [] and "use --include-preview" in default.unmet[0].reason
    preview = recommend(["java-application-server"], catalog, include_preview=True)
    assert preview.choices[0].role.name == "wildfly"
    assert any(r.startswith("warning: no distribution package") for r in preview.choices[0].reasons)


def test_choice_says_why_and_lists_alternatives(catalog: Catalog) -> None:
    result = recommend(["relational-database"], catalog)
    first = result.choices[0]
    assert first.role.id == max(catalog.providers("relational-database"), key=lambda r: r.preference).id
    assert any("provides relational-database" in reason for reason in first.reasons)
    assert {a.role.id for a in first.alternatives} == {r.id for r in catalog.providers("relational-database")} - {
        first.role.id
    }


def test_httpd_and_nginx_conflict_on_port_80_with_a_way_out(catalog: Catalog) -> None:
    result = recommend(["httpd", "nginx"], catalog)
    ports = [c for c in result.conflicts if c.kind == "port" and "80/tcp" in c.reason]
    assert ports, result.conflicts
    assert "separate hosts" in ports[0].resolution
    assert "http_port" in ports[0].resolution or "port" in ports[0].resolution
    assert not result.ok


def test_moving_a_port_by_setting_resolves_the_conflict(catalog: Catalog) -> None:
    nginx = catalog.role("nginx")
    result = recommend(["httpd", "nginx"], catalog, overrides={nginx.id: {"http_port": 8080}})
    assert not [c for c in result.conflicts if c.reason.startswith("both listen on 80/tcp")]
    assert [c.settings for c in result.choices if c.role.id == nginx.id] == [{"http_port": 8080}]


def test_samba_ad_and_389ds_conflict_on_the_ldap_ports(catalog: Catalog) -> None:
    result = recommend(["samba-ad", "389ds"], catalog)
    reasons = " ".join(c.reason for c in result.conflicts)
    assert "389/tcp" in reasons and "636/tcp" in reasons


def test_every_declared_conflict_is_reported(catalog: Catalog) -> None:
    for role in catalog.roles.values():
        for relation in role.conflicts:
            other = catalog.roles[relation.role]
            result = recommend([role.name, other.name], catalog, include_preview=True)
            declared = [c for c in result.conflicts if c.kind == "declared" and c.first == role.id]
            assert declared and declared[0].reason == relation.reason, (role.id, other.id)
            assert declared[0].resolution


def test_requirements_are_added_with_their_reason(catalog: Catalog) -> None:
    for role in catalog.roles.values():
        if not role.requires:
            continue
        result = recommend([role.name], catalog, include_preview=True)
        chosen = {c.role.id: c for c in result.choices}
        for relation in role.requires:
            assert relation.role in chosen, (role.id, relation.role)


def test_implied_features_are_chosen_too(catalog: Catalog) -> None:
    result = recommend(["network boot"], catalog, include_preview=True)
    provided = {f for c in result.choices for f in c.role.features}
    assert {"network-boot", "dhcp"} <= provided


def test_family_filter_skips_roles_without_packages(catalog: Catalog) -> None:
    for role in catalog.roles.values():
        if role.available_on(Family.FEDORA) or not role.available_on(Family.DEBIAN):
            continue
        for feature in role.features:
            result = recommend([feature], catalog, family=Family.FEDORA, include_preview=True)
            assert role.id not in {c.role.id for c in result.choices if c.required_by is None}, feature


def test_unknown_feature_lists_the_closest_matches(catalog: Catalog) -> None:
    with pytest.raises(BadInput, match=r"unknown feature 'postgress': .*closest: postgres \(postgresql-database\)"):
        recommend(["postgress"], catalog)


def test_required_roles_deploy_before_the_roles_needing_them(catalog: Catalog) -> None:
    bacula, postgresql, nginx = (catalog.role(name).id for name in ("bacula", "postgresql", "nginx"))
    assert in_deploy_order(catalog, [nginx, bacula, postgresql]) == [nginx, postgresql, bacula]
    assert in_deploy_order(catalog, [postgresql, nginx]) == [postgresql, nginx]


def test_a_deploy_adds_the_required_role_first(catalog: Catalog) -> None:
    from fossp.engine.jobs import choose

    choices, _ = choose(catalog, ["bacula"], None, {}, include_preview=False)
    assert [role_id for role_id, _ in choices] == [catalog.role("postgresql").id, catalog.role("bacula").id]
