"""NFS and iSCSI as multi-host roles (a server and a client) on recorded facts.

Fedora serves with the kernel: nfsd (nfs-utils, /etc/exports.d, /etc/nfs.conf.d) and
LIO through targetcli, one command per step with its undo. Debian serves with userspace
servers, NFS-Ganesha and tgt: the lab runs those for real (tests/e2e/test_storage.py),
since its kernel has no nfsd, NFS client, LIO, configfs or SCSI, and loads no modules;
the kernel recipes can only be checked here. Clients get the userspace tools (libnfs,
libiscsi) and, for iSCSI, FOSSP's reader; the probes run on a client.
"""

from __future__ import annotations

from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.engine.operations import Operation
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec

from .conftest import cluster_plans

NFS, ISCSI = "FOSSP-FSSNF", "FOSSP-FSSIS"
HOSTS = [HostSpec(name="srv", address="192.0.2.11"), HostSpec(name="cli", address="192.0.2.12")]
IQN = "iqn.2015-10.test.fossp:storage"


def _plans(role: str, settings: dict[str, Any], facts_name: str = "fedora40-bare") -> dict[str, list[Operation]]:
    return cluster_plans(role, {"server": ["srv"], "client": ["cli"]}, HOSTS, settings, facts_name)


def _lines(ops: list[Operation]) -> list[str]:
    return [f"{'~' if op.pending else '+' if op.change else '='} {op.kind.value} {op.target}" for op in ops]


def _op(ops: list[Operation], kind: str, target: str) -> Operation:
    return next(op for op in ops if op.kind.value == kind and op.target == target)


def test_fedora_nfs_server_is_the_kernel_nfsd_with_one_export_and_the_client_gets_libnfs() -> None:
    plans = _plans(NFS, {"allowed_network": "192.0.2.0/24", "read_only": True, "threads": 16, "grace_seconds": 30})
    server = plans["srv"]
    assert _lines(server) == [
        "+ install-packages libnfs-utils nfs-utils",
        "+ open-firewall service nfs",
        "+ create-dir /srv/nfs",
        "+ write-file /srv/nfs/.fossp-probe",
        "+ write-file /etc/exports.d/fossp.exports",
        "+ write-file /etc/nfs.conf.d/fossp.conf",
        "~ enable-unit nfs-server.service",
        "~ start-unit nfs-server.service",
    ]
    assert _op(server, "install-packages", "libnfs-utils nfs-utils").commands == [
        ["dnf", "-y", "-q", "install", "libnfs-utils", "nfs-utils"]
    ]
    assert _op(server, "create-dir", "/srv/nfs").commands == [["mkdir", "-p", "-m", "755", "--", "/srv/nfs"]]
    exports = _op(server, "write-file", "/etc/exports.d/fossp.exports").content
    assert exports is not None and b"\n/srv/nfs 192.0.2.0/24(ro,sync,no_subtree_check,root_squash)\n" in exports
    conf = _op(server, "write-file", "/etc/nfs.conf.d/fossp.conf").content
    assert conf is not None and conf.endswith(b"[nfsd]\nthreads=16\nvers3=n\ngrace-time=30\nlease-time=30\n")
    marker = _op(server, "write-file", "/srv/nfs/.fossp-probe").content
    assert marker is not None and marker.startswith(b"FOSSP NFS probe: /srv/nfs ")
    assert _op(server, "start-unit", "nfs-server.service").commands == [["systemctl", "restart", "nfs-server.service"]]
    # the client: libnfs's userspace tools only (no nfsd, no export, no unit)
    assert _lines(plans["cli"]) == ["+ install-packages libnfs-utils", "+ open-firewall service nfs"]


def test_nfs_probe_reads_the_marker_from_a_client_through_libnfs() -> None:
    role = load_catalog().roles[NFS]
    probe = next(p for p in role.probes if p.name == "read-marker")
    assert probe.from_part == "client" and probe.parts == ["server"]
    assert probe.argv == ["nfs-cat", "nfs://{target_address}{export_path}/.fossp-probe?version=4"]
    assert probe.expect == "FOSSP NFS probe"


