"""Upgrade facts: the recorded script output of a real Debian 12 host, and each section's parser."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from fossp.hosts.connector import HostError
from fossp.hosts.facts import Facts, parse_os_release
from fossp.upgrade.archive import parse_dpkg_status
from fossp.upgrade.facts import (
    UPGRADE_SCRIPT,
    AptSourceLine,
    Filesystem,
    PgCluster,
    UpgradeFacts,
    parse_deb822_sources,
    parse_df,
    parse_one_line_sources,
    parse_pg_clusters,
    parse_sources,
    parse_upgrade_facts,
)

FIXTURES = Path(__file__).parent / "fixtures" / "facts"
RECORDED = (FIXTURES / "debian-12.11-upgrade-facts.txt").read_text()
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def base_facts(version_id: str = "12") -> Facts:
    return Facts(host="web1", hostname="web1", os=parse_os_release(OS_RELEASE.replace('"12"', f'"{version_id}"')))


def with_section(output: str, name: str, body: str) -> str:
    """The recorded output with one (empty) section's body replaced."""
    marker = f"@@fossp:{name}@@\n"
    assert marker + "\n" in output, name
    return output.replace(marker + "\n", marker + body + "\n", 1)


# --------------------------------------------------------------------------- the recorded host


def test_the_recorded_output_parses_into_every_fact() -> None:
    facts = parse_upgrade_facts(base_facts(), RECORDED)
    assert facts.point_release == "12.11"
    assert facts.installed_release == "12.11"
    assert facts.sources == (
        AptSourceLine(
            "/etc/apt/sources.list.d/debian.sources",
            "http://deb.debian.org/debian",
            ("bookworm", "bookworm-updates"),
            ("main",),
        ),
        AptSourceLine(
            "/etc/apt/sources.list.d/debian.sources",
            "http://deb.debian.org/debian-security",
            ("bookworm-security",),
            ("main",),
        ),
    )
    assert list(facts.source_files) == ["/etc/apt/sources.list.d/debian.sources"]
    assert facts.source_files["/etc/apt/sources.list.d/debian.sources"].startswith("Types: deb\n# http://snapshot")
    assert facts.filesystems == (Filesystem("/", 81081421824),)  # / /var /var/cache/apt: one file system, once
    assert facts.available("/var/cache/apt") == 81081421824
    assert facts.reboot_required is False
    assert facts.reboot_packages == ()
    assert facts.pg_clusters == (PgCluster("15", "main", 5432, "down"),)
    assert facts.record is None
    assert facts.base.hostname == "web1"


def test_the_dpkg_status_section_is_the_status_file_with_a_held_package() -> None:
    facts = parse_upgrade_facts(base_facts(), RECORDED)
    text = facts.dpkg_status.decode()
    assert text.startswith("Package: base-files\n")
    status = parse_dpkg_status(text)
    assert sorted(status) == ["base-files", "libssl3", "openssl", "postgresql-15"]
    assert status["openssl"]["Status"] == "hold ok installed"
    assert status["libssl3"]["Source"] == "openssl"
    assert status["postgresql-15"]["Version"] == "15.18-0+deb12u1"


def test_a_pending_reboot_and_an_upgrade_record_are_read() -> None:
    record = '{\n  "run_id": "r1",\n  "target": "debian 13 (trixie)",\n  "step": "packages"\n}'
    output = with_section(RECORDED, "reboot", "required\nlinux-image-6.1.0-37-amd64\nlibc6")
    output = with_section(output, "record", record)
    facts = parse_upgrade_facts(base_facts(), output)
    assert facts.reboot_required is True
    assert facts.reboot_packages == ("linux-image-6.1.0-37-amd64", "libc6")
    assert facts.record == record


def test_a_pending_reboot_without_a_package_list() -> None:
    facts = parse_upgrade_facts(base_facts(), with_section(RECORDED, "reboot", "required"))
    assert (facts.reboot_required, facts.reboot_packages) == (True, ())


