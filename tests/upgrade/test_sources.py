"""Switching a host's apt sources to the target release: suite words only, files that change only."""

from __future__ import annotations

import pytest

from fossp.hosts.facts import Facts
from fossp.upgrade.facts import UpgradeFacts
from fossp.upgrade.releases import family_releases, resolve_target
from fossp.upgrade.sources import (
    LAB_SOURCE_FILE,
    UPGRADE_SOURCE_FILE,
    archive_source_switch,
    lab_source_switch,
    renamed_suites,
)


def rename(text: str) -> str:
    return renamed_suites(text, "bookworm", "trixie")


# --------------------------------------------------------------------------- renamed_suites


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "deb http://deb.debian.org/debian bookworm main",
            "deb http://deb.debian.org/debian trixie main",
        ),
        (
            "deb http://deb.debian.org/debian bookworm-updates main contrib",
            "deb http://deb.debian.org/debian trixie-updates main contrib",
        ),
        (
            "deb http://deb.debian.org/debian-security bookworm-security main",
            "deb http://deb.debian.org/debian-security trixie-security main",
        ),
        (
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main",
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main",
        ),
        ("Suites: bookworm bookworm-updates", "Suites: trixie trixie-updates"),
        ("Suites: bookworm-security\nComponents: main\n", "Suites: trixie-security\nComponents: main\n"),
        ("deb http://deb.debian.org/debian bookworm", "deb http://deb.debian.org/debian trixie"),  # at the end
    ],
)
def test_suite_words_are_renamed(line: str, expected: str) -> None:
    assert rename(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "deb http://x.example/debian bookwormish main",  # a longer word
        "deb http://x.example/debian mybookworm main",
        "deb http://x.example/debian bookworm2 main",
        "deb http://x.example/debian stable-bookworm main",
        "deb http://x.example/debian bookworm.1 main",
        "deb http://x.example/debian bookworm/updates main",  # not a codename-dash suite
        "deb http://x.example/bookworm-mirror/ stable main",  # inside a URL
        "deb http://bookworm.example.org/debian stable main",
        "deb [signed-by=/usr/share/keyrings/bookworm.gpg] http://x.example/ stable main",
        "Types: deb\nURIs: http://x.example/bookworm-mirror/debian\nSuites: stable\n",
        "deb http://deb.debian.org/debian trixie main",
    ],
)
def test_words_that_are_not_suites_are_left_alone(line: str) -> None:
    assert rename(line) == line


@pytest.mark.parametrize(
    "line",
    [
        "deb http://mirror.example/debian/bookworm stable main",
        "Types: deb\nURIs: http://mirror.example/archive/bookworm\nSuites: stable\n",
    ],
)
def test_a_url_ending_in_the_codename_is_left_alone(line: str) -> None:
    assert rename(line) == line


def test_a_suite_with_two_dashed_parts_is_renamed() -> None:
    assert rename("deb http://deb.debian.org/debian bookworm-proposed-updates main") == (
        "deb http://deb.debian.org/debian trixie-proposed-updates main"
    )


def test_every_suite_word_in_a_file_is_renamed_and_the_rest_kept() -> None:
    text = """\
# Debian 12
deb http://deb.debian.org/debian bookworm main non-free-firmware
deb-src http://deb.debian.org/debian bookworm main

deb http://deb.debian.org/debian-security bookworm-security main
deb http://deb.debian.org/debian bookworm-updates main
"""
    renamed = rename(text)
    assert renamed.splitlines()[1:] == [
        "deb http://deb.debian.org/debian trixie main non-free-firmware",
        "deb-src http://deb.debian.org/debian trixie main",
        "",
        "deb http://deb.debian.org/debian-security trixie-security main",
        "deb http://deb.debian.org/debian trixie-updates main",
    ]
    assert renamed.endswith("\n")


# --------------------------------------------------------------------------- archive_source_switch

DEBIAN_SOURCES = "/etc/apt/sources.list.d/debian.sources"
VENDOR_LIST = "/etc/apt/sources.list.d/vendor.list"
HOST_FILES = {
    DEBIAN_SOURCES: (
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n"
    ),
    VENDOR_LIST: "deb https://apt.vendor.example/debian stable main\n",
}


def host_facts() -> UpgradeFacts:
    return UpgradeFacts(base=Facts(host="web1"), point_release="12.15", source_files=dict(HOST_FILES))


def test_a_major_release_rewrites_only_the_files_that_name_the_codename() -> None:
    switch = archive_source_switch(resolve_target("debian", "12.15", "13"), host_facts())
    assert list(switch.files) == [DEBIAN_SOURCES]
    assert switch.files[DEBIAN_SOURCES] == HOST_FILES[DEBIAN_SOURCES].replace("bookworm", "trixie")
    assert switch.note == f"sources switched from bookworm to trixie in {DEBIAN_SOURCES}"


def test_a_major_release_with_no_file_to_change_says_so() -> None:
    facts = UpgradeFacts(base=Facts(host="web1"), source_files={VENDOR_LIST: HOST_FILES[VENDOR_LIST]})
    switch = archive_source_switch(resolve_target("debian", "12.15", "13"), facts)
    assert switch.files == {}
    assert switch.note.endswith("in no file")


@pytest.mark.parametrize(("to", "packages"), [("12", None), ("12.16", None), ("12", ["openssl"])])
def test_within_a_release_the_host_keeps_its_sources(to: str, packages: list[str] | None) -> None:
    switch = archive_source_switch(resolve_target("debian", "12.15", to, packages=packages), host_facts())
    assert switch.files == {}
    assert switch.note == "the host's own sources"


def test_a_bullseye_host_moves_to_bookworm() -> None:
    facts = UpgradeFacts(
        base=Facts(host="old1"),
        source_files={"/etc/apt/sources.list": "deb http://deb.debian.org/debian bullseye main\n"},
    )
    switch = archive_source_switch(resolve_target("debian", "11.9", "12"), facts)
    assert switch.files == {"/etc/apt/sources.list": "deb http://deb.debian.org/debian bookworm main\n"}


# --------------------------------------------------------------------------- lab_source_switch


def test_a_disposable_host_s_major_release_replaces_its_local_source() -> None:
    spec = family_releases("debian").releases[2].spec("debian")
    switch = lab_source_switch(resolve_target("debian", "12.15", "13"), spec)
    assert switch.files == {LAB_SOURCE_FILE: "deb [trusted=yes] file:/srv/fossp-suites/debian-13 ./\n"}
    assert "debian-13" in switch.note


@pytest.mark.parametrize(("to", "packages"), [("12", None), ("12", ["openssl"])])
def test_a_disposable_host_s_service_pack_or_fix_adds_an_updates_source(to: str, packages: list[str] | None) -> None:
    target = resolve_target("debian", "12.15", to, packages=packages)
    switch = lab_source_switch(target, target.release.spec("debian"))
    assert switch.files == {UPGRADE_SOURCE_FILE: "deb [trusted=yes] file:/srv/fossp-suites/debian-12 ./\n"}
    assert LAB_SOURCE_FILE not in switch.files