def test_debian_nfs_server_is_ganesha_in_memory_where_asked_and_seeds_the_marker_through_nfs() -> None:
    settings = {"allowed_network": "192.0.2.0/24", "in_memory": True, "grace_seconds": 10}
    server = _plans(NFS, settings, "debian12-bare")["srv"]
    assert _lines(server)[:7] == [
        "+ install-packages libnfs-utils nfs-ganesha nfs-ganesha-vfs nfs-ganesha-mem",
        "= open-firewall service nfs",  # no firewalld on these facts
        "+ run-step lock-link",
        "+ create-dir /srv/nfs",
        "+ write-file /srv/nfs/.fossp-probe",
        "+ write-file /etc/ganesha/ganesha.conf",
        "~ enable-unit nfs-ganesha.service",
    ]
    conf = (_op(server, "write-file", "/etc/ganesha/ganesha.conf").content or b"").decode()
    for line in (
        "Protocols = 4;",
        "Grace_Period = 10;",
        "Inode_Size = 1048576;",
        "Name = MEM;",
        "Clients = 127.0.0.1;",
    ):
        assert line in conf, line
    link = "/etc/systemd/system/nfs-server.service.wants/nfs-ganesha-lock.service"
    assert _op(server, "run-step", "lock-link").undo == [["rm", "-f", "--", link]]  # the purge leaves it
    seed = _op(server, "run-step", "seed-in-memory")
    assert seed.commands == [["nfs-cp", "/srv/nfs/.fossp-probe", "nfs://127.0.0.1/srv/nfs/.fossp-probe?version=4"]]
    # by default the folder itself is served (FSAL_VFS), root squashed, with nothing to seed
    plain = _plans(NFS, {"allowed_network": "192.0.2.0/24"}, "debian12-bare")["srv"]
    conf = (_op(plain, "write-file", "/etc/ganesha/ganesha.conf").content or b"").decode()
    assert "Name = VFS;" in conf and "Squash = Root_Squash;" in conf and "MEM {" not in conf
    assert [op.target for op in plain if op.kind.value == "run-step" and op.change] == ["lock-link"]


def test_in_memory_is_refused_on_fedora_whose_kernel_server_cannot_honour_it() -> None:
    with pytest.raises(BadInput, match="setting 'in_memory' is not honoured on fedora"):
        _plans(NFS, {"in_memory": True})