def test_output_cut_short_is_an_error_not_empty_facts() -> None:
    cut = RECORDED.split("@@fossp:record@@")[0]
    with pytest.raises(HostError, match="web1: upgrade facts were cut short"):
        parse_upgrade_facts(base_facts(), cut)


def test_a_host_without_dpkg_or_sources_gives_empty_facts() -> None:
    """A Fedora host prints the markers with nothing behind them."""
    output = "\n".join(
        f"\n@@fossp:{name}@@\n"
        for name in ("debian_version", "dpkg_status", "space", "reboot", "pg_clusters", "record")
    )
    facts = parse_upgrade_facts(base_facts("41"), output + "\n@@fossp:end@@\n")
    assert facts.dpkg_status == b""
    assert facts.sources == ()
    assert facts.point_release == ""
    assert facts.installed_release == "41"  # falls back to os-release VERSION_ID


def test_the_script_is_fixed_text_that_only_reads() -> None:
    for word in ("rm ", "mv ", "> /", ">/etc", ">/var", "apt-get", "dpkg --", "tee ", "$@", "$2"):
        assert word not in UPGRADE_SCRIPT


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists() or not shutil.which("sh"), reason="not a dpkg host")
def test_the_script_runs_here_and_its_output_parses() -> None:
    """The same script as the recording, run on this machine (it only reads)."""
    result = subprocess.run(["sh", "-s"], input=UPGRADE_SCRIPT, capture_output=True, text=True, timeout=60, check=True)
    facts = parse_upgrade_facts(base_facts(), result.stdout)
    assert facts.dpkg_status == Path("/var/lib/dpkg/status").read_bytes()
    assert facts.available("/") is not None


# --------------------------------------------------------------------------- one-line sources


def test_one_line_sources_drop_options_comments_and_deb_src() -> None:
    text = """\
# the main archive
deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://deb.debian.org/debian bookworm main contrib
deb-src http://deb.debian.org/debian bookworm main
#deb http://old.example/debian bookworm main
  deb http://deb.debian.org/debian bookworm-updates main   # trailing comment
deb [ trusted=yes ] file:/srv/fossp-repo ./
deb http://incomplete.example/
"""
    assert parse_one_line_sources("/etc/apt/sources.list", text) == [
        AptSourceLine("/etc/apt/sources.list", "http://deb.debian.org/debian", ("bookworm",), ("main", "contrib")),
        AptSourceLine("/etc/apt/sources.list", "http://deb.debian.org/debian", ("bookworm-updates",), ("main",)),
        AptSourceLine("/etc/apt/sources.list", "file:/srv/fossp-repo", ("./",), ()),
    ]


def test_one_line_sources_separated_by_tabs() -> None:
    found = parse_one_line_sources("f.list", "deb\thttps://apt.example.com/debian bookworm main\n")
    assert [s.uri for s in found] == ["https://apt.example.com/debian"]


# --------------------------------------------------------------------------- deb822 sources


DEB822 = """\
Types: deb deb-src
URIs: http://deb.debian.org/debian
 http://mirror.example.org/debian
Suites: bookworm
 bookworm-updates
Components: main
 non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://disabled.example.org/apt
Suites: bookworm
Components: main
Enabled: no

Types: deb-src
URIs: http://sources-only.example.org/debian
Suites: bookworm
Components: main

# a comment line before the stanza
Types: deb
URIs: https://one.example.org/apt https://two.example.org/apt
Suites: stable
Components: main
Enabled: yes
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGQ...
 -----END PGP PUBLIC KEY BLOCK-----
"""


def test_deb822_sources_follow_enabled_types_continuations_and_several_uris() -> None:
    found = parse_deb822_sources("x.sources", DEB822)
    assert [(s.uri, s.suites, s.components) for s in found] == [
        ("http://deb.debian.org/debian", ("bookworm", "bookworm-updates"), ("main", "non-free-firmware")),
        ("http://mirror.example.org/debian", ("bookworm", "bookworm-updates"), ("main", "non-free-firmware")),
        ("https://one.example.org/apt", ("stable",), ("main",)),
        ("https://two.example.org/apt", ("stable",), ("main",)),
    ]
    assert {s.file for s in found} == {"x.sources"}


