"""Archive metadata and apt simulations: parsing recorded apt output, and one real run.

The fixtures in fixtures/archive/ were recorded on 2026-12-02 by running ``simulation_text``
for Debian 13 (trixie, trixie-updates, trixie-security) against the lab base's dpkg status
(Debian 12), plus a few real stanzas of that status and of the trixie lists.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fossp.errors import BadInput
from fossp.upgrade import archive
from fossp.upgrade.model import AptSource, ArchiveIndex, PackageRecord, SuiteSpec

FIXTURES = Path(__file__).parent / "fixtures" / "archive"
BASE_STATUS = Path("/var/lib/fossp/lab/pool/base/var/lib/dpkg/status")
DEBIAN = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
TRIXIE = SuiteSpec(
    "debian-13",
    (AptSource(DEBIAN, ("trixie", "trixie-updates")), AptSource(SECURITY, ("trixie-security",))),
)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture(scope="module")
def subset_index() -> ArchiveIndex:
    """Real trixie stanzas of a few packages, from the main and the security suite."""
    packages: dict[str, PackageRecord] = {}
    archive.add_packages(packages, fixture("trixie-Packages-subset"), "trixie")
    archive.add_packages(packages, fixture("trixie-security-Packages-subset"), "trixie-security")
    return ArchiveIndex("debian-13", packages, (), "2026-12-02T00:50:34+00:00")


@pytest.fixture(scope="module")
def base_status() -> dict[str, dict[str, str]]:
    return archive.parse_dpkg_status(fixture("base-status-subset"))


# --- parsing -------------------------------------------------------------------------------------


def test_full_upgrade_simulation(subset_index: ArchiveIndex, base_status: dict[str, dict[str, str]]) -> None:
    prediction = archive.parse_simulation(fixture("trixie-full-upgrade.txt"), subset_index, base_status)
    assert (len(prediction.upgraded), len(prediction.installed)) == (127, 22)  # apt's own summary line
    assert ("libc6", "2.36-9+deb12u14", "2.41-12+deb13u5") in prediction.upgraded
    assert ("libssl3t64", "3.5.9-1~deb13u1") in prediction.installed
    assert set(prediction.removed) == {
        "libdb5.3",
        "libelf1",
        "libext2fs2",
        "libhogweed6",
        "libnettle8",
        "libssl3",
        "libtirpc3",
    }
    assert prediction.kept_back == ()
    assert not prediction.empty
    # Size of the fetched packages the subset index knows: base-files, libc6, libc-bin, tzdata,
    # gcc-14-base, libssl3t64 (trixie's, the newer one), libdb5.3t64
    assert prediction.download_bytes == 88324 + 2850108 + 638876 + 267528 + 49432 + 2464736 + 703676
    # Installed-Size: target minus current for those, minus the removed ones the status has
    upgraded = (500 - 341) + (13223 - 13001) + (2123 - 2042) + (1360 - 2573)
    new = 112 + 8125 + 1854
    removed = 6030 + 1833  # libssl3, libdb5.3
    assert prediction.installed_size_delta_kib == upgraded + new - removed


def test_upgrade_with_new_packages_keeps_some_back() -> None:
    prediction = archive.parse_simulation(fixture("trixie-upgrade.txt"), None, {})
    assert len(prediction.kept_back) == 26
    assert {"apt", "systemd", "openssh-server", "libpam-modules"} <= set(prediction.kept_back)
    assert (len(prediction.upgraded), len(prediction.installed), prediction.removed) == (101, 7, ())
    assert not set(prediction.kept_back) & {name for name, *_ in prediction.upgraded}
    assert (prediction.download_bytes, prediction.installed_size_delta_kib) == (0, 0)  # no index: no sizes


def test_only_upgrade_of_named_packages(subset_index: ArchiveIndex, base_status: dict[str, dict[str, str]]) -> None:
    prediction = archive.parse_simulation(fixture("trixie-only-upgrade.txt"), subset_index, base_status)
    assert [name for name, *_ in prediction.upgraded] == ["base-files", "libc6", "libc-bin"]
    assert prediction.installed == () and prediction.removed == ()
    assert prediction.download_bytes == 88324 + 2850108 + 638876
    assert prediction.installed_size_delta_kib == (500 - 341) + (13223 - 13001) + (2123 - 2042)


def test_nothing_to_do_is_empty() -> None:
    text = "Reading package lists...\nBuilding dependency tree...\n0 upgraded, 0 newly installed, 0 to remove.\n"
    assert archive.parse_simulation(text, None, {}).empty


def test_purged_packages_are_removed() -> None:
    text = "Purg libfoo1 [1.0-1]\nRemv bar [2.0]\nInst baz (1.0 Debian:13/stable [all])\n"
    prediction = archive.parse_simulation(text, None, {})
    assert prediction.removed == ("libfoo1", "bar")
    assert prediction.installed == (("baz", "1.0"),)


def test_dpkg_status(base_status: dict[str, dict[str, str]]) -> None:
    assert sorted(base_status) == ["base-files", "libc-bin", "libc6", "libdb5.3", "libssl3", "tzdata"]
    libc = base_status["libc6"]
    assert (libc["Version"], libc["Source"], libc["Installed-Size"]) == ("2.36-9+deb12u14", "glibc", "13001")
    assert libc["Status"] == "install ok installed"
    assert libc["Description"] == "GNU C Library: Shared libraries"
    assert base_status["tzdata"]["Source"] == "tzdata"  # no Source field: the binary's own name


def test_dpkg_status_keeps_installed_packages_only() -> None:
    extra = (
        "\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n"
        "\nPackage: held\nStatus: hold ok installed\nVersion: 2.0\nSource: heldsrc (1:2.0-1)\n"
        "\nPackage: half\nStatus: install ok half-configured\nVersion: 3.0\n"
    )
    status = archive.parse_dpkg_status(fixture("base-status-subset") + extra)
    assert "gone" not in status and "half" not in status
    assert status["held"]["Source"] == "heldsrc"
    assert status["held"]["Status"] == "hold ok installed"


def test_packages_stanzas_to_records(subset_index: ArchiveIndex) -> None:
    ssl = subset_index.packages["libssl3t64"]
    assert (ssl.version, ssl.suite) == ("3.5.9-1~deb13u1", "trixie")  # newer than the security suite's
    assert ssl.source == "openssl"
    assert "libssl3" in ssl.provides and "libssl3" in ssl.replaces and "libssl3" in ssl.conflicts  # Breaks
    assert "openssh-server" in ssl.conflicts
    assert ssl.size == 2464736 and ssl.installed_size == 8125
    db = subset_index.packages["libdb5.3t64"]
    assert (db.source, db.source_version) == ("db5.3", db.version)
    assert subset_index.packages["libc6"].summary == "GNU C Library: Shared libraries"
    assert subset_index.packages["libc6"].section == "libs"


def test_newest_version_wins_whatever_the_list_order() -> None:
    packages: dict[str, PackageRecord] = {}
    archive.add_packages(packages, fixture("trixie-security-Packages-subset"), "trixie-security")
    archive.add_packages(packages, fixture("trixie-Packages-subset"), "trixie")
    assert (packages["libssl3t64"].version, packages["libssl3t64"].suite) == ("3.5.9-1~deb13u1", "trixie")
    older: dict[str, PackageRecord] = {}
    archive.add_packages(older, fixture("trixie-Packages-subset").replace("3.5.9-1~deb13u1", "3.5.1-1"), "trixie")
    archive.add_packages(older, fixture("trixie-security-Packages-subset"), "trixie-security")
    assert (older["libssl3t64"].version, older["libssl3t64"].suite) == ("3.5.7-1~deb13u3", "trixie-security")


def test_cached_index_round_trip(tmp_path: Path, subset_index: ArchiveIndex) -> None:
    dirs = archive.ArchiveDirs(tmp_path)
    signature = [["x_Packages", 10, 123]]
    archive._save_cache(dirs, subset_index, signature)
    loaded = archive._load_cache(dirs, TRIXIE, signature, "2026-12-03T00:00:00+00:00")
    assert loaded is not None
    assert loaded.packages == subset_index.packages
    assert loaded.fetched_at == "2026-12-03T00:00:00+00:00"  # the last update's time, not the build's
    assert archive._load_cache(dirs, TRIXIE, [["x_Packages", 10, 124]], "") is None  # lists changed
    os.chmod(dirs.index_cache, 0o666)
    assert archive._load_cache(dirs, TRIXIE, signature, "") is None  # writable by others: not trusted


def test_relation_names() -> None:
    text = "libc6 (>= 2.34), foo:any | bar [amd64], baz (<< 1)"
    assert archive.relation_names(text) == ("libc6", "foo", "bar", "baz")
    assert archive.relation_names("") == ()


# --- apt's confinement ---------------------------------------------------------------------------


def test_sources_list_has_one_line_per_suite() -> None:
    lines = [line for line in archive.sources_list_text(TRIXIE).splitlines() if not line.startswith("#")]
    keyring = "signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
    assert lines == [
        f"deb [arch=amd64 {keyring}] {DEBIAN} trixie main",
        f"deb [arch=amd64 {keyring}] {DEBIAN} trixie-updates main",
        f"deb [arch=amd64 {keyring}] {SECURITY} trixie-security main",
    ]


def test_apt_options_stay_in_fossp_folders(tmp_path: Path) -> None:
    dirs = archive.ArchiveDirs(tmp_path / "debian-13")
    options = archive.apt_options(TRIXIE, dirs, tmp_path / "host" / "status")
    settings = dict(option.split("=", 1) for option in options[1::2])
    assert options[0::2] == ["-o"] * len(settings)
    for name in ("Dir::Etc::SourceList", "Dir::State::Lists", "Dir::Cache", "Dir::Cache::archives"):
        assert settings[name].startswith(str(tmp_path / "debian-13")), name
    assert settings["Dir::State::status"] == str(tmp_path / "host" / "status")
    assert settings["Dir::State::extended_states"].startswith(str(tmp_path / "host"))
    assert settings["Dir::Etc::Preferences"] == "/dev/null"
    assert (settings["APT::Architecture"], settings["Acquire::Languages"]) == ("amd64", "none")
    assert settings["Debug::NoLocking"] == "true"
    assert not any(value.startswith(("/var/lib/apt", "/var/cache/apt", "/etc/apt")) for value in settings.values())


def test_action_arguments() -> None:
    assert archive.action_args("full-upgrade") == ["full-upgrade"]
    assert archive.action_args("upgrade") == ["upgrade", "--with-new-pkgs"]
    assert archive.action_args(("openssl", "libssl3")) == ["install", "--only-upgrade", "openssl", "libssl3"]
    with pytest.raises(BadInput):
        archive.action_args(("--purge",))
    with pytest.raises(BadInput):
        archive.action_args(())


def test_apt_error_names_the_failed_suite() -> None:
    stderr = (
        "W: Failed to fetch http://deb.debian.org/debian/dists/trixie/InRelease  Could not resolve 'deb.debian.org'\n"
        "W: Some index files failed to download. They have been ignored, or old ones used instead.\n"
        "E: The repository 'http://deb.debian.org/debian trixie Release' does not have a Release file.\n"
    )
    message = archive.apt_error(subprocess.CompletedProcess([], 100, "", stderr))
    assert "dists/trixie/InRelease" in message and "does not have a Release file" in message
    assert archive.apt_error(subprocess.CompletedProcess([], 1, "", "boom\n")) == "boom"


def test_deb_filename_quotes_the_epoch() -> None:
    assert archive.deb_filename("zlib1g", "1:1.3.dfsg-3", "amd64") == "zlib1g_1%3a1.3.dfsg-3_amd64.deb"


# --- download: the index is replaced only after every .deb is there ------------------------------


def _fake_download(monkeypatch: pytest.MonkeyPatch, debs: list[str], fail: bool = False) -> None:
    from fossp.upgrade.model import Prediction

    index = ArchiveIndex("debian-13", {}, (), "")
    prediction = Prediction(upgraded=(("libc6", "2.36-9", "2.41-12"),), installed=(("zlib1g", "1:1.3-1"),))

    def apt(spec: SuiteSpec, status: bytes, argv: list[str], what: str, timeout: float, archives: Path) -> str:
        for name in debs:
            (archives / name).write_bytes(b"not really a deb")
        if fail:
            raise archive.ArchiveError(f"{what}: Failed to fetch http://deb.debian.org/debian/pool/z/zlib1g.deb")
        return ""

    monkeypatch.setattr(archive, "ensure_index", lambda spec, **_: index)
    monkeypatch.setattr(archive, "simulate", lambda *a, **k: prediction)
    monkeypatch.setattr(archive, "_apt_on_host", apt)


def test_a_failed_download_keeps_the_previous_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Packages").write_text("old index\n")
    (tmp_path / "Release").write_text("old release\n")
    _fake_download(monkeypatch, ["libc6_2.41-12_amd64.deb"], fail=True)
    with pytest.raises(archive.ArchiveError, match="Failed to fetch"):
        archive.download(TRIXIE, b"", "full-upgrade", tmp_path)
    assert (tmp_path / "Packages").read_text() == "old index\n"
    assert (tmp_path / "Release").read_text() == "old release\n"


def test_a_download_missing_a_deb_keeps_the_previous_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Packages").write_text("old index\n")
    _fake_download(monkeypatch, ["libc6_2.41-12_amd64.deb"])  # apt "succeeded" but left no zlib1g
    with pytest.raises(archive.ArchiveError, match=r"zlib1g 1:1\.3-1"):
        archive.download(TRIXIE, b"", "full-upgrade", tmp_path)
    assert (tmp_path / "Packages").read_text() == "old index\n"


# --- for real: apt on the controller -------------------------------------------------------------

needs_root_and_base = pytest.mark.skipif(
    os.geteuid() != 0 or not BASE_STATUS.exists(), reason="needs root and the lab base (fossp lab up builds it)"
)


@pytest.mark.lab
@needs_root_and_base
def test_real_index_and_simulation_of_the_lab_base(monkeypatch: pytest.MonkeyPatch) -> None:
    index = archive.ensure_index(TRIXIE)
    assert len(index.packages) > 50000
    assert {release.suite for release in index.releases} == {"trixie", "trixie-updates", "trixie-security"}
    assert next(r for r in index.releases if r.suite == "trixie").version.startswith("13")

    def not_again(*_: object) -> None:
        raise AssertionError("a fresh index was fetched or parsed again instead of served from the cache")

    with monkeypatch.context() as patched:
        patched.setattr(archive, "_update", not_again)
        patched.setattr(archive, "build_index", not_again)
        again = archive.ensure_index(TRIXIE)
    assert again.packages["libc6"] == index.packages["libc6"]

    prediction = archive.simulate(TRIXIE, BASE_STATUS.read_bytes(), index=again)
    assert not prediction.empty
    libc = next(entry for entry in prediction.upgraded if entry[0] == "libc6")
    assert libc[1].startswith("2.36") and libc[2] == index.packages["libc6"].version
    assert prediction.download_bytes > 10_000_000


@pytest.mark.lab
@needs_root_and_base
def test_real_download_is_incremental(tmp_path: Path) -> None:
    dest = tmp_path / "debian-13"
    debs = archive.download(TRIXIE, BASE_STATUS.read_bytes(), ("base-files",), dest)
    assert [deb.name.split("_")[0] for deb in debs] == ["base-files"]
    first = debs[0].stat().st_mtime_ns
    packages = (dest / "Packages").read_text()
    assert "Package: base-files" in packages and f"Filename: ./{debs[0].name}" in packages
    release = (dest / "Release").read_text()
    assert "SHA256:" in release and " Packages\n" in release
    assert archive.download(TRIXIE, BASE_STATUS.read_bytes(), ("base-files",), dest) == debs
    assert debs[0].stat().st_mtime_ns == first  # not fetched again
    assert " Release\n" not in (dest / "Release").read_text()  # the previous Release is not hashed
