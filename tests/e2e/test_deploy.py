"""End-to-end on lab hosts (systemd as PID 1, reached over SSH): deploy PostgreSQL, nginx
and BIND, verify them, deploy again (nothing to do), see status and drift, decommission
back to the host as it was; a failing probe; a fleet with an unreachable host, whose
no-op re-run opens one SSH connection per host and writes nothing there."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from fossp.catalog import Catalog
from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine import probes
from fossp.engine.apply import deploy_host
from fossp.engine.planner import Wanted, wanted_roles
from fossp.hosts.connector import SshConnector
from fossp.hosts.inventory import HostSpec
from fossp.lab import LabHost
from fossp.lab.testing import ssh, unavailable_reason
from tests.conftest import run_fossp

from ..hosts.conftest import free_port
from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
ROLES = ("postgresql", "nginx", "bind")
INJECTION = "$(touch /tmp/fossp-injected)"


def test_deploy_verify_again_status_decommission(engine_hosts: list[LabHost], catalog: Catalog) -> None:
    host = engine_hosts[0]
    before = snapshot(host)

    deployed = fossp_json("deploy", *ROLES, "--target", host.target, "--set", f"nginx.welcome_text={INJECTION}")
    result = deployed["hosts"][0]
    assert result["ok"] and result["states"] == {
        "FOSSP-DASPO": "running",
        "FOSSP-WDSNG": "running",
        "FOSSP-NESBI": "running",
    }
    assert {p["name"]: p["ok"] for p in result["probes"]} == {"sql-query": True, "http-get": True, "zone-soa": True}
    assert INJECTION in ssh(host, "cat", "/srv/www/fossp/index.html").stdout
    assert ssh(host, "test", "-e", "/tmp/fossp-injected", check=False).returncode == 1

    again = fossp_json("plan", *ROLES, "--target", host.target, "--set", f"nginx.welcome_text={INJECTION}")
    assert again["plans"][0]["changes"] == 0

    # A no-op deploy is one round trip: PostgreSQL's on-host probe (psql) runs in the facts
    # script; the HTTP and DNS probes go from the controller, as clients would.
    wanted = wanted_roles(catalog, [(r, {"welcome_text": INJECTION} if r == "nginx" else {}) for r in ROLES], {}, "t")
    outcome, commands = asyncio.run(_counted_deploy(host, wanted))
    assert outcome.run is None and [p.ok for p in outcome.probes] == [True, True, True], outcome.probes
    assert len(commands) == 1 and commands[0][:3] == ["sh", "-s", "--"] and "psql" in commands[0], commands

    status = fossp_json("status", "--target", host.target)
    assert {r["name"]: r["state"] for r in status["hosts"][0]["roles"]} == {
        "postgresql": "running",
        "nginx": "running",
        "bind": "running",
    }

    ssh(host, "sh", "-c", "echo '# edited by hand' >> /etc/nginx/conf.d/fossp.conf")
    drifted = fossp_json("status", "--target", host.target)
    nginx = next(r for r in drifted["hosts"][0]["roles"] if r["name"] == "nginx")
    assert nginx["drift"] == ["/etc/nginx/conf.d/fossp.conf changed since FOSSP wrote it"]

    ssh(host, "systemctl", "stop", "named")
    stopped = run_fossp("status", "--target", host.target, "--json")
    assert stopped.returncode == 1
    bind = next(r for r in json.loads(stopped.stdout)["hosts"][0]["roles"] if r["name"] == "bind")
    assert bind["state"] == "error" and "unit named.service is inactive" in bind["problems"]

    undone = fossp_json("decommission", "--yes", "--target", host.target)
    assert sorted(undone["hosts"][0]["roles"]) == ["FOSSP-DASPO", "FOSSP-NESBI", "FOSSP-WDSNG"]
    assert snapshot(host) == before


def test_a_failing_probe_puts_the_role_in_error(
    engine_hosts: list[LabHost], catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = engine_hosts[1]
    monkeypatch.setattr(probes, "RETRY_SECONDS", 1.0)
    nginx = catalog.role("nginx")
    missing_page = Probe(
        name="missing-page", kind=ProbeKind.HTTP, port=80, path="/no-such-page", status=200, description="fails"
    )
    wanted = [
        Wanted(
            nginx.model_copy(update={"probes": [missing_page]}),
            wanted_roles(catalog, [("nginx", {})], {}, "t")[0].settings,
        )
    ]
    spec = HostSpec(
        name=host.name, address=host.address, key=str(host.key_path), known_hosts=str(host.known_hosts_path)
    )

    async def scenario() -> Any:
        connector = await SshConnector.open(spec)
        try:
            return await deploy_host(connector, wanted)
        finally:
            await connector.close()

    outcome = asyncio.run(scenario())
    assert outcome.states == {"FOSSP-WDSNG": "error"}
    assert "404" in outcome.probes[0].output
    state = json.loads(ssh(host, "cat", "/var/lib/fossp/state.json").stdout)
    assert state["instances"]["FOSSP-WDSNG"]["state"] == "error"
    assert "probe missing-page" in state["instances"]["FOSSP-WDSNG"]["message"]


def test_fleet_of_three_with_one_unreachable(
    engine_hosts: list[LabHost], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["fossp_inventory: 1", "hosts:"]
    for host in engine_hosts:
        lines.append(
            f"  {host.name}: {{address: {host.address}, key: {host.key_path}, known_hosts: {host.known_hosts_path}}}"
        )
    lines.append(f"  ghost: {{address: 127.0.0.1, port: {free_port()}}}")
    lines += ["groups:", f"  web: {{hosts: [{engine_hosts[0].name}, ghost, {engine_hosts[1].name}]}}"]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("\n".join(lines) + "\n")

    result = run_fossp("deploy", "nginx", "--inventory", str(inventory), "--target", "web", "--json")
    assert result.returncode == 1, result.stderr
    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts["ghost"]["ok"] is False and "cannot reach 127.0.0.1" in hosts["ghost"]["error"]["message"]
    assert hosts["ghost"]["error"]["code"] == "unreachable"
    for host in engine_hosts:
        assert hosts[host.name]["ok"] and hosts[host.name]["states"] == {"FOSSP-WDSNG": "running"}

    marks = {host.name: _accepted_logins(host) for host in engine_hosts}
    monkeypatch.setenv("FOSSP_WORKERS", "2")  # the no-op re-run spread over two worker processes
    again = run_fossp("deploy", "nginx", "--inventory", str(inventory), "--target", "web", "--json")
    hosts = {h["host"]: h for h in json.loads(again.stdout)["hosts"]}
    assert list(hosts) == [engine_hosts[0].name, "ghost", engine_hosts[1].name]  # the group's order
    assert hosts["ghost"]["ok"] is False and "cannot reach 127.0.0.1" in hosts["ghost"]["error"]["message"]
    assert hosts["ghost"]["error"]["code"] == "unreachable"
    for host in engine_hosts:
        assert hosts[host.name]["read_only"] and hosts[host.name]["applied"] == [], hosts[host.name]
        assert hosts[host.name]["probes"][0]["ok"] is True
        # the count's own login is one more: the run itself made exactly one
        assert _accepted_logins(host) - marks[host.name] == 2
        # the lab's package repository is mounted (read-only) at /srv/fossp-repo: other tests add to it
        watched = ["/etc", "/var/lib/fossp", "/run/fossp", "/srv", "-path", "/srv/fossp-repo", "-prune", "-o"]
        written = ssh(host, "find", *watched, "-newer", MARK, "-print").stdout
        assert written == "", f"a no-op deploy wrote on {host.name}:\n{written}"


class _Counting(SshConnector):
    """An SSH connector that notes every command it runs."""

    commands: list[list[str]]

    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: Any) -> Any:
        self.commands.append(argv)
        return await super()._execute(argv, stdin, timeout, sink)


async def _counted_deploy(host: LabHost, wanted: list[Wanted]) -> tuple[Any, list[list[str]]]:
    spec = HostSpec(
        name=host.name, address=host.address, key=str(host.key_path), known_hosts=str(host.known_hosts_path)
    )
    connector = await _Counting.open(spec)
    connector.commands = []
    try:
        return await deploy_host(connector, wanted), connector.commands
    finally:
        await connector.close()


MARK = "/run/fossp-noop-mark"


def _accepted_logins(host: LabHost) -> int:
    """sshd's accepted logins so far (this one included), after touching the no-op mark."""
    script = f'touch {MARK} && journalctl --sync 2>/dev/null; journalctl -q -o cat | grep -c "^Accepted "'
    return int(ssh(host, "sh", "-c", script).stdout.strip())
