"""Fact parsers are pure: recorded script output in, typed facts out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fossp.catalog.schema import Family
from fossp.hosts.connector import HostError, LocalConnector, RootConnector
from fossp.hosts.facts import (
    FACTS_SCRIPT,
    FilesChanged,
    gather_facts,
    parse_facts,
    parse_firewalld,
    parse_found,
    parse_holders,
    parse_os_release,
    parse_packages,
    parse_proc_net,
    parse_selinux,
    parse_texts,
    parse_unit_show,
    parse_units,
    split_sections,
)

FIXTURES = Path(__file__).resolve().parent.parent / "engine" / "fixtures"


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("ID=fedora\nVERSION_ID=40\n", Family.FEDORA),
        ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', Family.FEDORA),
        ("ID=ubuntu\nID_LIKE=debian\n", Family.DEBIAN),
        ("ID=debian\n", Family.DEBIAN),
        ("ID=alpine\n", None),
    ],
)
def test_os_family(text: str, family: Family | None) -> None:
    assert parse_os_release(text).family is family


def test_packages_only_installed_ones_epoch_zero_dropped() -> None:
    text = "ii  bash 5.2.15-2+b2\nrc  old 1.0\nii  nginx 1:1.26-1\nii  tzdata 0:2024a-1.fc40\n"
    assert parse_packages(text) == {"bash": "5.2.15-2+b2", "nginx": "1:1.26-1", "tzdata": "2024a-1.fc40"}


def test_units_join_enablement_and_activity() -> None:
    units = parse_units(
        "ssh.service enabled enabled\nnginx.service disabled enabled\n", "ssh.service loaded active running OpenSSH\n"
    )
    assert units["ssh.service"].enabled == "enabled" and units["ssh.service"].active == "active"
    assert units["nginx.service"].active is None


def test_unit_show_blocks_by_every_name_unknown_units_left_out() -> None:
    text = (
        "Names=ssh.service sshd.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\n"
        "Names=nosuch.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n\n"
        "Names=nginx.service\nLoadState=masked\nActiveState=inactive\nUnitFileState=masked\n"
    )
    units = parse_unit_show(text)
    assert units["sshd.service"] == units["ssh.service"] and units["ssh.service"].enabled == "enabled"
    assert "nosuch.service" not in units  # the planner reads "no such unit on this host"
    assert (units["nginx.service"].enabled, units["nginx.service"].active) == ("masked", "inactive")


def test_texts_from_tail_by_path_offline_root_taken_off() -> None:
    text = (
        "==> /srv/r/usr/lib/os-release <==\nID=debian\n\n==> /srv/r/etc/os-release <==\nID=fedora\n\n"
        '==> /srv/r/var/lib/fossp/state.json <==\n{\n  "a": 1\n}\n'
    )
    texts = parse_texts(text, "/srv/r")
    assert texts["os"] == "ID=fedora" and texts["state"] == '{\n  "a": 1\n}'  # /etc's os-release wins
    live = parse_texts("==> /proc/net/tcp <==\nA\n\n==> /proc/net/tcp6 <==\nB\n==> /usr/lib/os-release <==\nID=x")
    assert live == {"tcp": "A\nB", "os": "ID=x"}


def test_found_files_cut_apart_by_their_sizes() -> None:
    import base64

    found = (
        "f 640 root adm 11 3 //etc/a\t\n"
        "d 755 root root 256 4096 //var/lib/data\t\n"
        "l 777 root root 12 9 //etc/link\t/etc/a\n"
        "f 644 root root 13 0 //etc/empty\t\n"
        "f 600 postgres postgres 14 4 //etc/b\t\n"
    )
    files = parse_found(found, base64.b64encode(b"abcWXYZ").decode(), "/")
    assert (files["/etc/a"].content, files["/etc/a"].mode, files["/etc/a"].group) == (b"abc", "640", "adm")
    assert files["/etc/b"].content == b"WXYZ" and files["/etc/empty"].content == b""
    assert files["/var/lib/data"].subvolume and files["/etc/a"].inode is None
    assert files["/etc/link"].link_target == "/etc/a"
    with pytest.raises(FilesChanged, match="changed while they were read"):  # a file grew after find
        parse_found(found, base64.b64encode(b"abcWXYZ!").decode(), "/")


def test_proc_net_listeners_ipv4_and_ipv6() -> None:
    tcp = (
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:1538 00000000:0000 0A 0\n"
        "   1: 0100007F:1538 0100007F:9C40 01 0\n"  # established: not a listener
        "   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 0\n"
    )
    found = [(item.address, item.port) for item in parse_proc_net(tcp, "tcp")]
    assert found == [("::1", 80), ("127.0.0.1", 5432)]  # sorted by port


def test_firewalld_and_selinux() -> None:
    assert not parse_firewalld("").running
    state = parse_firewalld("running\nservices ssh dns\nports 8080/tcp\n")
    assert state.services == ["ssh", "dns"] and state.ports == ["8080/tcp"]
    selinux = parse_selinux("Enforcing\n", "named_write_master_zones --> on\n", "http_port_t tcp 8080-8082, 9000\n")
    assert selinux.mode == "enforcing" and selinux.booleans == {"named_write_master_zones": True}
    assert [(r.type, r.protocol, r.low, r.high) for r in selinux.port_labels] == [
        ("http_port_t", "tcp", 8080, 8082),
        ("http_port_t", "tcp", 9000, 9000),
    ]
    assert parse_selinux("Disabled\n", "", "").mode == "disabled"


def test_selinux_port_labels_policy_and_local() -> None:
    """The narrowest entry labels a port; a local one (-C) overrides the policy's for the same port."""
    full = (
        "http_cache_port_t              tcp      8080, 8118, 10001-10010\n"
        "http_port_t                    tcp      80, 8080\n"
        "unreserved_port_t              tcp      1024-32767, 61000-65535\n"
    )
    selinux = parse_selinux("Enforcing", "", full, "http_port_t                    tcp      8080\n")
    label = selinux.label("tcp", 8080)
    assert label is not None and (label.type, label.local) == ("http_port_t", True)
    exact = selinux.record("tcp", 8080)
    assert exact is not None and exact.type == "http_port_t"
    assert (selinux.label("tcp", 10005) or label).type == "http_cache_port_t"
    assert selinux.record("tcp", 10005) is None  # inside a range: `semanage port -a` works there
    assert (selinux.label("tcp", 5433) or label).type == "unreserved_port_t"
    assert selinux.label("udp", 5433) is None


