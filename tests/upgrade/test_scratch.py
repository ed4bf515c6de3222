"""The target release's own config checkers in a scratch root: data, archive safety, real checks."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fossp.catalog import Catalog, CatalogError
from fossp.catalog.schema import Family
from fossp.errors import BadInput
from fossp.upgrade import scratch
from fossp.upgrade.model import AptSource, ConfigCheck, SuiteSpec
from fossp.upgrade.scratch import (
    ScratchError,
    config_folders,
    extract_members,
    host_tar_argv,
    load_config_checks,
    loadable_member,
    member_name,
    read_host_archive,
    run_config_checks,
    scratch_root,
)

DEBIAN_13 = SuiteSpec(
    key="debian-13",
    sources=(
        AptSource("http://deb.debian.org/debian", ("trixie", "trixie-updates"), ("main",)),
        AptSource("http://deb.debian.org/debian-security", ("trixie-security",), ("main",)),
    ),
)
CHECKERS = ["nginx", "bind9", "bind9-utils"]
NGINX_WRITABLE = "writable: [/run, /var/lib/nginx, /var/log/nginx]"  # as in the data file
SSL_ON_SITE = """\
server {
    listen 443;
    server_name legacy.example.org;
    ssl on;
    root /var/www/html;
}
"""
AUTO_DNSSEC_ZONE = """\
zone "example.org" {
    type primary;
    file "/etc/bind/db.empty";
    auto-dnssec maintain;
};
"""


def _tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


# -- the data file ------------------------------------------------------------------


def test_the_data_file_validates_and_names_only_catalog_roles(catalog: Catalog) -> None:
    table = load_config_checks()
    names = {role.name for role in catalog.roles.values()}
    assert set(table) <= names
    for role in ("nginx", "bind", "httpd", "haproxy", "kea"):
        assert set(table[role]) == {Family.DEBIAN, Family.FEDORA}, role
    assert table["nginx"][Family.DEBIAN].command == ["nginx", "-t"]
    assert "bind9-utils" in table["bind"][Family.DEBIAN].packages  # named-checkconf lives there in trixie
    assert table["bind"][Family.FEDORA].command == ["named-checkconf", "/etc/named.conf"]
    assert "postgresql" not in table and "mariadb" not in table  # no standalone checker


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "  debian: {packages: [nginx], paths: [/etc/nginx], command: [nginx, -t], why: x}",
            "field 'nginx.debian.why'",
        ),
        ("  debian: {packages: [nginx], paths: [etc/nginx], command: [nginx, -t]}", "field 'nginx.debian.paths.0'"),
        ("  debian: {packages: [nginx], paths: [/etc], command: [nginx, -t]}", "field 'nginx.debian.paths.0'"),
        ("  debian: {packages: [nginx], paths: [/etc/nginx/../x], command: [nginx, -t]}", "must not contain"),
        ("  debian: {packages: [nginx], paths: [/etc/nginx, /etc/nginx/x], command: [nginx, -t]}", "is inside"),
        ("  debian: {packages: [nginx], paths: [/etc/nginx], command: []}", "field 'nginx.debian.command'"),
        ("  suse: {packages: [nginx], paths: [/etc/nginx], command: [nginx, -t]}", "field 'nginx.suse"),
    ],
)
def test_a_broken_data_file_is_refused_naming_the_field(tmp_path: Path, change: str, message: str) -> None:
    path = tmp_path / "config_checks.yaml"
    path.write_text(f"nginx:\n{change}\n")
    with pytest.raises(CatalogError, match=re.escape(message)):
        load_config_checks(path)


def test_a_role_outside_the_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config_checks.yaml"
    path.write_text("ngnix:\n  debian: {packages: [nginx], paths: [/etc/nginx], command: [nginx, -t]}\n")
    with pytest.raises(CatalogError, match="'ngnix' is not the name of a catalog role"):
        load_config_checks(path)


def test_config_folders_are_those_of_roles_with_a_check_once_each() -> None:
    assert config_folders(["nginx", "postgresql", "bind", "nginx", "tftp"], "debian") == ["/etc/nginx", "/etc/bind"]
    fedora = config_folders(["bind"], "fedora")
    assert "/etc/named.conf" in fedora and "/etc/named" in fedora
    assert config_folders(["postgresql", "mariadb"], "debian") == []
    with pytest.raises(BadInput, match="unknown OS family 'suse'"):
        config_folders(["nginx"], "suse")


# -- the host's archive -------------------------------------------------------------


def test_host_tar_argv_archives_what_exists_and_never_follows_a_link(tmp_path: Path) -> None:
    host = tmp_path / "host"
    (host / "etc" / "nginx" / "sites-available").mkdir(parents=True)
    (host / "etc" / "nginx" / "sites-enabled").mkdir()
    (host / "etc" / "nginx" / "nginx.conf").write_text("events {}\n")
    (host / "etc" / "nginx" / "sites-enabled" / "default").symlink_to("/etc/nginx/sites-available/default")
    (host / "secret").write_text("controller secret\n")
    (host / "etc" / "nginx" / "outside").symlink_to(host / "secret")
    argv = host_tar_argv(["/etc/nginx", "/etc/bind"])  # /etc/bind does not exist on this "host"
    assert argv[0] == "tar" and "--directory=/" in argv and "--ignore-failed-read" in argv
    assert not {"-h", "--dereference"} & set(argv)
    argv[argv.index("--directory=/")] = f"--directory={host}"
    done = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert b"etc/bind" in done.stderr  # a warning, not a failure
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert "etc/nginx/nginx.conf" in members
    assert members["etc/nginx/outside"].issym() and members["etc/nginx/outside"].linkname == str(host / "secret")
    assert members["etc/nginx/sites-enabled/default"].linkname == "/etc/nginx/sites-available/default"
    assert b"controller secret" not in done.stdout
    for bad in (["etc/nginx"], ["/etc/../root"], ["/"], []):
        with pytest.raises(BadInput):
            host_tar_argv(bad)


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (_info("../x"), "'..'"),
        (_info("etc/nginx/../../x"), "'..'"),
        (_info("/etc/x"), "absolute path"),
        (_info("etc/nginx/sda", tarfile.BLKTYPE), "device file"),
        (_info("etc/nginx/tty", tarfile.CHRTYPE), "device file"),
        (_info("etc/nginx/pipe", tarfile.FIFOTYPE), "FIFO"),
        (_info("etc/nginx/pw", tarfile.LNKTYPE, "/etc/passwd"), "hard link"),
        (_info("etc/nginx/pw", tarfile.LNKTYPE, "etc/nginx/../../etc/passwd"), "hard link"),
    ],
)
def test_unsafe_members_are_refused(info: tarfile.TarInfo, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        member_name(info)
    with pytest.raises(BadInput, match=message):
        read_host_archive(_tar((_info("etc/nginx", tarfile.DIRTYPE), None), (info, b"" if info.isreg() else None)))


def test_safe_member_names_are_normalised() -> None:
    assert member_name(_info("./etc//nginx/nginx.conf")) == "etc/nginx/nginx.conf"
    assert member_name(_info("etc/nginx/", tarfile.DIRTYPE)) == "etc/nginx"
    assert member_name(_info("etc/nginx/x", tarfile.SYMTYPE, "/etc/anything/../at/all")) == "etc/nginx/x"
    assert member_name(_info(".", tarfile.DIRTYPE)) is None
    with pytest.raises(BadInput, match="cannot be read"):
        read_host_archive(b"not a tar archive at all" * 40)


def test_extraction_never_writes_through_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("untouched\n")
    root = tmp_path / "root"
    root.mkdir()
    through_folder = read_host_archive(
        _tar(
            (_info("etc/nginx", tarfile.DIRTYPE), None),
            (_info("etc/nginx/evil", tarfile.SYMTYPE, str(outside)), None),
            (_info("etc/nginx/evil/planted"), b"planted\n"),
        )
    )
    with pytest.raises(BadInput, match="'etc/nginx/evil' is a symbolic link"):
        extract_members(through_folder, through_folder.members, root)
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]

    shutil.rmtree(root / "etc")
    over_a_link = read_host_archive(
        _tar(
            (_info("etc/nginx/x", tarfile.SYMTYPE, str(outside / "victim")), None),
            (_info("etc/nginx/x"), b"replaced\n"),
            (_info("etc/nginx/abs", tarfile.SYMTYPE, "/etc/nginx/sites-available/default"), None),
        )
    )
    assert extract_members(over_a_link, over_a_link.members, root) == 3
    assert (outside / "victim").read_text() == "untouched\n"
    assert not (root / "etc/nginx/x").is_symlink() and (root / "etc/nginx/x").read_text() == "replaced\n"
    assert os.readlink(root / "etc/nginx/abs") == "/etc/nginx/sites-available/default"  # kept as written

    shutil.rmtree(root / "etc")
    outside.chmod(0o700)
    folder_then_link = read_host_archive(
        _tar(
            (_info("etc/nginx/d", tarfile.DIRTYPE), None),
            (_info("etc/nginx/d", tarfile.SYMTYPE, str(outside)), None),
        )
    )
    extract_members(folder_then_link, folder_then_link.members, root)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o700  # the folder's mode 755 was not applied through the link

    shutil.rmtree(root / "etc")
    stray_link = read_host_archive(_tar((_info("etc/nginx/pw", tarfile.LNKTYPE, "etc/passwd"), None)))
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    with pytest.raises(BadInput, match="not extracted before it"):
        extract_members(stray_link, stray_link.members, root)


def test_long_output_keeps_its_beginning_and_its_end() -> None:
    text = "first line\n" + "x" * 5000 + "\nlast line"
    trimmed = scratch._trim(text)
    assert len(trimmed) < 2100 and trimmed.startswith("first line") and trimmed.endswith("last line")
    assert "characters left out" in trimmed and scratch._trim("short\n") == "short"


def test_roles_without_a_checker_are_left_out_and_other_families_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scratch, "SCRATCH_ROOT", tmp_path / "scratch")
    assert run_config_checks(DEBIAN_13, ["postgresql", "tftp"], "debian", b"") == []
    (fedora,) = run_config_checks(DEBIAN_13, ["nginx", "postgresql"], "fedora", b"")
    assert (fedora.role, fedora.ok, fedora.command) == ("nginx", False, ("nginx", "-t"))
    assert "debootstrap" in fedora.skipped
    unsafe = _tar((_info("etc/nginx/../../x"), b"x"))
    (refused,) = run_config_checks(DEBIAN_13, ["nginx"], "debian", unsafe)
    assert not refused.ok and "'..'" in refused.skipped
    assert not (tmp_path / "scratch").exists()  # nothing was built for an archive that is refused


# -- the checkers' sandbox: host-supplied code, privileges, isolation ---------------


@pytest.mark.parametrize(
    ("info", "data", "why"),
    [
        (_info("etc/nginx/evil.so"), b"not even an ELF file", "is named *.so"),
        (_info("etc/nginx/libx.so.1.2"), b"x", "is named *.so.*"),
        (_info("etc/haproxy/filter.lua"), b"core.Info('hi')", "is named *.lua"),
        (_info("etc/haproxy/filter.LUAC"), b"x", "is named *.luac"),
        (_info("etc/nginx/modules-enabled/x.so", tarfile.SYMTYPE, "/usr/lib/nginx/modules/x.so"), None, "*.so"),
        (_info("etc/kea/hook.conf"), b"\x7fELF\x02\x01\x01" + bytes(64), "is an ELF file"),
        (_info("etc/haproxy/script.txt"), b"\x1bLuaT\x00", "is compiled Lua"),
    ],
)
def test_code_a_checker_could_load_is_recognised(info: tarfile.TarInfo, data: bytes | None, why: str) -> None:
    host = read_host_archive(_tar((info, data)))
    ((_, member),) = host.members
    assert why in (loadable_member(host, member) or "")


def test_configuration_is_not_mistaken_for_code() -> None:
    host = read_host_archive(
        _tar(
            (_info("etc/apache2", tarfile.DIRTYPE), None),
            (_info("etc/apache2/mods-available/so.load"), b"LoadModule so_module x\n"),
            (_info("etc/apache2/mods-enabled/ssl.load", tarfile.SYMTYPE, "../mods-available/ssl.load"), None),
            (_info("etc/nginx/nginx.conf"), b"load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n"),
            (_info("etc/dhcp/dhclient-exit-hooks.d/rfc3442"), b"#!/bin/sh\n"),  # dhcpd never runs these
            (_info("etc/bind/db.empty"), b""),
        )
    )
    assert [loadable_member(host, member) for _, member in host.members] == [None] * 6


def test_the_sandbox_argv_drops_root_and_cuts_the_network() -> None:
    argv = scratch.sandbox_argv(Path("/scratch/merged"), ["nginx", "-t"], timeout=60)
    assert argv[0] == "unshare" and argv[-3:] == ["/scratch/merged", "nginx", "-t"]
    unshare = argv[: argv.index("--")]
    assert {"--net", "--pid", "--ipc", "--uts", "--mount", "--fork", "--kill-child"} <= set(unshare)
    assert not [flag for flag in unshare if flag.startswith(("--user", "--map"))]  # no root mapped to root
    tools = [arg for arg in argv if arg in ("/bin/sh", "timeout", "prlimit", "setpriv", "chroot")]
    assert tools == ["/bin/sh", "timeout", "prlimit", "setpriv", "chroot"]  # chroot last: it drops root
    chroot = argv[argv.index("chroot") :]
    assert f"--userspec={scratch.CHECKER_UID}:{scratch.CHECKER_GID}" in chroot and scratch.CHECKER_UID != 0
    assert f"--groups={scratch.CHECKER_GID}" in chroot
    setpriv = argv[argv.index("setpriv") : argv.index("chroot")]
    assert "--no-new-privs" in setpriv and "--bounding-set=-all,+setuid,+setgid,+sys_chroot" in setpriv
    prlimit = argv[argv.index("prlimit") : argv.index("setpriv")]
    assert {"--cpu=60", "--core=0", f"--as={1 << 30}", f"--fsize={64 << 20}"} <= set(prlimit)
    assert any(arg.startswith("--nproc=") for arg in prlimit)


def test_kept_files_must_be_inside_the_checked_paths(tmp_path: Path) -> None:
    table = load_config_checks()
    assert table["httpd"][Family.DEBIAN].keep == ["/etc/apache2/envvars"]
    path = tmp_path / "config_checks.yaml"
    path.write_text(
        "httpd:\n  debian: {packages: [apache2], paths: [/etc/apache2], command: [apache2ctl, configtest],"
        " keep: [/etc/apache2-other/envvars]}\n"
    )
    with pytest.raises(CatalogError, match="'/etc/apache2-other/envvars' is not inside one of the paths"):
        load_config_checks(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another uid needs root")
def test_extracted_files_belong_to_the_checker_and_it_can_read_them(tmp_path: Path) -> None:
    key = _info("etc/bind/rndc.key")
    key.mode = 0o040  # root reads it on the host whatever its mode
    host = read_host_archive(_tar((_info("etc/bind", tarfile.DIRTYPE), None), (key, b"key")))
    extract_members(host, host.members, tmp_path, owner=(12345, 23456))
    info = (tmp_path / "etc/bind/rndc.key").stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (12345, 23456, 0o440)
    assert (tmp_path / "etc/bind").stat().st_uid == 12345


# -- real scratch roots (root, network) ---------------------------------------------


def lab(test: Callable[..., None]) -> Callable[..., None]:
    """The project's marker for tests that need root and the network, skipped without root or debootstrap."""
    unable = os.geteuid() != 0 or shutil.which("debootstrap") is None
    return pytest.mark.lab(pytest.mark.skipif(unable, reason="scratch roots need root and debootstrap")(test))