def test_deb822_field_names_and_enabled_are_case_insensitive() -> None:
    text = "types: deb\nuris: http://a.example/\nsuites: bookworm\ncomponents: main\nenabled: No\n"
    assert parse_deb822_sources("x.sources", text) == []
    assert len(parse_deb822_sources("x.sources", text.replace("No", "yes"))) == 1


def test_parse_sources_picks_the_parser_by_file_name() -> None:
    one_line = "/etc/apt/sources.list\ndeb http://deb.debian.org/debian bookworm main\n"
    deb822 = "/etc/apt/sources.list.d/x.sources\nTypes: deb\nURIs: http://a.example/\nSuites: bookworm\n"
    sources, files = parse_sources([one_line, deb822])
    assert [s.uri for s in sources] == ["http://deb.debian.org/debian", "http://a.example/"]
    assert files == {
        "/etc/apt/sources.list": "deb http://deb.debian.org/debian bookworm main\n",
        "/etc/apt/sources.list.d/x.sources": "Types: deb\nURIs: http://a.example/\nSuites: bookworm\n",
    }


# --------------------------------------------------------------------------- space and clusters


def test_parse_df_reads_free_bytes_per_mount_once() -> None:
    text = """\
Filesystem         1-blocks        Used   Available Capacity Mounted on
/dev/vda1       21474836480 10737418240 10737418240      50% /
/dev/vdb1       53687091200  1073741824 52613349376       2% /var
/dev/vdb1       53687091200  1073741824 52613349376       2% /var
"""
    assert parse_df(text) == [Filesystem("/", 10737418240), Filesystem("/var", 52613349376)]
    assert parse_df("") == []
    assert parse_df("Filesystem 1-blocks Used Available Capacity Mounted on\n") == []


def test_parse_pg_clusters_reads_the_real_line_shape() -> None:
    text = (
        "15  main    5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log\n"
        "15  second  5433 down   postgres /var/lib/postgresql/15/second /var/log/postgresql/postgresql-15-second.log\n"
        "13  legacy  5434 online,recovery postgres /var/lib/postgresql/13/legacy /var/log/postgresql/x.log\n"
    )
    assert parse_pg_clusters(text) == [
        PgCluster("15", "main", 5432, "online"),
        PgCluster("15", "second", 5433, "down"),
        PgCluster("13", "legacy", 5434, "online,recovery"),
    ]


def test_parse_pg_clusters_skips_a_header_and_noise() -> None:
    text = "Ver Cluster Port Status Owner    Data directory              Log file\nWarning: something\n"
    assert parse_pg_clusters(text) == []


def _with_mounts(*mounts: tuple[str, int]) -> UpgradeFacts:
    return UpgradeFacts(base=base_facts(), filesystems=tuple(Filesystem(m, a) for m, a in mounts))


def test_free_space_comes_from_the_longest_mount_prefix() -> None:
    facts = _with_mounts(("/", 1), ("/var", 2), ("/var/cache", 3))
    assert facts.available("/") == 1
    assert facts.available("/etc") == 1
    assert facts.available("/var") == 2
    assert facts.available("/var/lib/dpkg") == 2
    assert facts.available("/var/cache/apt") == 3
    assert facts.available("/variable") == 1  # a name prefix is not a mount prefix


def test_free_space_without_a_mount_holding_the_path_is_unknown() -> None:
    facts = _with_mounts(("/var", 2))
    assert facts.available("/var/cache/apt") == 2
    assert facts.available("/") is None
    assert facts.available("/home") is None
    assert _with_mounts().available("/") is None


def test_the_recorded_status_is_base64_of_real_bytes() -> None:
    """Guard the fixture itself: the section decodes strictly (no padding trimmed by hand)."""
    body = RECORDED.split("@@fossp:dpkg_status@@\n", 1)[1].split("\n", 1)[0]
    assert base64.b64decode(body, validate=True).endswith(b"\n")
