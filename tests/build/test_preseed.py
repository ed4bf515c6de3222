"""Preseed files from roles: the golden PostgreSQL + nginx file, debconf-set-selections'
check and FOSSP's own (a warning is a failure), and the late command's script run for real
on a loop-mounted BTRFS file (root only), where it must make FOSSP's layout."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fossp.build.preseed import LATE_SCRIPT, Preseed, answers, build_preseed, check_preseed
from fossp.catalog import Role, load_catalog
from fossp.errors import BadInput
from fossp.platform.osrelease import install_script

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFossp admin's key"
GOLDEN = Path(__file__).parent / "golden" / "preseed-postgresql-nginx.cfg"
needs_debconf = pytest.mark.skipif(shutil.which("debconf-set-selections") is None, reason="no debconf")


def _roles(*names: str) -> list[Role]:
    catalog = load_catalog()
    return [catalog.role(name) for name in names]


def _preseed(*names: str, debian: int | None = None) -> Preseed:
    return build_preseed(_roles(*names), ["btrfs-progs"], KEY, debian=debian, hostname="db1.example.org")


def _answer(text: str, question: str) -> str | None:
    return next(fields[3] for _, fields in answers(text) if fields[1] == question)


@needs_debconf
def test_golden_postgresql_nginx_passes_both_checks() -> None:
    built = _preseed("postgresql", "nginx")
    assert built.text == GOLDEN.read_text()
    assert check_preseed(built.text) == {"debconf": [], "fossp": []}
    assert built.data_folders == ["/var/lib/postgresql", "/var/log/postgresql", "/var/log/nginx"]
    assert _answer(built.text, "pkgsel/include") == "btrfs-progs postgresql postgresql-client nginx"
    assert _answer(built.text, "mirror/suite") == "bookworm"


def test_debian_13_is_trixie() -> None:
    assert _answer(_preseed("nginx", debian=13).text, "mirror/suite") == "trixie"


@needs_debconf
def test_a_debconf_warning_is_a_failure() -> None:
    text = _preseed("nginx").text + "d-i fossp/test bogus x\n"
    line = len(text.splitlines())
    checks = check_preseed(text)
    warning = f"warning: Unknown type bogus, skipping line {line}"
    assert [(f.line, f.message) for f in checks["debconf"]] == [(line, warning)]
    assert [f.message for f in checks["fossp"]] == [
        "fossp/test: unknown type 'bogus' (known: string, boolean, select, multiselect, note, text, password)"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("d-i mirror/suite string bookworm\n", ""), "mirror/suite (string) must be answered once"),
        (lambda t: t + "d-i time/zone string UTC\n", "time/zone (string) must be answered once (lines 18, "),
        (lambda t: t + "netcfg/get_hostname string db2\n", "a question needs its owner first"),
        (lambda t: t + "d-i passwd/root-password password secret\n", "a password in the file"),
        (lambda t: t.replace("make-user boolean false", "make-user boolean no"), "neither true nor false"),
        (lambda t: t.replace("time/zone string", "time/zone select"), "time/zone: type select, FOSSP's table says"),
    ],
)
def test_fossp_finds_what_debconf_lets_pass(change: Callable[[str], str], message: str) -> None:
    text = change(_preseed("nginx").text)
    assert any(message in f.message for f in check_preseed(text)["fossp"]), check_preseed(text)["fossp"]


@pytest.mark.parametrize(
    ("roles", "debian", "message"),
    [
        (("nginx",), 11, "--debian 11: FOSSP's preseed installs Debian 12, 13"),
        (("wildfly",), None, "is not available on debian"),
        (("hpc",), None, "spans hosts"),
        (("httpd", "nginx"), None, "a preseed: FOSSP-WDSHT and FOSSP-WDSNG cannot share a host"),
    ],
)
def test_bad_input_names_what_is_wrong(roles: tuple[str, ...], debian: int | None, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        _preseed(*roles, debian=debian)


def test_the_late_command_writes_the_script_then_runs_each_step_in_the_target(tmp_path: Path) -> None:
    """The value as the installer's shell runs it, with /target here and in-target recorded."""
    (tmp_path / "root").mkdir()
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "in-target"
    fake.write_text(
        '#!/bin/sh\nfor a; do printf "[%s]" "$a"; done >> "$CALLS"; echo >> "$CALLS"\n'
        'if [ "$1" = sh ] && [ "$2" = -c ]; then sh -c "$(printf %s "$3" | sed "s#/root/#$TARGET/root/#g")"; exit; fi\n'
        '[ "$1" = sh ] && cp "$TARGET$2" "$TARGET/seen-${2##*/}"\nexit 0\n'
    )
    fake.chmod(0o755)
    command = _answer(_preseed("postgresql", "nginx").text, "preseed/late_command")
    assert command is not None and "\\" not in command
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls")}
    env["TARGET"] = str(tmp_path)
    subprocess.run(["sh", "-c", command.replace("/target", str(tmp_path))], check=True, env=env)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        "[sh][/root/fossp-late.sh][layout][/][/var/lib/postgresql][/var/log/postgresql][/var/log/nginx]",
        "[sh][/root/fossp-late.sh][boot]",
        f"[sh][/root/fossp-late.sh][key][/][{KEY}]",
        "[systemctl][enable][postgresql.service][nginx.service]",
        "[sh][-c][base64 -d /root/fossp-post.sh.b64 > /root/fossp-post.sh]",
        "[sh][/root/fossp-post.sh]",
    ]
    script = (tmp_path / "seen-fossp-late.sh").read_text()
    assert list((tmp_path / "root").iterdir()) == []  # the scripts are removed at the end
    post = (tmp_path / "seen-fossp-post.sh").read_text()
    assert post == install_script(["FOSSP-DASPO", "FOSSP-WDSNG"])  # os-release keys, no first boot asked
    kept = [line for line in LATE_SCRIPT.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert script.splitlines() == kept
    subprocess.run(["sh", "-n", "-c", script], check=True)


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    """A BTRFS file on a loop device as Debian's installer leaves it: / on @rootfs, with
    a PostgreSQL cluster, a home and the installer's fstab."""
    if os.geteuid() != 0 or shutil.which("mkfs.btrfs") is None:
        pytest.skip("needs root and mkfs.btrfs (a loop device)")
    image, root = tmp_path / "disk.img", tmp_path / "target"
    subprocess.run(["truncate", "-s", "300M", str(image)], check=True)
    subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True, capture_output=True)
    device = subprocess.run(["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True)
    loop = device.stdout.strip()
    root.mkdir()
    try:
        subprocess.run(["mount", loop, str(root)], check=True)
        subprocess.run(["btrfs", "subvolume", "create", str(root / "@rootfs")], check=True, capture_output=True)
        subprocess.run(["umount", str(root)], check=True)
        subprocess.run(["mount", "-o", "subvol=@rootfs", loop, str(root)], check=True)
        cluster = root / "var/lib/postgresql/15/main"
        cluster.mkdir(parents=True)
        (cluster / "PG_VERSION").write_text("15\n")
        os.chown(root / "var/lib/postgresql", 105, 110)
        (root / "var/lib/postgresql").chmod(0o700)
        (root / "home/admin").mkdir(parents=True)
        (root / "etc").mkdir()
        (root / "etc/fstab").write_text("# / was on /dev/vda2\nUUID=x / btrfs defaults,subvol=@rootfs 0 0\n")
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=False)
        subprocess.run(["losetup", "-d", loop], check=False)


def test_the_layout_step_makes_fossps_subvolumes_on_a_real_btrfs(installed: Path, tmp_path: Path) -> None:
    script = tmp_path / "fossp-late.sh"
    script.write_text(LATE_SCRIPT.read_text())
    folders = _preseed("postgresql", "nginx").data_folders
    subprocess.run(["sh", str(script), "layout", str(installed), *folders], check=True, capture_output=True)

    listed = subprocess.run(["btrfs", "subvolume", "list", str(installed)], check=True, capture_output=True, text=True)
    paths = {line.split(" path ")[1]: line.split()[6] for line in listed.stdout.splitlines()}  # path: top level
    assert paths == {
        "@": "5",
        "@home": "5",
        "@snapshots": "5",
        "var/lib/postgresql": "256",  # nested in @
        "var/log/postgresql": "256",
        "var/log/nginx": "256",
    }
    default = subprocess.run(["btrfs", "subvolume", "get-default", str(installed)], capture_output=True, text=True)
    assert default.stdout.split()[-1] == "@"
    data = installed / "var/lib/postgresql"
    assert (data / "15/main/PG_VERSION").read_text() == "15\n"  # what the packages put there is kept
    assert (data.stat().st_uid, data.stat().st_gid, data.stat().st_mode & 0o777) == (105, 110, 0o700)
    assert not list((installed / "home").iterdir()) and (installed / ".snapshots").is_dir()
    found = subprocess.run(["findmnt", "-n", "-o", "UUID", str(installed)], capture_output=True, text=True)
    uuid = found.stdout.strip()
    assert (installed / "etc/fstab").read_text().splitlines() == [
        f"UUID={uuid} / btrfs defaults 0 0",
        f"UUID={uuid} /home btrfs defaults,subvol=@home 0 0",
        f"UUID={uuid} /.snapshots btrfs defaults,subvol=@snapshots 0 0",
    ]
    assert "GRUB_FS=btrfs-default-subvolume" in (installed / "etc/default/grub.d/fossp.cfg").read_text()
    home = tmp_path / "home"
    home.mkdir()
    source = subprocess.run(["findmnt", "-n", "-v", "-o", "SOURCE", str(installed)], capture_output=True, text=True)
    subprocess.run(["mount", "-o", "subvol=@home", source.stdout.strip(), str(home)], check=True)
    try:
        assert [p.name for p in home.iterdir()] == ["admin"]  # moved into @home
    finally:
        subprocess.run(["umount", str(home)], check=False)