@pytest.fixture(scope="module")
def trixie() -> Path:
    return scratch_root(DEBIAN_13, CHECKERS)


@pytest.fixture(scope="module")
def bookworm_etc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/etc/nginx and /etc/bind as Debian 12's packages install them (plus the default site link)."""
    folder = tmp_path_factory.mktemp("bookworm")
    done = subprocess.run(
        ["apt-get", "download", "-o", "APT::Sandbox::User=root", "nginx-common", "bind9"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    tree = folder / "host"
    for deb in folder.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True, timeout=120)
    assert "1.22" in next(folder.glob("nginx-common_*.deb")).name  # really Debian 12's nginx
    (tree / "etc/nginx/sites-enabled/default").symlink_to("/etc/nginx/sites-available/default")  # as postinst does
    return tree


def _host_files(tree: Path, roles: list[str]) -> bytes:
    """What the caller gets from the host: host_tar_argv run over the tree as if it were /."""
    argv = host_tar_argv(config_folders(roles, "debian"))
    argv[argv.index("--directory=/")] = f"--directory={tree}"
    return subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout


def _copy(tree: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "host"
    shutil.copytree(tree, copy, symlinks=True)
    return copy


def _fingerprint(folder: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(folder)), p.lstat().st_size, p.lstat().st_mtime_ns) for p in [folder, *folder.rglob("*")]
    )


