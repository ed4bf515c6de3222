"""End-to-end on en-1 and en-2: what the engine promises across rounds, runs and hosts.

- A restart is never lost: a site role whose daemon reads its configuration at start,
  with a configured step (a refresh op) after the file write; a second deploy with a new
  value must restart the daemon although the re-plan after the step finds the file as
  wanted (the probe reads what the running daemon read).
- `fossp status` of a multi-host role runs the probes deploy runs: a member's part's, with
  its derived values, and a ``from_part`` probe from the peer (or skipped, saying why).
- A retired role deploys on request (--include-retired): ISC DHCP on en-1 gives a real
  DHCPOFFER to en-2 on the same link (the probe runs from the run's other host, in deploy
  and in status); a stopped server fails it; decommission returns en-1 as it was.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.catalog.schema import Probe, ProbeKind, Protocol
from fossp.engine.probes import ProbeFailed, dhcp
from fossp.hosts.connector import open_connector
from fossp.hosts.inventory import Inventory, resolve_targets
from fossp.lab import LabHost
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
engine_run_hosts = lab_fixture("en-1", "en-2", packages=("isc-dhcp-server", "python3-minimal", "bc"))
APT = ("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q", "--no-install-recommends")
DHCP = "FOSSP-NESDH"
GREET = "FOSSP-WDSGR"
GREET_ROLE = f"""
id: {GREET}
name: greet
service: web
implementation: Greeting daemon
code: GR
description: A site role whose daemon reads its configuration when it starts.
features: [web-server]
packages:
  fedora: {{available: false, note: a lab test role}}
  debian: {{packages: [bc]}}
units:
  debian: [fossp-greet.service]
  fedora: [fossp-greet.service]
settings:
  - {{name: greeting, type: string, default: hello, pattern: "^[a-z-]+$", description: What the daemon says.}}
probes:
  - {{name: says, kind: command, argv: [cat, /run/fossp-greet], expect: "{{greeting}}", description: What it read.}}
lifecycle: {{release: 01-112615, release_date: 2015-10-26, status: launched}}
upstream: {{status: active}}
"""
GREET_RECIPE = """
role: greet
families:
  debian:
    files:
      - {path: /etc/systemd/system/fossp-greet.service, template: greet/unit.j2, reload: false}
      - {path: /etc/fossp-greet.conf, template: greet/conf.j2}
    steps:
      - name: reload-units
        when: configured
        argv: [env, "FOSSP_GREETING={greeting}", systemctl, daemon-reload]
        description: systemd reads the unit file (a refresh op after the writes).
"""
GREET_UNIT = """[Unit]
Description=FOSSP greeting daemon (a lab test role)
[Service]
ExecStart=/bin/sh -c 'cat /etc/fossp-greet.conf > /run/fossp-greet; exec sleep infinity'
[Install]
WantedBy=multi-user.target
"""


@pytest.fixture
def greet_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    roles, recipes = tmp_path / "roles.d", tmp_path / "recipes.d"
    (recipes / "templates" / "greet").mkdir(parents=True)
    roles.mkdir()
    (roles / "greet.yaml").write_text(GREET_ROLE)
    (recipes / "greet.yaml").write_text(GREET_RECIPE)
    (recipes / "templates" / "greet" / "unit.j2").write_text(GREET_UNIT)
    (recipes / "templates" / "greet" / "conf.j2").write_text("{{ greeting }}\n")
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(roles))
    monkeypatch.setenv("FOSSP_RECIPES_DIR", str(recipes))
    yield


def _deploy(*args: str) -> dict[str, Any]:
    result = fossp_json("deploy", *args)
    return {host["host"]: host for host in result["hosts"]}


def test_a_new_configuration_restarts_the_daemon_across_a_re_plan(
    engine_run_hosts: list[LabHost], greet_site: None
) -> None:
    host = engine_run_hosts[0]
    before = snapshot(host)
    first = _deploy("greet", "--set", "greet.greeting=hello", "--target", host.target)[host.target]
    assert first["states"] == {GREET: "running"}, first
    pid = ssh(host, "systemctl", "show", "-P", "MainPID", "fossp-greet.service").stdout.strip()
    second = _deploy("greet", "--set", "greet.greeting=bonjour", "--target", host.target)[host.target]
    assert second["states"] == {GREET: "running"}, second  # the probe read "bonjour" from the daemon
    applied = [(op["kind"], op["target"]) for op in second["applied"]]
    assert applied == [
        ("write-file", "/etc/fossp-greet.conf"),
        ("run-step", "reload-units"),
        ("restart-unit", "fossp-greet.service"),
    ]
    assert ssh(host, "cat", "/run/fossp-greet").stdout == "bonjour\n"
    assert ssh(host, "systemctl", "show", "-P", "MainPID", "fossp-greet.service").stdout.strip() != pid
    again = fossp_json("plan", "greet", "--set", "greet.greeting=bonjour", "--target", host.target)
    assert again["plans"][0]["changes"] == 0, again
    fossp_json("decommission", "greet", "--target", host.target, "--yes")
    assert snapshot(host) == before


PAIR = "FOSSP-HPSPR"
PAIR_ROLE = f"""
id: {PAIR}
name: pair
service: high-performance
implementation: Pair demo
code: PR
description: A multi-host site role whose probes read the members' derived values.
features: [hpc]
packages:
  fedora: {{available: false, note: a lab test role}}
  debian: {{packages: [bc]}}
cluster:
  parts:
    - {{name: server, description: the server, min_hosts: 1, max_hosts: 1}}
    - {{name: client, description: the clients, min_hosts: 1}}
