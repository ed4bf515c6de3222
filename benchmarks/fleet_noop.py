"""Fleet speed: facts round trip and a read-only fleet run over N loopback sshd hosts.

Run as root from the repository: ``PYTHONPATH=. .venv/bin/python benchmarks/fleet_noop.py
[--hosts 50] [--servers 4]`` (it borrows the tests' throwaway sshd).
It starts ``--servers`` throwaway sshd processes on 127.0.0.1 (curve25519, as the
anchors' figures used) and points ``--hosts`` inventory entries at them, each reached
over its own connection, then times, like the anchors' no-op runs:

* one host: connect, and the facts batch (everything a plan needs, one command);
* the fleet: `fossp plan nginx` on every host at once (connect, facts, plan; no change);
* with ``--lab NAME...``: a no-op `fossp deploy nginx` (lock, facts, plan, probe, state)
  on those running lab hosts, after a first deploy that makes it a no-op.

The loopback "hosts" are this controller, so N sshd sessions and N facts scripts (about
15 small processes each) share its 2 cores with FOSSP: a heavier batch than the anchors'
"all checks in one command". The controller's own CPU time is printed as well.
Figures are printed with their ratios to anchors.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tests.hosts.conftest import start_sshd

from fossp.catalog import load_catalog
from fossp.engine.apply import plan_on
from fossp.engine.fleet import run_fleet
from fossp.engine.planner import wanted_roles
from fossp.hosts.connector import Connector, SshConnector
from fossp.hosts.facts import gather_facts
from fossp.hosts.inventory import HostSpec

ANCHORS = {
    "asyncssh, one command per host": 0.66,
    "pyinfra 3.10": 1.85,
    "ansible + mitogen": 15.0,
    "ansible-playbook": 26.5,
}


async def single_host(host: HostSpec, rounds: int) -> tuple[float, list[float]]:
    started = time.perf_counter()
    connector = await SshConnector.open(host)
    connect = time.perf_counter() - started
    timings = []
    for _ in range(rounds):
        timings.append((await gather_facts(connector)).seconds)
    await connector.close()
    return connect, timings


def fleet_plan(hosts: list[HostSpec]) -> float:
    """Wall time of the fleet plan; prints the controller's own CPU time too (on real
    hosts the facts scripts and sshd sessions run there, not on the controller)."""
    wanted = wanted_roles(load_catalog(), [("nginx", {})], {}, "bench")

    async def action(connector: Connector, host: HostSpec, report: object) -> int:
        return len((await plan_on(connector, wanted))[2].changes)

    started, cpu = time.perf_counter(), time.process_time()
    results = asyncio.run(run_fleet(hosts, action))
    elapsed = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} hosts failed, first: {failed[0].error}")
    print(f"controller CPU (FOSSP's own process) for the fleet run: {time.process_time() - cpu:.2f} s")
    return elapsed


def lab_noop(names: list[str]) -> None:
    """Deploy nginx once (so the next run has nothing to do), then time the no-op run."""
    from fossp.engine.apply import deploy_host
    from fossp.hosts.inventory import Inventory, resolve_targets

    hosts = resolve_targets(Inventory(), [f"lab:{name}" for name in names])
    wanted = wanted_roles(load_catalog(), [("nginx", {})], {}, "bench")

    async def action(connector: Connector, host: HostSpec, report: object) -> int:
        return len((await deploy_host(connector, wanted)).applied)

    asyncio.run(run_fleet(hosts, action))
    started = time.perf_counter()
    results = asyncio.run(run_fleet(hosts, action))
    wall = time.perf_counter() - started
    changed = sum(r.value or 0 for r in results if r.ok)
    failed = sum(not r.ok for r in results)
    print(f"lab: no-op `deploy nginx` on {len(hosts)} lab hosts: {wall:.2f} s ({changed} changes, {failed} failed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--lab", nargs="*", default=[], help="running lab hosts for the no-op deploy")
    args = parser.parse_args()
    if args.lab:
        lab_noop(args.lab)
    with tempfile.TemporaryDirectory(prefix="fossp-bench-") as scratch:
        servers = [start_sshd(Path(scratch) / f"sshd{i}") for i in range(args.servers)]
        try:
            hosts = [servers[i % len(servers)][0].host(f"h{i:03d}") for i in range(args.hosts)]
            connect, facts = asyncio.run(single_host(hosts[0], 10))
            median = statistics.median(facts) * 1000
            print(f"one host: connect {connect * 1000:.0f} ms, facts batch median {median:.0f} ms")
            print(f"          (min {min(facts) * 1000:.0f} ms over {len(facts)} rounds, one round trip each)")
            wall = fleet_plan(hosts)
            print(f"fleet: `plan nginx` on {args.hosts} hosts at once: {wall:.2f} s")
            for name, seconds in ANCHORS.items():
                print(f"  vs {name:<32} {seconds:6.2f} s  -> ratio {wall / seconds:5.2f}")
        finally:
            for _, process in servers:
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
