"""The recorded Fedora data loads, every fact is sourced, and events follow the installed set."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from fossp.catalog import CatalogError
from fossp.errors import BadInput
from fossp.upgrade.model import EventKind
from fossp.upgrade.recorded import (
    FEDORA_DATA,
    fedora_data,
    fedora_releases,
    fedora_transition,
    in_series,
    load_fedora_data,
    recorded_events,
    recorded_notices,
    release_number,
)

URL = ("http://", "https://")


def test_the_packaged_file_loads_and_validates() -> None:
    data = fedora_data()
    assert data.family == "fedora"
    assert [t.label for t in data.transitions] == ["39 -> 40", "40 -> 41", "41 -> 42", "42 -> 43"]
    assert [r.version for r in fedora_releases()] == ["39", "40", "41", "42", "43"]


def test_every_fact_has_a_source_and_a_recorded_date() -> None:
    data = fedora_data()
    items = [
        *data.releases,
        *data.procedures.values(),
        *(e for t in data.transitions for e in t.events),
        *(n for t in data.transitions for n in t.notices),
    ]
    for item in items:
        assert item.source.startswith(URL), item
        assert all(extra.startswith(URL) for extra in item.see_also), item
        assert isinstance(item.recorded, date)
        assert item.recorded <= date(2026, 12, 2)
        if item.published is not None:
            assert item.published <= item.recorded


def test_no_package_has_two_events_of_one_kind_in_a_transition() -> None:
    raw = yaml.safe_load(FEDORA_DATA.read_text())
    for transition in raw["transitions"]:
        keys = [(p, e["kind"]) for e in transition.get("events", []) for p in e["packages"]]
        assert len(keys) == len(set(keys)), transition["from"]


def test_releases_have_dates_in_order() -> None:
    releases = fedora_releases()
    assert all(a.released < b.released for a, b in pairwise(releases))
    assert all(r.eol is None or r.eol > r.released for r in releases)
    assert releases[0].released == date(2023, 11, 7)


def test_postgresql_on_a_fedora_42_host_moves_from_16_to_18() -> None:
    installed = {"postgresql-server": "16.3-8.fc42", "postgresql": "16.3-8.fc42", "nginx": "1:1.26.3-1.fc42"}
    events = recorded_events(installed, "42", "43")
    assert [(e.package, e.kind) for e in events] == [
        ("postgresql", EventKind.MAJOR_VERSION),
        ("postgresql-server", EventKind.MAJOR_VERSION),
    ]
    server = events[1]
    assert (server.old_major, server.new_major, server.target_version) == ("16", "18", "18")
    assert server.installed_version == "16.3-8.fc42"
    assert server.source.startswith("https://")
    assert server.evidence == f"recorded 2026-12-02 from {server.source}"


def test_packages_not_named_get_nothing() -> None:
    assert recorded_events({"nginx": "1.26.3-1.fc42", "bind": "32:9.18.33-1.fc42"}, "42", "43") == []
    assert recorded_events({}, "39", "40") == []


def test_an_event_only_applies_to_the_series_it_names() -> None:
    # kea 3.0 arrived in Fedora 42's updates: an updated 42 host gets nothing for 43, an old one does
    assert recorded_events({"kea": "3.0.2-1.fc42"}, "42", "43") == []
    (event,) = recorded_events({"kea": "2.6.3-1.fc42"}, "42", "43")
    assert (event.package, event.old_major, event.new_major) == ("kea", "2.6", "3.0")
    # an epoch is ignored; 10.5 is not 10.50
    (mariadb,) = recorded_events({"mariadb-server": "3:10.5.25-1.fc39"}, "39", "40")
    assert (mariadb.old_major, mariadb.new_major) == ("10.5", "10.11")
    assert recorded_events({"mariadb-server": "3:10.50.1-1.fc39"}, "39", "40") == []


def test_renames_removals_and_replacements_carry_what_takes_the_place() -> None:
    events = {e.package: e for e in recorded_events({"community-mysql-server": "8.0.39-1.fc39"}, "39", "40")}
    assert events["community-mysql-server"].kind is EventKind.RENAMED
    assert events["community-mysql-server"].replacements == ("mysql-server",)

    installed = {"network-scripts": "10.23-1.fc40", "redis": "7.2.5-1.fc40", "python2.7": "2.7.18-40.fc40"}
    by_name = {e.package: e for e in recorded_events(installed, "40", "41")}
    assert by_name["network-scripts"].kind is EventKind.REMOVED
    assert by_name["network-scripts"].replacements == ()
    assert by_name["python2.7"].kind is EventKind.REMOVED
    assert by_name["redis"].kind is EventKind.REPLACED
    assert "valkey-compat" in by_name["redis"].replacements

    (keama,) = recorded_events({"dhcp-keama": "4.4.3-16.P1.fc42"}, "42", "43")
    assert (keama.kind, keama.replacements) == (EventKind.REPLACED, ("kea-keama",))


def test_isc_dhcp_is_a_notice_not_a_removal() -> None:
    installed = {"dhcp-server": "4.4.3-9.P1.fc39"}
    assert recorded_events(installed, "39", "40") == []
    (notice,) = recorded_notices(installed, "39", "40")
    assert notice.replacements == ["kea"]
    assert "deprecated" in notice.note


def test_general_notices_concern_every_host() -> None:
    notes = recorded_notices({}, "40", "41")
    assert notes and all(not n.packages for n in notes)
    assert any("DNF 5" in n.note for n in notes)


def test_procedures_are_referenced_and_give_the_fedora_commands() -> None:
    data = fedora_data()
    (event,) = recorded_events({"postgresql-server": "15.6-1.fc39"}, "39", "40")
    recorded = next(e for e in fedora_transition("39", "40").events if "postgresql-server" in e.packages)
    assert recorded.procedure is not None
    steps = data.procedures[recorded.procedure].steps
    assert "dnf install postgresql-upgrade" in steps
    assert "postgresql-setup --upgrade" in steps
    assert event.new_major == "16"
    assert any(step.startswith("mariadb-upgrade") for step in data.procedures["mariadb-upgrade"].steps)


def test_release_names_are_accepted_in_several_spellings() -> None:
    for text in ("40", "f40", "fc40", "fedora-40", "Fedora 40", " fedora40 "):
        assert release_number(text) == "40", text
    assert fedora_data().release("fedora-41") is not None
    assert recorded_events({"python3": "3.12.7-1.fc40"}, "fedora-40", "f41")[0].new_major == "3.13"


def test_in_series() -> None:
    assert in_series("16.3-8.fc42", "16")
    assert in_series("16", "16")
    assert in_series("3:10.11.6-3.fc40", "10.11")
    assert not in_series("160.1", "16")
    assert not in_series("10.50.1", "10.5")
    assert not in_series("15.6", "16")


@pytest.mark.parametrize(("source", "target"), [("38", "39"), ("43", "44"), ("40", "42"), ("41", "40")])
def test_a_transition_without_data_is_bad_input(source: str, target: str) -> None:
    with pytest.raises(BadInput, match=rf"no recorded Fedora data for {source} -> {target} \(recorded: 39 -> 40"):
        recorded_events({"postgresql-server": "16.3"}, source, target)


def _write(tmp_path: Path, transitions: str, releases: str = "") -> Path:
    path = tmp_path / "fedora.yaml"
    path.write_text(
        "family: fedora\nrecorded_by: a test\nreleases:\n"
        + (
            releases
            or "  - {version: '40', released: 2024-04-23, source: https://x.test/r, recorded: 2026-12-02}\n"
            "  - {version: '41', released: 2024-10-29, source: https://x.test/r, recorded: 2026-12-02}\n"
        )
        + "transitions:\n"
        + transitions
    )
    return path


EVENT = "kind: removed, packages: [a], note: gone, source: https://x.test/e, recorded: 2026-12-02"


def test_a_loaded_file_is_used_when_given(tmp_path: Path) -> None:
    data = load_fedora_data(_write(tmp_path, f"  - {{from: '40', to: '41', events: [{{{EVENT}}}]}}\n"))
    (event,) = recorded_events({"a": "1.0"}, "40", "41", data=data)
    assert event.kind is EventKind.REMOVED and event.evidence == "recorded 2026-12-02 from https://x.test/e"


@pytest.mark.parametrize(
    ("transitions", "message"),
    [
        (
            "  - {from: '40', to: '41', events: [{kind: removed, packages: [a], note: x, recorded: 2026-12-02}]}\n",
            "source",
        ),
        (
            "  - {from: '40', to: '41', events: [{kind: removed, packages: [a], note: x, source: ftp://x, "
            "recorded: 2026-12-02}]}\n",
            "source",
        ),
        (
            "  - {from: '40', to: '41', events: [{kind: removed, packages: [a], note: x, source: https://x.test}]}\n",
            "recorded",
        ),
        (f"  - {{from: '40', to: '41', events: [{{{EVENT}}}, {{{EVENT}}}]}}\n", "a has two 'removed' events"),
        (
            "  - {from: '40', to: '41', events: [{kind: major-version, packages: [a], to_version: '2', note: x, "
            "source: https://x.test, recorded: 2026-12-02}]}\n",
            "needs from_version and to_version",
        ),
        (
            "  - {from: '40', to: '41', events: [{kind: replaced, packages: [a], note: x, source: https://x.test, "
            "recorded: 2026-12-02}]}\n",
            "needs replacements",
        ),
        (
            "  - {from: '40', to: '41', events: [{kind: foreign, packages: [a], note: x, source: https://x.test, "
            "recorded: 2026-12-02}]}\n",
            "found on a host",
        ),
        (f"  - {{from: '40', to: '41', events: [{{{EVENT}, procedure: nope}}]}}\n", "unknown procedure 'nope'"),
        (f"  - {{from: '40', to: '42', events: [{{{EVENT}}}]}}\n", "release 42 is not in releases"),
        (f"  - {{from: '40', to: '41', events: [{{{EVENT}, colour: red}}]}}\n", "Extra inputs are not permitted"),
    ],
)
def test_bad_files_are_refused_with_the_field(tmp_path: Path, transitions: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        load_fedora_data(_write(tmp_path, transitions))


def test_a_transition_must_go_to_the_next_release(tmp_path: Path) -> None:
    releases = (
        "  - {version: '40', released: 2024-04-23, source: https://x.test/r, recorded: 2026-12-02}\n"
        "  - {version: '42', released: 2025-04-15, source: https://x.test/r, recorded: 2026-12-02}\n"
    )
    with pytest.raises(CatalogError, match="a transition goes to the next release"):
        load_fedora_data(_write(tmp_path, f"  - {{from: '40', to: '42', events: [{{{EVENT}}}]}}\n", releases))