def test_fedora_iscsi_target_is_lio_through_targetcli_with_undo_in_order() -> None:
    plans = _plans(ISCSI, {"allowed_initiators": ["iqn.2024-01.test.example:db1"], "backstore_size": "2G"})
    server = plans["srv"]
    assert _lines(server) == [
        "+ install-packages libiscsi-utils python3 targetcli",
        "+ open-firewall service iscsi-target",
        "~ run-step image",
        "~ run-step probe-image",
        "~ enable-unit target.service",
        "~ start-unit target.service",
        "+ run-step save-empty",
        "+ run-step backstore",
        "+ run-step probe-backstore",
        "+ run-step target",
        "+ run-step luns",
        "+ run-step acls",
        "= run-step chap",  # no chap_password: no authentication
        "+ run-step save",
    ]
    assert _op(server, "install-packages", "libiscsi-utils python3 targetcli").commands == [
        ["dnf", "-y", "-q", "install", "libiscsi-utils", "python3", "targetcli"]
    ]
    image = _op(server, "run-step", "image")
    assert image.commands == [
        ["sh", "-c", 'mkdir -p -- "$(dirname -- "$1")" && truncate -s "$2" -- "$1"', "image",
         "/var/lib/iscsi-disks/lun0.img", "2G"]
    ]  # fmt: skip
    probe_image = _op(server, "run-step", "probe-image").commands[0]
    assert probe_image[-2:] == ["/var/lib/iscsi-disks/lun0.img.fossp-probe", f"FOSSP iSCSI probe {IQN}"]
    expected = {
        "save-empty": ([["targetcli", "ls", "/"]], [["targetcli", "saveconfig"]]),
        "backstore": (
            [["targetcli", "/backstores/fileio", "create", "name=fossp-lun0",
              "file_or_dev=/var/lib/iscsi-disks/lun0.img"]],
            [["targetcli", "/backstores/fileio", "delete", "fossp-lun0"]],
        ),
        "probe-backstore": (
            [["targetcli", "/backstores/fileio", "create", "name=fossp-probe",
              "file_or_dev=/var/lib/iscsi-disks/lun0.img.fossp-probe"]],
            [["targetcli", "/backstores/fileio", "delete", "fossp-probe"]],
        ),
        "target": ([["targetcli", "/iscsi", "create", IQN]], [["targetcli", "/iscsi", "delete", IQN]]),
        "save": ([["targetcli", "saveconfig"]], []),
    }  # fmt: skip
    for name, (commands, undo) in expected.items():
        step = _op(server, "run-step", name)
        assert (step.commands, step.undo) == (commands, undo), name
    acls = _op(server, "run-step", "acls").commands[0]
    assert acls[-3:] == ["acls", IQN, "iqn.2024-01.test.example:db1"]
    assert 'targetcli "$tpg" set attribute authentication=0' in acls[2] and '"$tpg/acls" create' in acls[2]
    # the client: libiscsi's tools and FOSSP's reader, no target
    client = plans["cli"]
    assert _lines(client) == [
        "+ install-packages libiscsi-utils python3",
        "+ open-firewall service iscsi-target",
        "+ write-file /usr/local/sbin/fossp-iscsi-read",
        "= write-file /etc/fossp/iscsi-chap",  # no chap_password
    ]
    assert _op(client, "write-file", "/usr/local/sbin/fossp-iscsi-read").mode == "755"


def test_debian_iscsi_target_is_tgt_with_the_image_and_the_probe_lun() -> None:
    server = _plans(ISCSI, {"allowed_initiators": ["iqn.2024-01.test.example:db1"]}, "debian12-bare")["srv"]
    conf = _op(server, "write-file", "/etc/tgt/conf.d/fossp.conf")
    text = (conf.content or b"").decode()
    assert conf.mode == "600"
    assert f"<target {IQN}>" in text
    lines = [line.strip() for line in text.splitlines()]
    assert lines[lines.index(f"<target {IQN}>") + 1 :] == [
        "backing-store /var/lib/iscsi-disks/lun0.img",
        "backing-store /var/lib/iscsi-disks/lun0.img.fossp-probe",
        "initiator-name iqn.2024-01.test.example:db1",
        f"initiator-name {IQN}:fossp-probe",
        "</target>",
    ]
    assert not [op for op in server if op.kind.value == "run-step" and op.target.startswith("target")]


def test_chap_secret_reaches_lio_on_stdin_tgt_and_the_client_in_0600_files() -> None:
    secret = "fossp-chap-1234"
    fedora = _plans(ISCSI, {"chap_user": "san", "chap_password": secret})
    chap = _op(fedora["srv"], "run-step", "chap")
    assert chap.change and chap.stdin == secret
    assert chap.commands[0][3:] == ["chap", IQN, "san"] and secret not in str(chap.commands)
    assert "/sys/kernel/config/target/iscsi/$1/tpgt_1" in chap.commands[0][2]
    for plans in (fedora, _plans(ISCSI, {"chap_user": "san", "chap_password": secret}, "debian12-bare")):
        client = _op(plans["cli"], "write-file", "/etc/fossp/iscsi-chap")
        assert (client.mode, client.content) == ("600", f"san\n{secret}\n".encode())
    debian = _plans(ISCSI, {"chap_user": "san", "chap_password": secret}, "debian12-bare")["srv"]
    conf = _op(debian, "write-file", "/etc/tgt/conf.d/fossp.conf")
    assert conf.mode == "600" and f"    incominguser san {secret}\n</target>" in (conf.content or b"").decode()
