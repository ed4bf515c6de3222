"""What `--to`, `--level` and `--package` mean for a host: resolve_target and the release data."""

from __future__ import annotations

from itertools import pairwise

import pytest
import yaml

from fossp.catalog import CatalogError
from fossp.catalog.loader import DATA_DIR, parse_model
from fossp.errors import BadInput
from fossp.lifecycle.version import Level
from fossp.upgrade.migrations import Migration, migrations
from fossp.upgrade.releases import FamilyReleases, Target, family_releases, resolve_target

# --------------------------------------------------------------------------- debian: the three levels


@pytest.mark.parametrize("to", ["13", "trixie", "debian-13", "Trixie", " 13 ", "Debian 13"])
def test_the_next_release_by_version_codename_or_key_is_a_major_release(to: str) -> None:
    target = resolve_target("debian", "12.15", to)
    assert target.level is Level.MAJOR
    assert (target.current.version, target.release.version, target.release.codename) == ("12", "13", "trixie")
    assert target.point is None
    assert target.packages == ()
    assert target.reboot is True
    assert target.label == "debian 13 (trixie)"


def test_level_major_alone_picks_the_next_released_release() -> None:
    target = resolve_target("debian", "12.15", None, "major")
    assert (target.level, target.release.version) == (Level.MAJOR, "13")


def test_an_explicit_matching_level_is_accepted() -> None:
    assert resolve_target("debian", "12.15", "13", "major").level is Level.MAJOR
    assert resolve_target("debian", "12.15", "12", "service-pack").level is Level.SERVICE_PACK


@pytest.mark.parametrize("to", ["12", "bookworm", "debian-12"])
def test_the_installed_release_is_a_service_pack_to_its_newest_point(to: str) -> None:
    target = resolve_target("debian", "12.15", to)
    assert target.level is Level.SERVICE_PACK
    assert target.release.version == "12"
    assert target.point is None  # None: the newest point release the archive serves
    assert target.reboot is False
    assert target.label == "debian 12 service pack"


def test_level_service_pack_alone_stays_on_the_installed_release() -> None:
    target = resolve_target("debian", "12.15", None, "service-pack")
    assert (target.level, target.release.version, target.point) == (Level.SERVICE_PACK, "12", None)


@pytest.mark.parametrize("to", ["12.16", "debian-12.16"])
def test_a_later_point_release_is_a_service_pack_with_that_point(to: str) -> None:
    target = resolve_target("debian", "12.15", to)
    assert target.level is Level.SERVICE_PACK
    assert target.point == "12.16"
    assert target.label == "debian 12.16 service pack"
    assert target.summary()["point"] == "12.16"


def test_the_installed_point_release_itself_is_allowed() -> None:
    """Re-applying 12.15's updates on 12.15 is not a downgrade."""
    assert resolve_target("debian", "12.15", "12.15").point == "12.15"


def test_a_point_release_from_an_installed_major_without_point_is_accepted() -> None:
    assert resolve_target("debian", "12", "12.16").point == "12.16"


def test_a_point_release_written_with_the_family_and_a_space() -> None:
    assert resolve_target("debian", "12.15", "Debian 12.16").point == "12.16"


def test_package_names_make_an_interim_fix() -> None:
    target = resolve_target("debian", "12.15", "12", packages=["openssl", "libssl3", "openssl"])
    assert target.level is Level.INTERIM_FIX
    assert target.packages == ("openssl", "libssl3")  # order kept, duplicates dropped
    assert target.release.version == "12"
    assert target.point is None
    assert target.reboot is False
    assert target.label == "debian 12 interim fix (openssl, libssl3)"


def test_an_interim_fix_needs_no_to() -> None:
    target = resolve_target("debian", "12.15", None, "interim-fix", ["openssl"])
    assert (target.level, target.release.version, target.packages) == (Level.INTERIM_FIX, "12", ("openssl",))


