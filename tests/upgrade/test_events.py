"""Package events from small hand-made archive indexes, one per kind."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fossp.upgrade.events import (
    is_library,
    major_change_of,
    major_changes,
    package_events,
    versioned,
)
from fossp.upgrade.model import ArchiveIndex, EventKind, PackageEvent, PackageRecord


def rec(name: str, version: str = "1.0-1", **fields: object) -> PackageRecord:
    defaults: dict[str, object] = {"source": name, "source_version": version, "suite": "trixie"}
    return PackageRecord(name=name, version=version, **{**defaults, **fields})  # type: ignore[arg-type]


def index(*records: PackageRecord, key: str = "debian-13") -> ArchiveIndex:
    return ArchiveIndex(key=key, packages={r.name: r for r in records}, releases=(), fetched_at="2026-01-01T00:00:00")


def only(events: list[PackageEvent], package: str) -> PackageEvent:
    found = [event for event in events if event.package == package]
    assert len(found) == 1, events
    return found[0]


def test_upgraded_downgraded_and_unchanged() -> None:
    target = index(rec("bash", "5.2.37-2"), rec("tzdata", "2024a-1"), rec("sed", "4.9-2"), rec("zlib1g", "1:1.3-1"))
    installed = {"bash": "5.2.15-2", "tzdata": "2026b-0+deb12u1", "sed": "4.9-2", "zlib1g": "1:1.2.13-1"}
    events = package_events(installed, target)
    assert [(e.package, e.kind) for e in events] == [
        ("bash", EventKind.UPGRADED),
        ("tzdata", EventKind.DOWNGRADED),
        ("zlib1g", EventKind.UPGRADED),  # the epoch makes it newer, not a string compare
    ]
    assert only(events, "bash").target_version == "5.2.37-2"
    assert "5.2.37-2" in only(events, "bash").evidence


def test_debian_version_order_not_string_order() -> None:
    # "1.10" > "1.9" and "1.0~rc1" < "1.0": a string compare gets both wrong
    target = index(rec("a", "1.10-1"), rec("b", "1.0~rc1-1"))
    events = package_events({"a": "1.9-1", "b": "1.0-1"}, target)
    assert [(e.package, e.kind) for e in events] == [("a", EventKind.UPGRADED), ("b", EventKind.DOWNGRADED)]


def test_postgresql_major_version_follows_the_metapackage() -> None:
    target = index(
        rec("postgresql", "17+278", depends=("postgresql-17",)),
        rec("postgresql-16", "16.4-1"),  # a newer-than-15 number the metapackage does not pick
        rec("postgresql-17", "17.5-1"),
        rec("postgresql-18", "18.0-1"),  # the highest number, also not the metapackage's
        rec("postgresql-client-17", "17.5-1"),
    )
    installed = {"postgresql": "15+248", "postgresql-15": "15.8-0+deb12u1", "postgresql-client-15": "15.8-0+deb12u1"}
    events = package_events(installed, target)
    server = only(events, "postgresql-15")
    assert server.kind is EventKind.MAJOR_VERSION
    assert (server.old_major, server.new_major) == ("15", "17")
    assert server.replacements == ("postgresql-17",)
    assert server.target_version == "17.5-1"
    assert "postgresql depends on postgresql-17" in server.evidence
    client = only(events, "postgresql-client-15")
    assert (client.kind, client.new_major) == (EventKind.MAJOR_VERSION, "17")
    assert only(events, "postgresql").kind is EventKind.UPGRADED
    assert major_change_of(events, "postgresql") == server
    assert major_change_of(events, "mariadb") is None
    assert major_changes(events, ["postgresql-client"]) == [client]


def test_major_version_without_metapackage_takes_the_newest_number() -> None:
    target = index(rec("libicu74", "74.1-1"), rec("libicu76", "76.1-4"), rec("python3.13", "3.13.5-2"))
    events = package_events({"libicu72": "72.1-3", "python3.11": "3.11.2-6"}, target)
    icu = only(events, "libicu72")
    assert (icu.kind, icu.old_major, icu.new_major, icu.replacements) == (
        EventKind.MAJOR_VERSION,
        "72",
        "76",
        ("libicu76",),
    )
    python = only(events, "python3.11")
    assert (python.old_major, python.new_major) == ("3.11", "3.13")


def test_suffix_must_match_for_a_major_version() -> None:
    # postgresql-15-postgis-3 moves to postgresql-17-postgis-3, not to postgresql-17
    target = index(rec("postgresql-17", "17.5-1"), rec("postgresql-17-postgis-3", "3.5.2-1"))
    events = package_events({"postgresql-15-postgis-3": "3.3.2-1"}, target)
    event = only(events, "postgresql-15-postgis-3")
    assert event.replacements == ("postgresql-17-postgis-3",)
    assert (event.old_major, event.new_major) == ("15", "17")


def test_versioned_names() -> None:
    assert versioned("postgresql-15") == versioned("postgresql-15")
    shape = versioned("postgresql-15")
    assert shape is not None and (shape.stem, shape.number, shape.suffix) == ("postgresql", "15", "")
    shape = versioned("gcc-12-base")
    assert shape is not None and (shape.stem, shape.number, shape.suffix) == ("gcc", "12", "-base")
    shape = versioned("mariadb-server-10.11")
    assert shape is not None and (shape.stem, shape.number) == ("mariadb-server", "10.11")
    shape = versioned("libssl3t64")
    assert shape is not None and (shape.stem, shape.number) == ("libssl", "3")
    assert versioned("bash") is None
    assert versioned("e2fsprogs") is None


def test_t64_rename_is_a_replacement_not_a_major_version() -> None:
    target = index(rec("libssl3t64", "3.5.1-1", replaces=("libssl3",), provides=("libssl3",), conflicts=("libssl3",)))
    events = package_events({"libssl3": "3.0.15-1"}, target)
    event = only(events, "libssl3")
    assert (event.kind, event.replacements, event.target_version) == (
        EventKind.REPLACED,
        ("libssl3t64",),
        "3.5.1-1",
    )


def test_transitional_package_is_a_rename() -> None:
    target = index(
        rec(
            "ntp",
            "1:4.2.8p15+dfsg-2~1.2.2",
            summary="Network Time Protocol daemon (transitional package)",
            depends=("ntpsec (>= 1.2.2)",),
        ),
        rec("ntpsec", "1.2.3-1"),
    )
    events = package_events({"ntp": "1:4.2.8p15+dfsg-1"}, target)
    event = only(events, "ntp")
    assert (event.kind, event.replacements) == (EventKind.RENAMED, ("ntpsec",))
    assert "transitional" in event.evidence


def test_already_transitional_in_current_is_not_a_new_rename() -> None:
    summary = "transitional dummy package"
    target = index(rec("old", "3", summary=summary, depends=("new",)))
    current = index(rec("old", "2", summary=summary, depends=("new",)), key="debian-12")
    events = package_events({"old": "2"}, target, current)
    assert only(events, "old").kind is EventKind.UPGRADED


def test_split_into_several_packages() -> None:
    target = index(
        rec("foo-client", "2.0-1", replaces=("foo",), conflicts=("foo",)),
        rec("foo-server", "2.0-1", replaces=("foo",), provides=("foo",)),
        rec("foo-doc", "2.0-1", replaces=("foo",)),  # Replaces alone (file moves) is no evidence
    )
    events = package_events({"foo": "1.0-1"}, target)
    event = only(events, "foo")
    assert event.kind is EventKind.SPLIT
    assert event.replacements == ("foo-client", "foo-server")


def test_merge_of_several_installed_packages() -> None:
    target = index(rec("both", "2.0-1", replaces=("one", "two"), conflicts=("one", "two")))
    events = package_events({"one": "1.0", "two": "1.0", "three": "1.0"}, target)
    assert only(events, "one").kind is EventKind.MERGED
    assert only(events, "two").kind is EventKind.MERGED
    assert only(events, "one").replacements == ("both",)
    # only one installed package replaced by it: a plain replacement
    alone = package_events({"one": "1.0"}, target)
    assert only(alone, "one").kind is EventKind.REPLACED


def test_removed_and_foreign() -> None:
    target = index(rec("bash", "5.2-1"))
    current = index(rec("bash", "5.1-1"), rec("isc-dhcp-server", "4.4.3-1"), key="debian-12")
    installed = {"bash": "5.1-1", "isc-dhcp-server": "4.4.3-1", "acme-agent": "0.3"}
    events = package_events(installed, target, current)
    assert only(events, "isc-dhcp-server").kind is EventKind.REMOVED
    foreign = only(events, "acme-agent")
    assert foreign.kind is EventKind.FOREIGN
    assert "debian-12" in foreign.evidence and "debian-13" in foreign.evidence
    # without the current index nothing can be called foreign: it is removed
    assert only(package_events(installed, target), "acme-agent").kind is EventKind.REMOVED


def test_source_label() -> None:
    target = index(rec("bash", "5.2-1", suite="trixie-security"))
    assert package_events({"bash": "5.1"}, target)[0].source == "trixie-security"
    labelled = package_events({"bash": "5.1", "gone": "1"}, target, source_label="recorded 2026-01-01")
    assert {e.source for e in labelled} == {"recorded 2026-01-01"}


def test_architecture_qualified_names() -> None:
    target = index(rec("libc6", "2.41-12"))
    events = package_events({"libc6:i386": "2.36-9"}, target)
    assert [(e.package, e.kind) for e in events] == [("libc6:i386", EventKind.UPGRADED)]


def test_is_library() -> None:
    assert is_library("libicu72") and is_library("libssl3t64") and is_library("libc6")
    assert not is_library("libreoffice-core")
    assert not is_library("libc-bin")
    assert not is_library("postgresql-15")
    assert not is_library("libpam-runtime")


names = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[0-9]{1,2})?", fullmatch=True)
versions = st.sampled_from(["1.0-1", "1.0-2", "2.0-1", "1:0.5-1", "1.0~rc1-1"])


@given(
    installed=st.dictionaries(names, versions, max_size=12),
    target=st.dictionaries(names, versions, max_size=12),
    replacing=st.lists(st.tuples(names, names), max_size=6),
    with_current=st.booleans(),
)
def test_at_most_one_event_per_package_in_order(
    installed: dict[str, str], target: dict[str, str], replacing: list[tuple[str, str]], with_current: bool
) -> None:
    records = {name: rec(name, version) for name, version in target.items()}
    for new, old in replacing:
        if new in records:
            records[new] = rec(new, records[new].version, replaces=(old,), conflicts=(old,))
    current = index(*records.values(), key="debian-12") if with_current else None
    events = package_events(installed, index(*records.values()), current)
    packages = [event.package for event in events]
    assert packages == sorted(set(packages))
    assert set(packages) <= set(installed)
    for event in events:
        assert event.installed_version == installed[event.package]
        assert event.evidence