probes:
  - {{name: knows-clients, kind: command, argv: [grep, -qxF, "clients={{client_hosts}}", /etc/fossp-pair.conf],
     parts: [server], description: The server's file names every client.}}
  - {{name: reach, kind: command, argv: [bash, -c, 'exec 3<>"/dev/tcp/$1/22"', reach, "{{target_address}}"],
     parts: [client], from_part: server, description: The server reaches each client.}}
lifecycle: {{release: 01-112615, release_date: 2015-10-26, status: launched}}
upstream: {{status: active}}
"""
PAIR_RECIPE = """
role: pair
families:
  debian:
    files:
      - {path: /etc/fossp-pair.conf, template: pair/pair.conf.j2}
"""


@pytest.fixture
def pair_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    roles, recipes = tmp_path / "roles.d", tmp_path / "recipes.d"
    (recipes / "templates" / "pair").mkdir(parents=True)
    roles.mkdir()
    (roles / "pair.yaml").write_text(PAIR_ROLE)
    (recipes / "pair.yaml").write_text(PAIR_RECIPE)
    (recipes / "templates" / "pair" / "pair.conf.j2").write_text('clients={{ client_hosts | join(",") }}\n')
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(roles))
    monkeypatch.setenv("FOSSP_RECIPES_DIR", str(recipes))
    yield


def _role_status(result: dict[str, Any], host: LabHost) -> dict[str, Any]:
    [role] = next(h for h in result["hosts"] if h["host"] == host.target)["roles"]
    return role


def test_status_of_a_multi_host_role_runs_the_probes_deploy_runs(
    engine_run_hosts: list[LabHost], pair_site: None, tmp_path: Path
) -> None:
    server, client = engine_run_hosts
    before = {host.name: snapshot(host) for host in engine_run_hosts}
    profile = tmp_path / "pair.yaml"
    placed = {"server": [server.name], "client": [client.name]}
    profile.write_text(yaml.safe_dump({"fossp_profile": 1, "roles": [{"id": PAIR, "hosts": placed}]}))
    targets = ("--target", server.target, "--target", client.target)
    deployed = _deploy("--profile", str(profile), *targets)
    assert all(deployed[h.target]["states"] == {PAIR: "running"} for h in engine_run_hosts), deployed

    status = fossp_json("status", *targets)
    on_server, on_client = _role_status(status, server), _role_status(status, client)
    assert [(p["name"], p["ok"]) for p in on_server["probes"]] == [("knows-clients", True)], on_server
    assert [(p["name"], p["ok"]) for p in on_client["probes"]] == [("reach", True)], on_client
    alone = _role_status(fossp_json("status", "--target", client.target), client)
    [(name, ok, output)] = [(p["name"], p["ok"], p["output"]) for p in alone["probes"]]
    assert (name, ok) == ("reach", None) and "give its host as a --target too" in output

    fossp_json("decommission", *targets, "--yes")
    assert {host.name: snapshot(host) for host in engine_run_hosts} == before


def _dhcp_probe() -> Probe:
    return Probe(
        name="offer", kind=ProbeKind.DHCP, port=67, protocol=Protocol.UDP, expect="10.213.0.0/24", description="e2e"
    )


async def _offer_to(peer: LabHost, server: LabHost) -> str:
    connector = await open_connector(resolve_targets(Inventory(), [peer.target])[0])
    try:
        return await dhcp.from_peers([connector], server.address, 67, _dhcp_probe(), {})
    finally:
        await connector.close()


def test_isc_dhcp_deploys_when_asked_and_offers_to_a_peer(engine_run_hosts: list[LabHost], tmp_path: Path) -> None:
    started = time.monotonic()
    server, client = engine_run_hosts
    ssh(client, "apt-get", "-q", "update")
    ssh(client, *APT, "install", "python3-minimal")  # the peer's DHCP client script
    before = snapshot(server)
    profile = tmp_path / "dhcp.yaml"
    settings = {
        "interfaces": ["eth0"],
        "subnet": "10.213.0.0/24",
        "range_start": "10.213.0.240",
        "range_end": "10.213.0.250",
        "router": "10.213.0.1",
        "dns_servers": ["10.213.0.1"],
        "domain_name": "fossp.test",
    }
    profile.write_text(
        yaml.safe_dump({"fossp_profile": 1, "roles": [{"id": DHCP, "settings": settings, "hosts": [server.name]}]})
    )
    targets = ("--target", server.target, "--target", client.target)
    results = _deploy("--profile", str(profile), "--include-retired", *targets)
    assert results[server.target]["states"] == {DHCP: "running"}, results[server.target]
    probes = {p["name"]: p for p in results[server.target]["probes"]}
    assert probes["dhcp-offer"]["ok"] is True
    assert f"from {server.address} on {client.target}'s eth0" in probes["dhcp-offer"]["output"]
    again = fossp_json("plan", "--profile", str(profile), "--include-retired", *targets)
    assert [p["changes"] for p in again["plans"]] == [0, 0], again
    status = fossp_json("status", *targets)  # the same probe, from the status run's other host
    [role] = next(h for h in status["hosts"] if h["host"] == server.target)["roles"]
    offer = next(p for p in role["probes"] if p["name"] == "dhcp-offer")
    assert role["state"] == "running" and f"on {client.target}'s eth0" in offer["output"], role

    ssh(server, "systemctl", "stop", "isc-dhcp-server.service")
    with pytest.raises(ProbeFailed, match=f"no DHCPOFFER from {server.address}"):
        asyncio.run(_offer_to(client, server))
    ssh(server, "systemctl", "start", "isc-dhcp-server.service")
    assert f"from {server.address}" in asyncio.run(_offer_to(client, server))

    fossp_json("decommission", "--target", server.target, "--yes")
    assert snapshot(server) == before
    assert time.monotonic() - started < 240