def test_listener_holders_from_fds_cgroups_and_socket_units() -> None:
    tcp = (
        "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 501 1 0\n"
        "   1: 00000000:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 502 1 0\n"
        "   2: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 503 1 0\n"
    )
    sockets = (
        "501 1200 /system.slice/httpd.service httpd\n"
        "502 1 /init.scope systemd\n"
        "502 1500 /system.slice/system-cockpit.slice/cockpit-ws.service/payload cockpit-ws\n"
    )
    units = "[::]:9090 Stream cockpit.socket cockpit.service\n/run/dbus/system_bus_socket Stream dbus.socket x\n"
    web, unknown, cockpit = parse_holders(sockets, units, parse_proc_net(tcp, "tcp"))  # by port
    assert (web.port, web.pid, web.process, web.unit) == (80, 1200, "httpd", "httpd.service")
    assert (cockpit.pid, cockpit.unit) == (1500, "cockpit-ws.service")  # the service before systemd
    assert (unknown.port, unknown.pid, unknown.unit) == (5432, None, None)
    [held] = parse_holders("502 1 /init.scope systemd\n", units, parse_proc_net(tcp, "tcp")[2:])
    assert (held.pid, held.unit) == (1, "cockpit.socket")


def test_recorded_fedora_facts() -> None:
    facts = parse_facts("f", (FIXTURES / "fedora40-installed.facts").read_text())
    assert facts.family is Family.FEDORA and facts.package_manager == "dnf"
    assert facts.packages["bind"] == "32:9.18.26-1.fc40"
    assert facts.firewall.running and "ssh" in facts.firewall.services
    assert facts.selinux.booleans["named_write_master_zones"] is False
    assert facts.root_fs == "btrfs"
    assert facts.files["/var/lib/pgsql/data/pg_hba.conf"].owner == "postgres"
    assert facts.listens("tcp", 22) and facts.listens("udp", 323)
    assert {(item.port, item.unit) for item in facts.listening} == {
        (22, "sshd.service"),
        (9090, "cockpit.socket"),
        (323, "chronyd.service"),
    }
    assert len(facts.selinux.port_labels) > 400 and facts.selinux.record("tcp", 8080) is not None


def test_recorded_debian_facts_carry_fossp_state() -> None:
    facts = parse_facts("d", (FIXTURES / "debian12-deployed.facts").read_text())
    assert facts.family is Family.DEBIAN
    assert facts.units["nginx.service"].active == "active"
    assert facts.state_json is not None and '"FOSSP-WDSNG"' in facts.state_json
    assert facts.files["/srv/www/fossp"].kind == "dir"


