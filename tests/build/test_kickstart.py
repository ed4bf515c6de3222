"""Kickstart files from roles, parsed back by pykickstart's handler for each Fedora
release FOSSP supports, and the layout check pykickstart's validator lacks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fossp.build.kickstart import check_kickstart, fedora_releases, kickstart_text
from fossp.catalog import Role, load_catalog
from fossp.errors import BadInput
from fossp.hosts.facts import parse_os_release

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFossp admin@example"


def _roles(*names: str) -> list[Role]:
    catalog = load_catalog()
    return [catalog.role(name) for name in names]


@pytest.mark.parametrize("release", fedora_releases())
def test_every_supported_release_reads_the_kickstart_back_clean(release: int) -> None:
    text = kickstart_text(_roles("postgresql", "nginx"), ["btrfs-progs"], fedora=release, ssh_key=KEY)
    assert check_kickstart(text, release) == []
    for line in (
        "btrfs / --subvol --name=@ LABEL=fossp",
        "btrfs /home --subvol --name=@home LABEL=fossp",
        "btrfs /.snapshots --subvol --name=@snapshots LABEL=fossp",
        f'sshkey --username=root "{KEY}"',
        'services --enabled="sshd,postgresql.service,nginx.service"',
    ):
        assert line in text.splitlines(), line
    start = text.index("%packages")
    packages = text[start : text.index("%end", start)].split()
    assert {"postgresql-server", "nginx", "btrfs-progs", "@core"} <= set(packages)
    assert "--service=ssh,postgresql,http" in text and "--port" not in text  # both services cover the ports


def test_ports_no_firewalld_service_covers_are_opened_by_number() -> None:
    assert "firewall --enabled --port=8000:tcp --service=ssh" in kickstart_text(_roles("icecast"), [])


def test_the_default_release_is_the_newest_that_is_not_in_development() -> None:
    text = kickstart_text(_roles("nginx"), [])
    assert "#version=DEVEL" not in text and "#version=F45" in text


def test_a_btrfs_member_no_part_defines_is_found_at_its_line() -> None:
    text = kickstart_text(_roles("nginx"), []).replace(
        'btrfs none --label="fossp" btrfs.01', "btrfs none --label=fossp btrfs.01 btrfs.02"
    )
    [finding] = check_kickstart(text)
    assert "member btrfs.02 is no part" in finding.message
    assert text.splitlines()[finding.line - 1].startswith("btrfs none")


def test_a_missing_snapshots_subvolume_is_found() -> None:
    text = "\n".join(line for line in kickstart_text(_roles("nginx"), []).splitlines() if "@snapshots" not in line)
    assert [f.message for f in check_kickstart(text)] == [
        "subvolume @snapshots must be mounted at /.snapshots (FOSSP's snapshots and restore use it)"
    ]


def test_a_kickstart_pykickstart_refuses_is_a_finding() -> None:
    findings = check_kickstart("part /boot --fstype=ext4 --bogus-option\n")
    assert findings and "bogus" in findings[0].message


@pytest.mark.parametrize(
    ("roles", "release", "message"),
    [
        (("nginx",), 37, "--fedora 37: FOSSP's kickstart needs Fedora 38-"),
        (("nginx-rtmp",), None, "is not available on fedora"),
        (("hpc",), None, "spans hosts"),
        (("httpd", "nginx"), None, "a kickstart: FOSSP-WDSHT and FOSSP-WDSNG cannot share a host"),
    ],
)
def test_bad_input_names_what_is_wrong(roles: tuple[str, ...], release: int | None, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        kickstart_text(_roles(*roles), [], fedora=release)


def test_the_post_script_gives_os_release_fossps_keys(tmp_path: Path) -> None:
    """The %post runs on the installed system; here on stand-in paths, with Fedora's file."""
    text = kickstart_text(_roles("postgresql", "nginx"), [])
    start = text.index("%post --erroronfail")
    script = text[text.index("\n", start) + 1 : text.index("%end", start)]
    vendor, etc = tmp_path / "vendor", tmp_path / "os-release"
    vendor.write_text('NAME="Fedora Linux"\nVERSION_ID=45\nID=fedora\nVARIANT="Server Edition"\nVARIANT_ID=server\n')
    script = script.replace("/usr/lib/os-release", str(vendor)).replace("/etc/os-release", str(etc))
    subprocess.run(["sh", "-e", "-c", script], check=True, timeout=30)
    written = etc.read_text()
    assert "VARIANT_ID=server" not in written and "VARIANT_ID=fossp-server" in written
    assert 'FOSSP_ROLES="FOSSP-DASPO FOSSP-WDSNG"' in written and written.startswith('NAME="Fedora Linux"')
    assert parse_os_release(written).fossp()["roles"] == ["FOSSP-DASPO", "FOSSP-WDSNG"]