def _mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo]


@lab
def test_debian_12_default_configs_pass_under_trixie(trixie: Path, bookworm_etc: Path) -> None:
    results = run_config_checks(DEBIAN_13, ["nginx", "bind"], "debian", _host_files(bookworm_etc, ["nginx", "bind"]))
    by_role = {result.role: result for result in results}
    assert by_role["nginx"].ok, by_role["nginx"]
    assert "syntax is ok" in by_role["nginx"].output and not by_role["nginx"].skipped
    assert by_role["bind"] == ConfigCheck("bind", ("named-checkconf", "/etc/bind/named.conf"), ok=True)


@lab
def test_the_hosts_folder_replaces_the_packages_one(trixie: Path, bookworm_etc: Path, tmp_path: Path) -> None:
    """A site deleted on the host (FOSSP's nginx recipe deletes Debian's default) stays deleted in the check."""
    assert (trixie / "etc/nginx/sites-enabled/default").is_symlink()  # trixie's postinst made it
    host = _copy(bookworm_etc, tmp_path)
    (host / "etc/nginx/sites-enabled/default").unlink()
    (host / "etc/nginx/conf.d/fossp.conf").write_text("server { listen 80 default_server; root /var/www/html; }\n")
    (result,) = run_config_checks(DEBIAN_13, ["nginx"], "debian", _host_files(host, ["nginx"]))
    assert result.ok, result  # merged over the package's files, two default servers would be refused