def test_cut_short_output_is_an_error() -> None:
    with pytest.raises(HostError, match="cut short"):
        parse_facts("h", "@@fossp:os@@\nID=debian\n")


def test_paths_are_arguments_never_script(tmp_path: Path) -> None:
    """A hostile path is globbed and tested, never run: the script text is fixed."""
    marker = tmp_path / "ran"
    facts = asyncio.run(gather_facts(LocalConnector(), [f"$(touch {marker})", f"`touch {marker}`"]))
    assert not marker.exists() and facts.files == {}
    assert set(split_sections("@@fossp:a@@\nx\n@@fossp:a@@\ny\n")["a"]) == {"x", "y"}
    assert "@@fossp:end@@" not in FACTS_SCRIPT  # the marker is printed by `m end`, not embedded


def test_local_and_offline_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("ID=fedora\nVERSION_ID=40\n")
    (tmp_path / "etc" / "hello").write_text("hi\n")
    root = asyncio.run(gather_facts(RootConnector(str(tmp_path)), ["/etc/hello", "/etc/missing"]))
    assert root.family is Family.FEDORA and root.offline_root == str(tmp_path)
    assert root.files["/etc/hello"].content == b"hi\n" and "/etc/missing" not in root.files
    assert root.listening == [] and root.hostname == "offline"
    (tmp_path / "etc" / "hello.d").mkdir()
    (tmp_path / "etc" / "link").symlink_to("hello")
    globbed = asyncio.run(gather_facts(RootConnector(str(tmp_path)), ["/etc/hel*", "/etc/link", "/etc/os-release"]))
    assert set(globbed.files) == {"/etc/hello", "/etc/hello.d", "/etc/link", "/etc/os-release"}
    assert globbed.files["/etc/hello"].content == b"hi\n" and globbed.files["/etc/hello.d"].kind == "dir"
    assert globbed.files["/etc/link"].link_target == "hello" and globbed.files["/etc/os-release"].content
    local = asyncio.run(gather_facts(LocalConnector(), []))
    assert local.family is not None and local.packages


def test_commands_run_ahead_as_argv_each_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On-host probes ride the facts round trip: each argv runs as given (no shell reads
    its words), with stdin closed (the script itself arrives on stdin), within its bound."""
    from fossp.hosts import facts as facts_module

    monkeypatch.setattr(facts_module, "AHEAD_SECONDS", 1)
    marker = tmp_path / "ran"
    commands = [
        ["sh", "-c", 'printf "out\\n"; echo err >&2; exit 3'],
        ["printf", "%s|", f"$(touch {marker})", "two words", "line\nbreak"],
        ["cat"],  # reads stdin: gets nothing, and the script is not eaten
        ["sleep", "5"],
    ]
    facts = asyncio.run(gather_facts(LocalConnector(), ["/etc/hostname"], [], commands))
    first, words, stdin, slow = facts.ran
    assert (first.exit_status, first.stdout, first.stderr) == (3, "out\n", "err")
    assert words.stdout == f"$(touch {marker})|two words|line\nbreak|" and not marker.exists()
    assert (stdin.exit_status, stdin.stdout) == (0, "")
    assert slow.exit_status == 124  # timeout's status: the probe then runs again on its own
    assert "/etc/hostname" in facts.files and facts.packages  # the facts after them are whole


def test_answering_gives_each_result_once_then_runs_on_the_host() -> None:
    from fossp.hosts.connector import Answering, Result

    inner = LocalConnector()
    answer = Result(("echo", "hi"), 0, "from the facts\n", "")
    connector = Answering(inner, [answer])
    assert asyncio.run(connector.run(["echo", "hi"])).stdout == "from the facts\n"
    assert asyncio.run(connector.run(["echo", "hi"])).stdout == "hi\n"  # a retry runs for real
    assert (connector.name, connector.timeouts) == (inner.name, inner.timeouts)


def test_the_facts_script_names_who_holds_a_listener() -> None:
    """The holders pipeline (find over /proc/PID/fd, awk, /proc/PID/cgroup) run for real here."""
    import os
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        facts = asyncio.run(gather_facts(LocalConnector(), []))
    [mine] = [item for item in facts.listening if item.protocol == "tcp" and item.port == port]
    assert mine.pid == os.getpid() and mine.process is not None and mine.inode > 0
