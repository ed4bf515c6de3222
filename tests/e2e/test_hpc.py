"""End-to-end on three lab hosts: the HPC role (Slurm 22.05 with MUNGE) placed as a
controller (hp-1) and two compute nodes (hp-2, hp-3). The deploy converges although
Debian enables slurmctld/slurmd at install without a slurm.conf (they are skipped) and
munged starts with a key of its own; a job runs across both compute nodes; nothing more
is planned; a stopped slurmd makes the job probe fail and its return makes it pass; one
member alone is not decommissioned; the whole cluster's decommission leaves every host's
packages and /etc as they were."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.lab import LabHost
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
ROLE = "FOSSP-HPSOS"
PACKAGES = ("munge", "slurm-client", "slurmctld", "slurmd")
hpc_hosts = lab_fixture("hp-1", "hp-2", "hp-3", packages=PACKAGES)


def _targets(hosts: list[LabHost]) -> list[str]:
    return [arg for host in hosts for arg in ("--target", host.target)]


def _probes(result: Any) -> dict[str, bool | None]:
    return {p["name"]: p["ok"] for p in result["probes"]}


def _job(status: Any) -> Any:
    """The job probe's result in `fossp status --json` of one host."""
    return next(p for p in status["hosts"][0]["roles"][0]["probes"] if p["name"] == "job-across-nodes")


def test_slurm_cluster_deploy_job_failure_decommission(hpc_hosts: list[LabHost], tmp_path: Path) -> None:
    started = time.monotonic()
    controller, *computes = hpc_hosts
    before = {host.name: snapshot(host) for host in hpc_hosts}
    profile = tmp_path / "hpc.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "fossp_profile": 1,
                "roles": [
                    {
                        "id": ROLE,
                        # lab hosts' cgroup trees are read-only outside their own folders
                        "settings": {"proctrack": "linuxproc", "partition": "lab"},
                        "hosts": {"controller": [controller.name], "compute": [h.name for h in computes]},
                    }
                ],
            }
        )
    )
    profile.chmod(0o600)

    deployed = run_fossp("deploy", "--profile", str(profile), *_targets(hpc_hosts), "--json")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    results = {r["host"]: r for r in json.loads(deployed.stdout)["hosts"]}
    for host in hpc_hosts:
        result = results[host.target]
        assert result["ok"] and result["states"] == {ROLE: "running"}, result
    assert _probes(results[controller.target]) == {
        "controller-ping": True,
        "job-across-nodes": True,
        "munge-roundtrip": True,
    }
    for host in computes:
        assert _probes(results[host.target]) == {"controller-ping": True, "munge-roundtrip": True}
    job = next(p for p in results[controller.target]["probes"] if p["name"] == "job-across-nodes")
    # one task on each compute node (srun's notes on stderr follow, while nodes register)
    assert {"hp-2", "hp-3"} <= set(job["output"].splitlines()), job

    # The same slurm.conf everywhere, naming nodes as `hostname -s` does; one MUNGE key.
    confs = {host.name: ssh(host, "cat", "/etc/slurm/slurm.conf").stdout for host in hpc_hosts}
    assert len(set(confs.values())) == 1
    conf = confs[controller.name].splitlines()
    assert f"SlurmctldHost=hp-1({controller.address})" in conf
    for host in computes:
        assert ssh(host, "hostname", "-s").stdout.strip() == host.name
        assert f"NodeName={host.name} NodeAddr={host.address}" in conf
    assert {"ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "AuthType=auth/munge"} <= set(conf)
    assert "PartitionName=lab Nodes=ALL Default=YES State=UP" in conf
    keys = set()
    for host in hpc_hosts:
        stat = ssh(host, "stat", "-c", "%a %U:%G %s", "/etc/munge/munge.key").stdout.split()
        assert stat[:2] == ["400", "munge:munge"] and int(stat[2]) >= 64, stat
        keys.add(hashlib.sha256(ssh(host, "cat", "/etc/munge/munge.key").stdout.encode()).hexdigest())
    key = ssh(controller, "cat", "/etc/munge/munge.key").stdout.strip()
    assert len(keys) == 1 and key not in deployed.stdout + deployed.stderr  # a secret: never shown

    plans = fossp_json("plan", "--profile", str(profile), *_targets(hpc_hosts))["plans"]
    assert [plan["changes"] for plan in plans] == [0, 0, 0], plans

    # A compute node's slurmd stops: the job cannot run across the nodes.
    ssh(computes[1], "systemctl", "stop", "slurmd.service")
    down = fossp_json("status", "--target", controller.target, expect=1)
    assert down["hosts"][0]["roles"][0]["state"] == "error"
    failed = _job(down)
    assert failed["ok"] is False and "hp-3" in failed["output"], failed
    compute = fossp_json("status", "--target", computes[1].target, expect=1)["hosts"][0]["roles"][0]
    assert any("slurmd.service" in problem for problem in compute["problems"]), compute
    ssh(computes[1], "systemctl", "start", "slurmd.service")
    deadline = time.monotonic() + 60  # slurmd registers again (ReturnToService=2)
    while (back := run_fossp("status", "--target", controller.target, "--json")).returncode != 0:
        assert time.monotonic() < deadline, back.stdout
        time.sleep(2)
    assert _job(json.loads(back.stdout))["ok"] is True

    lone = run_fossp("decommission", "--yes", "--target", computes[0].target)
    assert lone.returncode == 2 and "decommission every member together" in lone.stderr, lone.stderr
    undone = fossp_json("decommission", "--yes", *_targets(hpc_hosts))
    assert all(h["ok"] and h["roles"] == [ROLE] for h in undone["hosts"]), undone
    for host in hpc_hosts:
        assert snapshot(host) == before[host.name], host.name
    print(f"hpc e2e: {time.monotonic() - started:.0f} s")
