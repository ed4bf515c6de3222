"""Profiles: validated on load, canonical on save; loading and saving again is a no-op."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fossp.catalog import Catalog, load_catalog
from fossp.catalog.schema import MIN_SECRET_LENGTH, Setting, SettingType
from fossp.errors import BadInput
from fossp.selection.profile import (
    Profile,
    RoleChoice,
    dump_profile,
    load_profile,
    parse_profile,
    save_profile,
    typed_value,
)

CATALOG = load_catalog()


def value_for(setting: Setting) -> st.SearchStrategy[Any]:
    """Valid values of one setting, drawn from its own schema."""
    kind = setting.type
    if kind is SettingType.BOOLEAN:
        return st.booleans()
    if kind in (SettingType.PORT, SettingType.INTEGER):
        low = setting.minimum if setting.minimum is not None else (1 if kind is SettingType.PORT else -(10**6))
        high = setting.maximum if setting.maximum is not None else (65535 if kind is SettingType.PORT else 10**6)
        return st.integers(low, high)
    if kind is SettingType.CHOICE:
        return st.sampled_from(setting.choices or [])
    if setting.default is not None:
        return st.just(setting.default)
    text = st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"])
    if kind is SettingType.SECRET and setting.pattern is None:
        references = st.sampled_from(["from_file", "from_env"]).map(lambda kind: {kind: "FOSSP_TEST_SECRET"})
        return st.text(text, min_size=MIN_SECRET_LENGTH, max_size=20) | references
    if kind is SettingType.STRING and setting.pattern is None:
        return st.text(text, min_size=1, max_size=20)
    return st.nothing()


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    ids = draw(st.lists(st.sampled_from(sorted(CATALOG.roles)), unique=True, max_size=6))
    choices = []
    for role_id in ids:
        values = {}
        for setting in CATALOG.roles[role_id].settings:
            strategy = value_for(setting)
            if not strategy.is_empty and draw(st.booleans()):
                values[setting.name] = draw(strategy)
        choices.append(RoleChoice(id=role_id, settings=values))
    description = draw(st.none() | st.text(st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=30))
    return Profile(description=description, roles=choices)


@given(profiles())
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_profile_round_trip(profile: Profile) -> None:
    import yaml

    text = dump_profile(profile)
    loaded = parse_profile(yaml.safe_load(text), CATALOG, "profile")
    assert loaded == profile
    assert dump_profile(loaded) == text


def test_save_and_load_give_the_same_file(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "web.yaml"
    profile = Profile(
        roles=[RoleChoice(id="FOSSP-WDSNG", settings={"http_port": 8080, "server_name": "www.example.org"})]
    )
    save_profile(profile, path, catalog)
    first = path.read_bytes()
    save_profile(load_profile(path, catalog), path, catalog)
    assert path.read_bytes() == first
    assert first.startswith(b"fossp_profile: 1\n")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("roles: 3\n", "field 'roles'"),
        ("fossp_profile: 9\nroles: []\n", "field 'fossp_profile'"),
        ("roles:\n- id: FOSSP-ZZSZZ\n", "unknown role FOSSP-ZZSZZ"),
        ("roles:\n- id: FOSSP-WDSNG\n- id: FOSSP-WDSNG\n", "listed twice"),
        (
            "roles:\n- id: FOSSP-WDSNG\n  settings: {http_port: 99999}\n",
            "setting 'http_port': 99999 is above the maximum",
        ),
        ("roles:\n- id: FOSSP-WDSNG\n  settings: {colour: red}\n", "has no setting 'colour'"),
        ("- just a list\n", "a profile is a mapping"),
        ('description: "two\\nlines"\nroles: []\n', "line breaks are not allowed"),
        ("roles: [\n", "is not valid YAML"),
    ],
)
def test_bad_profiles_are_refused_with_one_clear_line(
    tmp_path: Path, catalog: Catalog, data: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(data)
    with pytest.raises(BadInput) as caught:
        load_profile(path, catalog)
    assert message in caught.value.message
    assert str(path) in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("10.0.0.1", ["10.0.0.1"]),
        ("10.0.0.1, 10.0.0.2", ["10.0.0.1", "10.0.0.2"]),
        ("[10.0.0.1, 10.0.0.2]", ["10.0.0.1", "10.0.0.2"]),
        ("- 10.0.0.1", ["10.0.0.1"]),
    ],
)
def test_a_list_setting_is_typed_as_its_items_or_as_yaml(typed: str, value: list[str]) -> None:
    setting = CATALOG.role("kea").setting("dns_servers")
    assert setting is not None and setting.type is SettingType.LIST
    assert typed_value(setting, typed) == value
    assert typed_value(CATALOG.role("nginx").setting("http_port"), "8080") == 8080  # other types: a YAML scalar
