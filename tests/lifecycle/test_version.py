"""Release levels: ordering, classification and the allowed transitions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fossp.errors import BadInput
from fossp.lifecycle.version import ChangeKind, Level, ReleaseVersion, check_changes, transition

versions = st.builds(ReleaseVersion, st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))


@given(versions)
def test_text_round_trip(version: ReleaseVersion) -> None:
    assert ReleaseVersion.parse(str(version)) == version


@given(versions, versions)
def test_ordering_is_numeric_not_textual(a: ReleaseVersion, b: ReleaseVersion) -> None:
    assert (a < b) == ((a.major, a.minor, a.fix) < (b.major, b.minor, b.fix))
    assert (a == b) == (a.key() == b.key())


@given(versions, versions)
def test_level_is_symmetric_and_matches_the_first_differing_part(a: ReleaseVersion, b: ReleaseVersion) -> None:
    assert a.level_to(b) == b.level_to(a)
    if a.major != b.major:
        assert a.level_to(b) is Level.MAJOR
    elif a.minor != b.minor:
        assert a.level_to(b) is Level.SERVICE_PACK
    elif a.fix != b.fix:
        assert a.level_to(b) is Level.INTERIM_FIX
    else:
        assert a.level_to(b) is None


@given(versions, versions)
def test_major_releases_never_downgrade_and_always_reboot(a: ReleaseVersion, b: ReleaseVersion) -> None:
    move = transition(a, b)
    if move.level is Level.MAJOR:
        assert move.reboot and move.group_update == "required"
        assert move.allowed == (b.major == a.major + 1)
        if b < a:
            assert not move.allowed
    else:
        assert move.allowed and not move.reboot


def test_seed_examples() -> None:
    assert transition(ReleaseVersion.parse("1.0"), ReleaseVersion.parse("2.0")).level is Level.MAJOR
    pack = transition(ReleaseVersion.parse("1.1"), ReleaseVersion.parse("1.2"))
    assert (pack.level, pack.group_update) == (Level.SERVICE_PACK, "preferred")
    fix = transition(ReleaseVersion.parse("1.1.1"), ReleaseVersion.parse("1.1.2"))
    assert (fix.level, fix.group_update) == (Level.INTERIM_FIX, "none")
    assert ReleaseVersion.parse("1.10") > ReleaseVersion.parse("1.9")
    assert ReleaseVersion.parse("1.1") == ReleaseVersion.parse("1.1.0")
    refused = transition(ReleaseVersion.parse("2.0"), ReleaseVersion.parse("1.4"))
    assert not refused.allowed and "cannot be downgraded" in refused.reason
    skipped = transition(ReleaseVersion.parse("1.0"), ReleaseVersion.parse("3.0"))
    assert not skipped.allowed and "one major release at a time" in skipped.reason


def test_service_packs_carry_only_security_and_critical_fixes() -> None:
    assert check_changes(Level.SERVICE_PACK, [ChangeKind.SECURITY, ChangeKind.CRITICAL]) == []
    assert check_changes(Level.SERVICE_PACK, [ChangeKind.FEATURE]) == ["a service-pack cannot contain a feature change"]
    assert check_changes(Level.INTERIM_FIX, [ChangeKind.BEHAVIOUR])
    assert check_changes(Level.MAJOR, list(ChangeKind)) == []


@pytest.mark.parametrize("text", ["1", "1.x", "v1.0", "01.0", "1.0.0.0", "", "1.-1"])
def test_bad_versions_are_refused(text: str) -> None:
    with pytest.raises(BadInput, match="is not a release version"):
        ReleaseVersion.parse(text)