@lab
def test_ssl_on_is_refused_by_trixie_nginx_naming_the_directive(
    trixie: Path, bookworm_etc: Path, tmp_path: Path
) -> None:
    host = _copy(bookworm_etc, tmp_path)
    (host / "etc/nginx/sites-enabled/test").write_text(SSL_ON_SITE)
    before = _fingerprint(trixie / "etc")
    (result,) = run_config_checks(DEBIAN_13, ["nginx"], "debian", _host_files(host, ["nginx"]))
    assert not result.ok and not result.skipped
    assert 'unknown directive "ssl"' in result.output and "/etc/nginx/sites-enabled/test:4" in result.output
    # the check ran on a throwaway copy: the scratch root and the mount table are as before
    assert not (trixie / "etc/nginx/sites-enabled/test").exists()
    assert _fingerprint(trixie / "etc") == before
    assert [p for p in _mount_points() if p.startswith(str(scratch.SCRATCH_ROOT))] == []
    assert list((scratch.SCRATCH_ROOT / DEBIAN_13.key / "checks").iterdir()) == []


@lab
def test_an_option_bind_9_20_removed_fails_named_checkconf(trixie: Path, bookworm_etc: Path, tmp_path: Path) -> None:
    host = _copy(bookworm_etc, tmp_path)
    local = host / "etc/bind/named.conf.local"
    local.write_text(local.read_text() + AUTO_DNSSEC_ZONE)
    (result,) = run_config_checks(DEBIAN_13, ["bind"], "debian", _host_files(host, ["bind"]))
    assert not result.ok and not result.skipped
    assert "/etc/bind/named.conf.local" in result.output and "option 'auto-dnssec' no longer exists" in result.output
    assert [p for p in _mount_points() if p.startswith(str(scratch.SCRATCH_ROOT))] == []