def test_the_summary_names_both_sides() -> None:
    summary = resolve_target("debian", "12.15", "13").summary()
    assert summary == {
        "family": "debian",
        "from": "12",
        "to": "13",
        "codename": "trixie",
        "level": "major",
        "point": None,
        "packages": [],
        "reboot": True,
        "label": "debian 13 (trixie)",
    }


# --------------------------------------------------------------------------- debian: refused


def _refused(*args: object, **kwargs: object) -> str:
    with pytest.raises(BadInput) as caught:
        resolve_target(*args, **kwargs)  # type: ignore[arg-type]
    return caught.value.message


def test_an_unknown_release_is_refused_naming_the_known_ones() -> None:
    message = _refused("debian", "12.15", "buster")
    assert message.startswith("--to 'buster': unknown debian release")
    assert "12 (bookworm)" in message and "13 (trixie)" in message


def test_an_installed_release_not_in_the_data_is_refused() -> None:
    assert "the installed release debian '9.13' is not in the release data" in _refused("debian", "9.13", "10")


def test_a_major_downgrade_is_refused() -> None:
    message = _refused("debian", "12.15", "11")
    assert message == "--to '11': a downgrade from debian 12; restore a snapshot instead"
    assert "downgrade" in _refused("debian", "12.15", "bullseye")


def test_a_point_release_downgrade_is_refused() -> None:
    assert _refused("debian", "12.15", "12.14") == "--to '12.14': a downgrade from 12.15; restore a snapshot instead"


def test_a_skipped_major_release_is_refused() -> None:
    assert _refused("debian", "11.9", "13") == "--to '13': skips a major release; upgrade to debian 12 first"


def test_an_unreleased_release_is_refused() -> None:
    assert _refused("debian", "13.1", "14") == "--to '14': debian 14 (forky) is not released yet"
    assert "not released yet" in _refused("debian", "13.1", "forky")


def test_level_major_on_the_newest_release_is_refused() -> None:
    """forky (14) is in the data but not released: --level major from 13 has nowhere to go."""
    assert _refused("debian", "13.1", None, "major") == "no major release after debian 13 in the release data"


def test_a_level_that_contradicts_to_is_refused() -> None:
    message = _refused("debian", "12.15", "13", "service-pack")
    assert message == "--level service-pack does not match --to '13': that is a major"
    assert "that is a service-pack" in _refused("debian", "12.15", "12", "major")
    assert "that is a service-pack" in _refused("debian", "12.15", "12", "interim-fix")


def test_an_unknown_level_is_refused_naming_the_levels() -> None:
    message = _refused("debian", "12.15", "13", "hotfix")
    assert message == "--level 'hotfix': not a release level (choose major, service-pack, interim-fix)"


def test_nowhere_to_go_is_refused() -> None:
    assert _refused("debian", "12.15", None).startswith("say where to go: --to RELEASE or --level")


@pytest.mark.parametrize("name", ["OpenSSL", "-rf", "libssl3;reboot", "a b", "", "x" * 101, "../etc"])
def test_bad_package_names_are_refused(name: str) -> None:
    assert _refused("debian", "12.15", "12", packages=[name]) == f"--package {name!r}: not a package name"


def test_package_names_in_debian_policy_form_are_accepted() -> None:
    names = ["libstdc++6", "g++-12", "python3.11", "0ad", "x" * 100]
    assert resolve_target("debian", "12.15", "12", packages=names).packages == tuple(names)


def test_packages_with_a_major_release_are_refused() -> None:
    message = _refused("debian", "12.15", "13", packages=["openssl"])
    assert message == "--package names an interim fix: it stays within the installed release"
    assert "interim fix" in _refused("debian", "12.15", None, "major", ["openssl"])


def test_a_point_release_of_another_form_is_refused() -> None:
    assert _refused("debian", "12.15", "12.x") == "--to '12.x': a point release is written 12.N"


def test_an_unknown_family_is_refused() -> None:
    assert "no release data for the ubuntu family" in _refused("ubuntu", "24.04", "24.10")


# --------------------------------------------------------------------------- fedora


