"""Upgrade notes from NEWS.Debian: parsing recorded trixie files, fetching from locally built
.debs (symlinked doc folders, the JSON cache), and once for real against deb.debian.org.

The recorded files in fixtures/news/ are described in their README.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from fossp.errors import BadInput
from fossp.upgrade import archive, news
from fossp.upgrade.archive import ArchiveError
from fossp.upgrade.model import AptSource, ArchiveIndex, PackageRecord, SuiteSpec
from fossp.upgrade.news import NewsItem, parse_news

FIXTURES = Path(__file__).parent / "fixtures" / "news"
TRIXIE = SuiteSpec(
    key="debian-13",
    sources=(
        AptSource("http://deb.debian.org/debian", ("trixie", "trixie-updates")),
        AptSource("http://deb.debian.org/debian-security", ("trixie-security",)),
    ),
)
# bookworm's versions when the fixtures were recorded (Debian 12 with its updates)
BOOKWORM = {
    "bind9": "1:9.18.49-1~deb12u3",
    "nginx": "1.22.1-9+deb12u11",
    "nginx-common": "1.22.1-9+deb12u11",
    "postgresql-common": "248+deb12u2",
    "openssh-server": "1:9.2p1-2+deb12u10",
    "systemd": "252.39-1~deb12u2",
    "apt": "2.6.2",
    "tzdata": "2026f-0+deb12u1",
}


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.NEWS.Debian").read_text()


def versions(items: Sequence[NewsItem]) -> list[str]:
    return [item.version for item in items]


# --- parsing -------------------------------------------------------------------------------------


def test_bind9_note_newer_than_bookworm() -> None:
    [item] = parse_news(fixture("bind9"), "bind9", BOOKWORM["bind9"])
    assert (item.package, item.version, item.date) == ("bind9", "1:9.20.5-1", "Mon, 27 Jan 2025 12:43:40 +0100")
    assert item.text.startswith("* The default empty zones, and localhost forward and reverse zones\n  have been")
    assert "allow-transfer {}" in item.text
    assert item.text.endswith("BindPaths=/run/systemd/notify:<chroot_path>/run/systemd/notify")
    assert "Ondřej Surý" not in item.text  # the trailer is not part of the text
    # the same bind9 already installed: nothing new
    assert parse_news(fixture("bind9"), "bind9", "1:9.20.30-1~deb13u1") == []


def test_entries_newer_than_installed_kept_older_dropped() -> None:
    items = parse_news(fixture("openssh-client"), "openssh-server", BOOKWORM["openssh-server"])
    # 1:9.2p1-1 is older than bookworm's 1:9.2p1-2+deb12u10, and so is everything after it
    assert versions(items) == ["1:10.0p1-1", "1:9.4p1-1", "1:9.3p2-1"]
    assert {item.package for item in items} == {"openssh-server"}
    assert items[0].text.startswith("OpenSSH 10.0p1 includes a number of changes")
    assert "weak DSA signature algorithm" in items[0].text
    assert items[2].date == "Wed, 19 Jul 2023 21:57:53 +0100"


def test_nothing_newer() -> None:
    assert parse_news(fixture("tzdata"), "tzdata", BOOKWORM["tzdata"]) == []
    assert versions(parse_news(fixture("tzdata"), "tzdata", "2023c-5+deb12u1")) == ["2024b-6", "2023d-1"]


def test_not_installed_keeps_every_entry() -> None:
    items = parse_news(fixture("openssh-client"), "openssh-client", "")
    assert versions(items) == [
        "1:10.0p1-1",
        "1:9.4p1-1",
        "1:9.3p2-1",
        "1:9.2p1-1",
        "1:9.1p1-1",
        "1:9.0p1-1",
        "1:8.7p1-1",
    ]


def test_newest_first_whatever_the_file_order() -> None:
    blocks = fixture("openssh-client").split("\nopenssh (")
    shuffled = "\nopenssh (".join([blocks[0], *reversed(blocks[1:])])
    assert shuffled.index("1:8.7p1-1") < shuffled.index("1:9.4p1-1")
    assert parse_news(shuffled, "openssh-client", "") == parse_news(fixture("openssh-client"), "openssh-client", "")


def test_unreleased_entry_is_kept() -> None:
    [item] = parse_news(fixture("nginx-common"), "nginx-common", BOOKWORM["nginx-common"])
    assert item.version == "1.26.3-3+deb13u4"
    assert item.text.startswith('* d/conf/*_params: use "$host" instead of "$http_host"')


def test_long_entries_are_trimmed_at_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    text = fixture("openssh-client")
    [long] = [item for item in parse_news(text, "openssh-client", "") if item.version == "1:8.7p1-1"]
    assert len(long.text) <= news.TEXT_LIMIT
    assert long.text.startswith("OpenSSH 8.7 includes") and long.text.endswith("\n[...]")
    monkeypatch.setattr(news, "_trim", lambda text: text)
    [full] = [item for item in parse_news(text, "openssh-client", "") if item.version == "1:8.7p1-1"]
    kept = long.text.removesuffix("\n[...]")
    assert len(full.text) > 3000 and full.text.startswith(kept)
    assert full.text[len(kept) : len(kept) + 2] == "\n\n"  # cut after a paragraph


def test_malformed_blocks_are_skipped() -> None:
    good = fixture("bind9")
    broken = (
        "a line before any heading\n\n"
        # an invalid version: the block is skipped, not merged into its neighbours
        "bind9 (1:) unstable; urgency=medium\n\n  * a note with a broken version\n\n"
        " -- Someone <someone@example.org>  Mon, 27 Jan 2025 12:43:40 +0100\n\n"
        # a heading python-debian reads but whose upstream version is no number
        "bind9 (x9.99-1) unstable; urgency=medium\n\n  * not a Debian version\n\n"
        " -- Someone <someone@example.org>  Mon, 27 Jan 2025 12:43:40 +0100\n\n"
        # no body at all
        "bind9 (1:9.99.0-1) unstable; urgency=medium\n\n"
        " -- Someone <someone@example.org>  Mon, 27 Jan 2025 12:43:40 +0100\n\n"
        + good
        + "\ngarbage after the last trailer\n  and its indented continuation\n"
        # a heading that is not one (no ';'): part of the garbage
        + "bind9 (1:9.99.1-1) unstable urgency=medium\n\n  * never a note\n"
    )
    items = parse_news(broken, "bind9", BOOKWORM["bind9"])
    assert items == parse_news(good, "bind9", BOOKWORM["bind9"])
    assert "garbage" not in items[0].text and "never a note" not in items[0].text


def test_an_entry_without_trailer_keeps_its_text() -> None:
    text = "bind9 (1:9.99.0-1) unstable; urgency=medium\n\n  * the last entry lost its trailer\n\n" + fixture("bind9")
    items = parse_news(text, "bind9", BOOKWORM["bind9"])
    assert versions(items) == ["1:9.99.0-1", "1:9.20.5-1"]
    assert (items[0].date, items[0].text) == ("", "* the last entry lost its trailer")


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "not a changelog at all\n", "\x00\x01\ufffd binary\n", "pkg (1.0) unstable; urgency=medium\n"],
)
def test_junk_never_raises(text: str) -> None:
    assert parse_news(text, "pkg", "0.1") == []


def test_an_installed_version_that_is_no_version_is_refused() -> None:
    with pytest.raises(BadInput, match="bind9: installed version"):
        parse_news(fixture("bind9"), "bind9", "1:")


# --- where a .deb keeps its NEWS -----------------------------------------------------------------


def test_find_news_in_the_package_or_source_folder() -> None:
    files = {"usr/share/doc/bind9/NEWS.Debian.gz": b""}
    assert news.find_news(files, {}, ["bind9"]) == ("usr/share/doc/bind9/NEWS.Debian.gz", "")
    files = {"usr/share/doc/glibc/NEWS.Debian": b""}
    assert news.find_news(files, {}, ["libc6", "glibc"]) == ("usr/share/doc/glibc/NEWS.Debian", "")
    assert news.find_news({}, {}, ["postgresql-17"]) == ("", "")


def test_find_news_follows_symlinks() -> None:
    # openssh-server's doc folder is a link; the NEWS file is in openssh-client's .deb
    links = {"usr/share/doc/openssh-server": "openssh-client"}
    assert news.find_news({}, links, ["openssh-server", "openssh"]) == ("", "openssh-client")
    assert news.find_news({}, {"usr/share/doc/x": "/usr/share/doc/y"}, ["x"]) == ("", "y")
    # ... unless the linked folder is in the same .deb
    files = {"usr/share/doc/openssh-client/NEWS.Debian.gz": b""}
    assert news.find_news(files, links, ["openssh-server"]) == ("usr/share/doc/openssh-client/NEWS.Debian.gz", "")
    # a NEWS file that is itself a link
    links = {"usr/share/doc/a/NEWS.Debian.gz": "../b/NEWS.Debian.gz"}
    files = {"usr/share/doc/b/NEWS.Debian.gz": b""}
    assert news.find_news(files, links, ["a"]) == ("usr/share/doc/b/NEWS.Debian.gz", "")
    # links out of the doc tree, or in a loop, lead nowhere
    assert news.find_news({}, {"usr/share/doc/x": "../../../etc"}, ["x"]) == ("", "")
    assert news.find_news({}, {"usr/share/doc/x": "x"}, ["x"]) == ("", "")


# --- fetching, with .debs built here --------------------------------------------------------------

needs_dpkg_deb = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def record(name: str, version: str, source: str = "") -> PackageRecord:
    return PackageRecord(name, version, source or name, version, "trixie", size=1000)


def build_deb(tmp: Path, rec: PackageRecord, news_text: str | None = None, doc_link: str = "") -> Path:
    root = tmp / "build" / rec.name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {rec.name}\nVersion: {rec.version}\nArchitecture: all\n"
        "Maintainer: FOSSP tests <tests@example.org>\nDescription: a test package\n"
    )
    doc = root / "usr/share/doc" / rec.name
    if doc_link:
        doc.parent.mkdir(parents=True)
        doc.symlink_to(doc_link)
        (root / "usr/share/doc" / doc_link).mkdir()  # as openssh-server's .deb has: the folder, not its files
    else:
        doc.mkdir(parents=True)
        (doc / "copyright").write_text("test\n")
        if news_text is not None:
            (doc / "NEWS.Debian.gz").write_bytes(gzip.compress(news_text.encode()))
    out = tmp / "built" / archive.deb_filename(rec.name, rec.version, "all")
    out.parent.mkdir(exist_ok=True)
    argv = ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return out


class FakeApt:
    """Stands in for `apt-get download`: copies built .debs into the folder, records what was asked."""

    def __init__(self, debs: dict[str, Path], fail: set[str] | None = None) -> None:
        self.debs = debs
        self.fail = fail or set()
        self.calls: list[list[str]] = []

    def __call__(self, spec: SuiteSpec, folder: Path, records: Sequence[PackageRecord]) -> str:
        self.calls.append([r.name for r in records])
        for r in records:
            if r.name not in self.fail:
                shutil.copy(self.debs[r.name], folder)
        if self.fail:
            return "Failed to fetch http://deb.debian.org/debian/pool/main/b/bind9/bind9.deb  404  Not Found"
        return ""


@pytest.fixture
def built(tmp_path: Path) -> tuple[ArchiveIndex, dict[str, Path]]:
    records = [
        record("bind9", "1:9.20.30-1~deb13u1"),
        record("openssh-server", "1:10.0p1-7+deb13u4", "openssh"),
        record("openssh-client", "1:10.0p1-7+deb13u4", "openssh"),
        record("postgresql-17", "17.12-0+deb13u1"),
        record("tzdata", "2026f-0+deb13u1"),
    ]
    debs = {
        "bind9": build_deb(tmp_path, records[0], fixture("bind9")),
        "openssh-server": build_deb(tmp_path, records[1], doc_link="openssh-client"),
        "openssh-client": build_deb(tmp_path, records[2], fixture("openssh-client")),
        "postgresql-17": build_deb(tmp_path, records[3]),
        "tzdata": build_deb(tmp_path, records[4], fixture("tzdata")),
    }
    return ArchiveIndex("debian-13", {r.name: r for r in records}, (), ""), debs


@needs_dpkg_deb
def test_fetch_follows_the_doc_link_and_caches(
    tmp_path: Path, built: tuple[ArchiveIndex, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, debs = built
    apt = FakeApt(debs)
    monkeypatch.setattr(news, "_download", apt)
    folder = tmp_path / "news"
    asked = {k: BOOKWORM[k] for k in ("bind9", "openssh-server", "tzdata")} | {"postgresql-17": ""}
    messages: list[str] = []
    items = news.fetch_news(TRIXIE, asked, messages.append, index=index, folder=folder)
    assert [(i.package, i.version) for i in items] == [
        ("bind9", "1:9.20.5-1"),
        ("openssh-server", "1:10.0p1-1"),  # from openssh-client's .deb, under the name asked about
        ("openssh-server", "1:9.4p1-1"),
        ("openssh-server", "1:9.3p2-1"),
    ]
    assert apt.calls == [["bind9", "openssh-server", "tzdata", "postgresql-17"], ["openssh-client"]]
    assert messages[0].startswith("downloading 4 packages from debian-13 for their NEWS.Debian (0.0 MB): bind9")
    assert messages[1].startswith("downloading 1 package from debian-13")
    assert not list(folder.glob("*.deb"))  # parsed, kept as JSON, deleted
    cached = json.loads((folder / "openssh-server_1%3a10.0p1-7+deb13u4.news.json").read_text())
    assert (cached["doc_link"], cached["entries"]) == ("openssh-client", [])
    cached = json.loads((folder / "bind9_1%3a9.20.30-1~deb13u1.news.json").read_text())
    assert cached["path"] == "usr/share/doc/bind9/NEWS.Debian.gz" and len(cached["entries"]) == 1

    again = news.fetch_news(TRIXIE, asked, messages.append, index=index, folder=folder)
    assert again == items
    assert len(apt.calls) == 2 and len(messages) == 2  # nothing downloaded

    # openssh-client asked about too: its notes come once, under its own name
    both = asked | {"openssh-client": BOOKWORM["openssh-server"]}
    items = news.fetch_news(TRIXIE, both, index=index, folder=folder)
    assert [i.package for i in items] == ["bind9", "openssh-client", "openssh-client", "openssh-client"]


@needs_dpkg_deb
def test_only_packages_with_a_newer_candidate_are_fetched(
    tmp_path: Path, built: tuple[ArchiveIndex, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, debs = built
    apt = FakeApt(debs)
    monkeypatch.setattr(news, "_download", apt)
    asked = {"bind9": "1:9.20.30-1~deb13u1", "tzdata:amd64": "2027a-1", "not-in-trixie": "1.0"}
    assert news.fetch_news(TRIXIE, asked, index=index, folder=tmp_path / "news") == []
    assert apt.calls == []


@needs_dpkg_deb
def test_a_failed_download_names_the_package(
    tmp_path: Path, built: tuple[ArchiveIndex, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, debs = built
    monkeypatch.setattr(news, "_download", FakeApt(debs, fail={"bind9"}))
    folder = tmp_path / "news"
    asked = {"bind9": BOOKWORM["bind9"], "tzdata": "2024a-4"}
    with pytest.raises(ArchiveError, match=r"download bind9 1:9\.20\.30-1~deb13u1 from debian-13 .*404"):
        news.fetch_news(TRIXIE, asked, index=index, folder=folder)
    assert (folder / "tzdata_2026f-0+deb13u1.news.json").exists()  # what came is kept
    apt = FakeApt(debs)
    monkeypatch.setattr(news, "_download", apt)
    assert versions(news.fetch_news(TRIXIE, asked, index=index, folder=folder)) == ["1:9.20.5-1", "2024b-6"]
    assert apt.calls == [["bind9"]]


@needs_dpkg_deb
def test_a_broken_deb_is_an_error_and_fetched_again(
    tmp_path: Path, built: tuple[ArchiveIndex, dict[str, Path]]
) -> None:
    index, _ = built
    folder = tmp_path / "news"
    folder.mkdir()
    deb = folder / archive.deb_filename("bind9", "1:9.20.30-1~deb13u1", "amd64")
    deb.write_bytes(b"!<arch>\nnot really a deb")
    with pytest.raises(ArchiveError, match=r"read bind9 1:9\.20\.30-1~deb13u1: `dpkg-deb --fsys-tarfile .*` failed"):
        news.fetch_news(TRIXIE, {"bind9": BOOKWORM["bind9"]}, index=index, folder=folder)
    assert not deb.exists()


def test_bad_package_names_never_reach_apt(tmp_path: Path) -> None:
    index = ArchiveIndex("debian-13", {}, (), "")
    with pytest.raises(BadInput, match="not a Debian package name"):
        news.fetch_news(TRIXIE, {"-o=Dir::Etc::main": "1.0"}, index=index, folder=tmp_path)


# --- for real: deb.debian.org --------------------------------------------------------------------


@pytest.mark.lab
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (apt in /var/cache/fossp/archive)")
def test_real_notes_for_a_bookworm_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Debian 12 server with PostgreSQL, nginx and BIND: which of its packages bring notes to 13."""
    index = archive.ensure_index(TRIXIE)
    asked = BOOKWORM | {"postgresql-17": ""}  # new in 13 (postgresql-15's successor)
    messages: list[str] = []
    started = time.monotonic()
    items = news.fetch_news(TRIXIE, asked, messages.append, index=index, folder=tmp_path)
    cold = time.monotonic() - started
    found = {(item.package, item.version) for item in items}
    assert {
        ("bind9", "1:9.20.5-1"),
        ("nginx-common", "1.26.3-3+deb13u4"),
        ("openssh-server", "1:10.0p1-1"),  # via openssh-client's .deb
        ("systemd", "256-2"),
        ("apt", "2.9.24"),
    } <= found
    assert all(item.package != "tzdata" for item in items)  # bookworm's tzdata is newer than its notes
    assert all(item.text and len(item.text) <= news.TEXT_LIMIT for item in items)
    assert "allow-transfer" in next(i.text for i in items if i.package == "bind9")
    assert messages and "openssh-client" in messages[-1]

    def no_download(*args: object) -> str:
        raise AssertionError("downloaded again")

    monkeypatch.setattr(news, "_download", no_download)
    started = time.monotonic()
    assert news.fetch_news(TRIXIE, asked, messages.append, index=index, folder=tmp_path) == items
    warm = time.monotonic() - started
    assert warm < 1.0, f"cold {cold:.2f} s, warm {warm:.2f} s"
    # without ``index``: ensure_index loads its cache (0.4 s alone; test_archive times it), still no download
    assert news.fetch_news(TRIXIE, asked, folder=tmp_path) == items
    assert len(messages) == 2  # the two downloads of the first call only
