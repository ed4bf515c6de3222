"""The HPC role (Slurm with MUNGE) planned on recorded Fedora 40 facts: a controller and
two compute nodes placed by a profile, each member's exact commands and files (one
slurm.conf for all, naming the nodes by their short host names, the shared generated
MUNGE key 0400 munge:munge), and the settings that move ports or process tracking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fossp.engine.operations import Operation
from fossp.hosts.inventory import HostSpec

from .conftest import cluster_plans

ROLE = "FOSSP-HPSOS"
HOSTS = [HostSpec(name=f"lab:hp-{i}", address=f"10.213.0.{10 + i}") for i in (1, 2, 3)]
PLACED = {"controller": ["hp-1"], "compute": ["hp-2", "hp-3"]}
FIREWALL = [
    [["firewall-cmd", f"--add-port={port}/tcp"], ["firewall-cmd", "--permanent", f"--add-port={port}/tcp"]]
    for port in ("6817", "6818", "60001-60100")
]
SLURM_CONF = """\
# Written by FOSSP (role hpc) on every member of the cluster; decommission removes it.
ClusterName=fossp
SlurmctldHost=hp-1(10.213.0.11)
SlurmctldPort=6817
SlurmdPort=6818
SrunPortRange=60001-60100
AuthType=auth/munge
CryptoType=crypto/munge
SlurmUser=slurm
StateSaveLocation=/var/spool/slurm/ctld
SlurmdSpoolDir=/var/spool/slurm/d
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
MpiDefault=none
SelectType=select/cons_tres
SchedulerType=sched/backfill
ReturnToService=2

# Compute nodes: CPUs and RealMemory are left to slurmd's defaults (1 CPU, 1 MB each).
NodeName=hp-2 NodeAddr=10.213.0.12
NodeName=hp-3 NodeAddr=10.213.0.13
PartitionName=batch Nodes=ALL Default=YES State=UP
"""


def _plans(settings: dict[str, Any] | None = None, facts_name: str = "fedora40-bare") -> dict[str, list[Operation]]:
    return cluster_plans(ROLE, PLACED, HOSTS, settings, facts_name)


def _lines(ops: list[Operation]) -> list[tuple[str, str, list[list[str]]]]:
    return [
        ("~" if op.pending else "+" if op.change else "=", f"{op.kind.value} {op.target}", op.commands) for op in ops
    ]


def _file(ops: list[Operation], path: str) -> Operation:
    return next(op for op in ops if op.target == path)


def test_the_controller_gets_slurmctld_and_the_clients() -> None:
    ops = _plans()["lab:hp-1"]
    assert _lines(ops) == [
        (
            "+",
            "install-packages munge slurm slurm-slurmctld",
            [["dnf", "-y", "-q", "install", "munge", "slurm", "slurm-slurmctld"]],
        ),
        ("+", "open-firewall port 6817/tcp", FIREWALL[0]),
        ("+", "open-firewall port 6818/tcp", FIREWALL[1]),
        ("+", "open-firewall port 60001-60100/tcp", FIREWALL[2]),
        ("+", "write-file /etc/munge/munge.key", []),
        ("+", "write-file /etc/slurm/slurm.conf", []),
        ("~", "enable-unit munge.service", [["systemctl", "enable", "munge.service"]]),
        ("~", "start-unit munge.service", [["systemctl", "restart", "munge.service"]]),
        ("~", "enable-unit slurmctld.service", [["systemctl", "enable", "slurmctld.service"]]),
        ("~", "start-unit slurmctld.service", [["systemctl", "restart", "slurmctld.service"]]),
    ]


@pytest.mark.parametrize("host", ["lab:hp-2", "lab:hp-3"])
def test_a_compute_node_gets_slurmd_only(host: str) -> None:
    ops = _plans()[host]
    assert _lines(ops) == [
        (
            "+",
            "install-packages munge slurm slurm-slurmd",
            [["dnf", "-y", "-q", "install", "munge", "slurm", "slurm-slurmd"]],
        ),
        ("+", "open-firewall port 6817/tcp", FIREWALL[0]),
        ("+", "open-firewall port 6818/tcp", FIREWALL[1]),
        ("+", "open-firewall port 60001-60100/tcp", FIREWALL[2]),
        ("+", "write-file /etc/munge/munge.key", []),
        ("+", "write-file /etc/slurm/slurm.conf", []),
        ("~", "enable-unit munge.service", [["systemctl", "enable", "munge.service"]]),
        ("~", "start-unit munge.service", [["systemctl", "restart", "munge.service"]]),
        ("~", "enable-unit slurmd.service", [["systemctl", "enable", "slurmd.service"]]),
        ("~", "start-unit slurmd.service", [["systemctl", "restart", "slurmd.service"]]),
    ]


def test_every_member_gets_the_same_slurm_conf() -> None:
    for host, ops in _plans().items():
        conf = _file(ops, "/etc/slurm/slurm.conf")
        assert (conf.content or b"").decode() == SLURM_CONF, host
        assert (conf.mode, conf.owner) == ("644", "root:root")


def test_the_munge_key_is_generated_once_and_private(generated: Path) -> None:
    keys = {host: _file(ops, "/etc/munge/munge.key") for host, ops in _plans().items()}
    contents = {op.content for op in keys.values()}
    assert len(contents) == 1  # the whole cluster shares one key
    key = (contents.pop() or b"").decode().strip()
    assert len(key) == 64 and int(key, 16) >= 0  # 32 random bytes as hex: munged needs 32 or more
    assert all((op.mode, op.owner) == ("400", "munge:munge") for op in keys.values())
    assert (generated / "hpc" / "lab:hp-1" / "munge_key").read_text().strip() == key


def test_settings_move_ports_and_process_tracking() -> None:
    settings = {"slurmctld_port": 7817, "slurmd_port": 7818, "proctrack": "linuxproc", "partition": "lab"}
    ops = _plans(settings)["lab:hp-2"]
    conf = (_file(ops, "/etc/slurm/slurm.conf").content or b"").decode().splitlines()
    assert {"SlurmctldPort=7817", "SlurmdPort=7818", "PartitionName=lab Nodes=ALL Default=YES State=UP"} <= set(conf)
    assert {"ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none"} <= set(conf)
    assert "ProctrackType=proctrack/cgroup" not in conf
    opened = [op.target for op in ops if op.kind.value == "open-firewall"]
    assert opened == ["port 7817/tcp", "port 7818/tcp", "port 60001-60100/tcp"]