@lab
def test_without_overlayfs_a_copy_of_the_root_gives_the_same_verdict(
    trixie: Path, bookworm_etc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_overlay(root: Path, work: Path) -> Path:
        raise ScratchError("mount: unknown filesystem type 'overlay'")

    monkeypatch.setattr(scratch, "_mount_overlay", no_overlay)
    host = _copy(bookworm_etc, tmp_path)
    (host / "etc/nginx/sites-enabled/test").write_text(SSL_ON_SITE)
    reports: list[str] = []
    (result,) = run_config_checks(DEBIAN_13, ["nginx"], "debian", _host_files(host, ["nginx"]), reports.append)
    assert not result.ok and 'unknown directive "ssl"' in result.output
    assert any("copying the scratch root" in line for line in reports)
    assert not (trixie / "etc/nginx/sites-enabled/test").exists()
    assert list((scratch.SCRATCH_ROOT / DEBIAN_13.key / "checks").iterdir()) == []


@lab
def test_a_package_missing_in_the_target_skips_only_its_role(
    trixie: Path, bookworm_etc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = tmp_path / "config_checks.yaml"
    checks.write_text(
        f"nginx:\n  debian: {{packages: [nginx], paths: [/etc/nginx], command: [nginx, -t], {NGINX_WRITABLE}}}\n"
        "bind:\n  debian: {packages: [fossp-no-such-package], paths: [/etc/bind], command: [named-checkconf]}\n"
    )
    monkeypatch.setattr(scratch, "CHECKS_FILE", checks)
    nginx, bind = run_config_checks(
        DEBIAN_13, ["nginx", "bind"], "debian", _host_files(bookworm_etc, ["nginx", "bind"])
    )
    assert nginx.ok, nginx
    assert not bind.ok and "fossp-no-such-package" in bind.skipped and "Unable to locate package" in bind.skipped
    assert "fossp-no-such-package" not in (scratch.SCRATCH_ROOT / DEBIAN_13.key / "state.json").read_text()


@lab
def test_a_hanging_checker_is_killed_and_a_missing_one_named(
    trixie: Path, bookworm_etc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = tmp_path / "config_checks.yaml"
    checks.write_text(
        "nginx:\n  debian: {packages: [nginx], paths: [/etc/nginx], command: [sh, -c, 'sleep 300 & sleep 300']}\n"
        "bind:\n  debian: {packages: [bind9], paths: [/etc/bind], command: [fossp-no-such-checker, -t]}\n"
    )
    monkeypatch.setattr(scratch, "CHECKS_FILE", checks)
    monkeypatch.setattr(scratch, "CHECK_TIMEOUT", 2.0)
    started = time.monotonic()
    hung, missing = run_config_checks(
        DEBIAN_13, ["nginx", "bind"], "debian", _host_files(bookworm_etc, ["nginx", "bind"])
    )
    assert time.monotonic() - started < 30
    assert not hung.ok and "timed out after 2 s" in hung.skipped
    assert not missing.ok and "fossp-no-such-checker cannot run in the scratch root" in missing.skipped
    # the checker's background child went with it: nothing holds or stays mounted
    assert [p for p in _mount_points() if p.startswith(str(scratch.SCRATCH_ROOT))] == []
    assert list((scratch.SCRATCH_ROOT / DEBIAN_13.key / "checks").iterdir()) == []


@lab
def test_installed_packages_are_remembered(trixie: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_apt(*args: object) -> None:
        raise AssertionError("apt ran for packages already installed")

    monkeypatch.setattr(scratch, "_install", no_apt)
    assert scratch_root(DEBIAN_13, ["nginx", "bind9"]) == trixie
    assert (trixie / "usr/sbin/nginx").exists() and (trixie / "usr/bin/named-checkconf").exists()
    policy = trixie / "usr/sbin/policy-rc.d"
    assert "exit 101" in policy.read_text() and os.access(policy, os.X_OK)
    sources = (trixie / scratch.SOURCES_FILE).read_text()
    assert "Suites: trixie trixie-updates" in sources and "Suites: trixie-security" in sources
    assert [p for p in _mount_points() if p.startswith(str(trixie))] == []  # /proc only during an install


@lab
def test_a_second_build_waits_for_the_first(trixie: Path) -> None:
    reports: list[str] = []
    results: list[Path] = []
    with open(scratch.SCRATCH_ROOT / DEBIAN_13.key / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiting = threading.Thread(target=lambda: results.append(scratch_root(DEBIAN_13, CHECKERS, reports.append)))
        waiting.start()
        deadline = time.monotonic() + 20
        while not reports and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("waiting for another run" in line for line in reports)
        assert waiting.is_alive() and results == []
        fcntl.flock(lock, fcntl.LOCK_UN)
    waiting.join(timeout=60)
    assert results == [trixie]


@lab
def test_a_failed_build_leaves_nothing_half_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scratch, "SCRATCH_ROOT", tmp_path)
    unreachable = SuiteSpec("debian-13", (AptSource("http://127.0.0.1:9/debian", ("trixie",)),))
    killed = tmp_path / "debian-13" / "build-killed"  # what a killed build leaves
    (killed / "root" / "etc").mkdir(parents=True)
    with pytest.raises(ScratchError, match=re.escape("debootstrap trixie from http://127.0.0.1:9/debian")):
        scratch_root(unreachable, ["nginx"])
    assert sorted(p.name for p in (tmp_path / "debian-13").iterdir()) == ["lock"]
    assert [p for p in _mount_points() if p.startswith(str(tmp_path))] == []


# -- the sandbox, for real -----------------------------------------------------------


def _probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: Path, command: list[str]) -> ConfigCheck:
    """Run ``command`` as if it were the nginx role's checker (a test-only data file), with ``host``'s /etc/nginx."""
    checks = tmp_path / "probe.yaml"
    checks.write_text(f"nginx:\n  debian: {{packages: [nginx], paths: [/etc/nginx], command: {json.dumps(command)}}}\n")
    monkeypatch.setattr(scratch, "CHECKS_FILE", checks)
    (result,) = run_config_checks(DEBIAN_13, ["nginx"], "debian", _host_files(host, ["nginx"]))
    assert not result.skipped, result
    return result


@lab
def test_the_checker_is_not_root_and_cannot_leave_its_root(
    trixie: Path, bookworm_etc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = (
        "id -u; id -G; setpriv --dump | grep no_new_privs;"
        " chroot / true || echo no-chroot;"  # CAP_SYS_CHROOT is what a chroot escape needs
        " cat /etc/shadow || echo no-shadow;"  # root:shadow 0640: no DAC override either
        " unshare --user --map-root-user true || echo no-user-namespace;"  # the other way to CAP_SYS_CHROOT
        f" kill -0 {os.getpid()} || echo no-controller-process;"  # another PID namespace
        " stat --file-system --format=%b:%S /;"  # an overlay's size is its upper layer's: the tmpfs
        " ulimit -v; ulimit -t; ulimit -c; ulimit -f"
    )
    result = _probe(tmp_path, monkeypatch, bookworm_etc, ["bash", "-c", script])
    lines = result.output.splitlines()
    uid = str(scratch.CHECKER_UID)
    assert lines[:3] == [uid, str(scratch.CHECKER_GID), "no_new_privs: 1"], result.output
    assert "no-chroot" in lines and "Operation not permitted" in result.output
    assert "no-shadow" in lines and "Permission denied" in result.output
    assert "no-user-namespace" in lines
    assert "no-controller-process" in lines and "No such process" in result.output
    blocks, size = lines[-5].split(":")
    assert int(blocks) * int(size) == 256 << 20  # what a check may write in all
    assert lines[-4:] == [str((1 << 30) // 1024), "60", "0", str((64 << 20) // 1024)]  # bash counts KiB


@lab
def test_the_checker_has_no_network(
    trixie: Path, bookworm_etc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        script = f"echo > /dev/tcp/127.0.0.1/{port} && echo reached-the-controller; getent hosts deb.debian.org"
        result = _probe(tmp_path, monkeypatch, bookworm_etc, ["bash", "-c", script])
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody came: the checker's 127.0.0.1 is not the controller's
    assert not result.ok and "reached-the-controller" not in result.output
    assert "Network is unreachable" in result.output


@lab
def test_nginx_binds_its_listen_addresses_in_its_own_network(trixie: Path, bookworm_etc: Path, tmp_path: Path) -> None:
    """Unprivileged, nginx -t still binds port 80 and the host's own addresses: only in its empty namespace."""
    host = _copy(bookworm_etc, tmp_path)
    (host / "etc/nginx/conf.d/addresses.conf").write_text(
        "server { listen 192.0.2.5:443; listen [2001:db8::5]:80; listen 127.0.0.1:25; server_name x; }\n"
    )
    controller = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()
    (result,) = run_config_checks(DEBIAN_13, ["nginx"], "debian", _host_files(host, ["nginx"]))
    assert result.ok, result
    assert Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text() == controller


@lab
def test_a_host_module_is_refused_before_anything_is_extracted(
    trixie: Path, bookworm_etc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_root(*args: object) -> None:
        raise AssertionError("a root was made for a host archive with code in it")

    monkeypatch.setattr(scratch, "_pristine", no_root)
    elf = Path("/bin/true").read_bytes()
    host = _copy(bookworm_etc, tmp_path)
    (host / "etc/nginx/modules-enabled/99-evil.conf").write_text("load_module /etc/nginx/evil.so;\n")
    (host / "etc/nginx/evil.so").write_bytes(elf)
    (result,) = run_config_checks(DEBIAN_13, ["nginx"], "debian", _host_files(host, ["nginx"]))
    assert not result.ok and "the host's /etc/nginx/evil.so is named *.so" in result.skipped
    (host / "etc/nginx/evil.so").rename(host / "etc/nginx/evil.conf")  # the name is not what makes it code
    (host / "etc/nginx/modules-enabled/99-evil.conf").write_text("load_module /etc/nginx/evil.conf;\n")
    (result,) = run_config_checks(DEBIAN_13, ["nginx"], "debian", _host_files(host, ["nginx"]))
    assert not result.ok and "the host's /etc/nginx/evil.conf is an ELF file" in result.skipped


@lab
def test_the_hosts_apache_envvars_is_never_run(trixie: Path, tmp_path: Path) -> None:
    """apache2ctl sources envvars: the check uses the target's own, the host's shell code never runs."""
    root = scratch_root(DEBIAN_13, [*CHECKERS, "apache2"])
    host = tmp_path / "host"
    shutil.copytree(root / "etc/apache2", host / "etc/apache2", symlinks=True)  # a configured apache2
    marker = f"fossp-pwned-{secrets.token_hex(8)}"
    envvars = host / "etc/apache2/envvars"
    envvars.write_text(f"echo {marker}\ntouch /tmp/{marker}\n" + envvars.read_text())
    (result,) = run_config_checks(DEBIAN_13, ["httpd"], "debian", _host_files(host, ["httpd"]))
    assert result.ok and "Syntax OK" in result.output, result  # Debian's envvars was there
    assert marker not in result.output
    assert not Path(f"/tmp/{marker}").exists()