def test_fedora_next_release_is_a_major_release() -> None:
    target = resolve_target("fedora", "40", "41")
    assert target.level is Level.MAJOR
    assert (target.current.version, target.release.version, target.release.codename) == ("40", "41", "f41")
    assert target.label == "fedora 41 (f41)"
    assert resolve_target("fedora", "40", "f41").release.version == "41"
    assert resolve_target("fedora", "40", "fedora-41").release.version == "41"


def test_fedora_skipping_a_release_is_refused() -> None:
    assert _refused("fedora", "40", "42") == "--to '42': skips a major release; upgrade to fedora 41 first"


def test_fedora_service_pack_stays_on_the_release() -> None:
    target = resolve_target("fedora", "41", None, "service-pack")
    assert (target.level, target.release.version) == (Level.SERVICE_PACK, "41")


def test_fedora_releases_come_from_the_recorded_data_with_their_sources() -> None:
    data = family_releases("fedora")
    assert [r.version for r in data.releases] == ["39", "40", "41", "42", "43"]
    for release in data.releases:
        assert release.released is not None
        assert release.source.startswith("https://")
        assert release.spec("fedora").key == f"fedora-{release.version}"


# --------------------------------------------------------------------------- the data files


def test_the_debian_data_validates_and_is_ordered() -> None:
    data = family_releases("debian")
    assert data.family == "debian"
    versions = [r.major for r in data.releases]
    assert versions == sorted(versions)
    assert all(b == a + 1 for a, b in pairwise(versions)), "consecutive majors: skipping is judged on +1"
    for release in data.releases:
        assert release.source.startswith("https://www.debian.org/releases/")
        if release.released is not None:
            assert release.security_end is not None and release.released < release.security_end
            assert release.lts_end is None or release.security_end < release.lts_end
        suites = {s for source in release.sources for s in source.suites}
        assert release.codename in suites
        assert f"{release.codename}-security" in suites


def test_a_release_spec_carries_its_apt_sources() -> None:
    trixie = family_releases("debian").find("13")
    assert trixie is not None
    spec = trixie.spec("debian")
    assert spec.key == "debian-13"
    assert {(s.uri, s.suites) for s in spec.sources} == {
        ("http://deb.debian.org/debian", ("trixie", "trixie-updates")),
        ("http://deb.debian.org/debian-security", ("trixie-security",)),
    }


def test_the_release_schema_refuses_unknown_keys_and_bad_sources() -> None:
    raw = yaml.safe_load((DATA_DIR / "upgrade" / "debian.yaml").read_text())
    parse_model(FamilyReleases, raw, "debian.yaml")  # the file as shipped
    raw["releases"][0]["eol"] = "2026-01-01"
    with pytest.raises(CatalogError, match=r"debian\.yaml"):
        parse_model(FamilyReleases, raw, "debian.yaml")
    raw = yaml.safe_load((DATA_DIR / "upgrade" / "debian.yaml").read_text())
    raw["releases"][0]["sources"][0]["uri"] = "ftp://example.org/debian"
    with pytest.raises(CatalogError):
        parse_model(FamilyReleases, raw, "debian.yaml")


def test_the_migrations_data_validates_and_uses_only_known_placeholders() -> None:
    loaded = migrations()
    assert {m.role for m in loaded} == {"postgresql", "mariadb"}
    for migration in loaded:
        for steps in (migration.debian, migration.fedora):
            assert steps is not None, migration.role
            assert steps.source.startswith("https://")
            for argv in [*steps.run, *steps.after]:
                for item in argv:
                    item.format(old="O", new="N", cluster="C")  # no other placeholder
    raw = yaml.safe_load((DATA_DIR / "upgrade" / "migrations.yaml").read_text())
    raw[0]["detect"]["kind"] = "guess"
    with pytest.raises(CatalogError):
        parse_model(Migration, raw[0], "migrations.yaml")


def test_target_is_a_frozen_value() -> None:
    target = resolve_target("debian", "12.15", "13")
    assert isinstance(target, Target)
    with pytest.raises(AttributeError):
        target.level = Level.SERVICE_PACK  # type: ignore[misc]
