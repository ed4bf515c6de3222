"""Multi-host roles as data: a site cluster role with a controller and compute part,
placed by a profile on recorded hosts. Placement is checked before any host is reached,
each member reads the others' names and addresses, the cluster step is planned on the
first member only, the hosts meet before it, and a lone member cannot be decommissioned."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fossp.catalog import load_catalog
from fossp.engine.backends import backend_for
from fossp.engine.cluster import ClusterRun, Rendezvous, layout, place
from fossp.engine.decommission import Removal, refuse_partial_clusters
from fossp.engine.operations import OpKind
from fossp.engine.planner import Wanted, plan_role, wanted_roles
from fossp.engine.state import HostState
from fossp.errors import BadInput
from fossp.hosts.facts import Listener
from fossp.hosts.inventory import HostSpec
from fossp.selection.profile import dump_profile, parse_profile

from .conftest import recorded, site_role

ROLE_ID = "FOSSP-HPSDC"
ROLE = f"""
id: {ROLE_ID}
name: democluster
service: high-performance
implementation: Demo cluster
code: DC
description: A multi-host site role for the cluster engine's tests.
features: [hpc]
packages:
  fedora: {{packages: [demo-common]}}
  debian: {{packages: [demo-common]}}
units:
  debian: [demo-agent.service]
  fedora: [demo-agent.service]
ports:
  - {{port: 7000, purpose: the scheduler}}
cluster:
  parts:
    - {{name: controller, description: the scheduler, min_hosts: 1, max_hosts: 1,
       packages: {{debian: [demo-ctl], fedora: [demo-ctl]}}, units: {{debian: [demo-ctl.service]}}}}
    - {{name: compute, description: runs the jobs, min_hosts: 2}}
settings:
  - {{name: key, type: secret, generate: 32, description: The cluster's shared key.}}
probes:
  - {{name: job, kind: command, argv: [demo-run, "{{compute_hosts}}"], parts: [controller], description: Runs a job.}}
  - {{name: reach, kind: command, argv: [demo-ping, "{{target_address}}"], parts: [compute], from_part: controller,
     description: The controller reaches each compute node.}}
lifecycle: {{release: 01-112615, release_date: 2015-10-26, status: launched}}
upstream: {{status: active}}
"""
RECIPE = """
role: democluster
families:
  debian:
    files:
      - {path: /etc/demo/cluster.conf, template: democluster/cluster.conf.j2, mode: "600"}
      - {path: /etc/demo/controller.conf, template: democluster/cluster.conf.j2, mode: "600", parts: [controller]}
    steps:
      - name: form
        when: cluster
        parts: [controller]
        argv: [demo-admin, form, "{*compute_addresses}:7000", --name, "{host_name}"]
        undo: [demo-admin, dissolve]
        description: Forms the cluster from the compute nodes.
  fedora:
    files:
      - {path: /etc/demo/cluster.conf, template: democluster/cluster.conf.j2, mode: "600"}
"""
TEMPLATE = (
    "key={{ key }}\nme={{ host_name }} {{ host_address }} {{ host_part }}\n"
    "{% for name in compute_hosts %}node {{ name }}\n{% endfor %}"
)
HOSTS = [HostSpec(name=f"lab:n{i}", address=f"10.213.0.{20 + i}") for i in range(1, 4)]
PLACED = {"controller": ["n1"], "compute": ["n2", "n3"]}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with site_role(tmp_path, monkeypatch, "democluster", ROLE, RECIPE, {"cluster.conf.j2": TEMPLATE}):
        yield tmp_path


def _members(placed: dict[str, list[str]] = PLACED) -> dict[str, Wanted]:
    catalog = load_catalog()
    work = layout(catalog, [(ROLE_ID, {})], {ROLE_ID: placed}, HOSTS, "p.yaml")
    return {name: wanted_roles(catalog, w.choices, {}, name, w.memberships)[0] for name, w in work.items() if w.choices}


def _plan(wanted: Wanted) -> list[str]:
    facts = recorded("debian12-bare")
    assert facts.family is not None
    ops = plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))
    return [
        f"{'+' if op.change else '='} {op.kind.value} {op.target}{' (cluster)' if op.cluster else ''}" for op in ops
    ]


def test_too_few_hosts_for_a_part_is_bad_input_naming_the_profile(site: Path) -> None:
    with pytest.raises(BadInput, match=r"p.yaml: FOSSP-HPSDC needs at least 2 host\(s\) as compute .* places 1"):
        _members({"controller": ["n1"], "compute": ["n2"]})


@pytest.mark.parametrize(
    ("placed", "message"),
    [
        ({"controller": ["n1", "n2"], "compute": ["n3", "n2"]}, r"at most 1 host\(s\) as controller"),
        ({"controller": ["n1"], "compute": ["n2", "n9"]}, r"places compute on 'n9', which is not a target"),
        ({"controller": ["n1"], "compute": ["n1", "n2"]}, r"places 'n1' twice"),
        ({"controller": ["n1"], "workers": ["n2", "n3"]}, r"has no part 'workers' \(parts: controller, compute\)"),
    ],
)
def test_a_bad_placement_is_refused(site: Path, placed: dict[str, list[str]], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        place(load_catalog().roles[ROLE_ID], placed, HOSTS, "p.yaml")


def test_a_role_with_several_parts_must_be_placed(site: Path) -> None:
    with pytest.raises(BadInput, match=r"has parts \(controller, compute\); place them"):
        layout(load_catalog(), [(ROLE_ID, {})], {}, HOSTS, "p.yaml")


def test_a_plain_role_goes_only_where_it_is_placed(site: Path) -> None:
    work = layout(load_catalog(), [("FOSSP-WDSNG", {})], {"FOSSP-WDSNG": {"": ["n2"]}}, HOSTS, "p.yaml")
    assert [name for name, w in work.items() if w.choices] == ["lab:n2"]


def test_each_member_knows_the_others(site: Path) -> None:
    members = _members()
    values = members["lab:n2"].values()
    assert values["host_part"] == "compute" and values["host_address"] == "10.213.0.22"
    assert values["compute_hosts"] == ["lab:n2", "lab:n3"]
    assert values["controller_first_address"] == "10.213.0.21"
    assert values["cluster_first"] == "lab:n1" and values["cluster_size"] == 3


def test_the_shared_secret_is_generated_once_for_the_whole_cluster(site: Path) -> None:
    keys = {name: wanted.settings["key"] for name, wanted in _members().items()}
    assert len(set(keys.values())) == 1 and len(keys["lab:n1"]) == 64
    stored = site / "secrets" / "democluster" / "lab:n1" / "key"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert {w.settings["key"] for w in _members().values()} == set(keys.values())  # a later run: the same key


def test_the_cluster_step_is_planned_on_the_first_member_of_its_part_only(site: Path) -> None:
    members = _members()
    controller, compute = _plan(members["lab:n1"]), _plan(members["lab:n2"])
    assert "+ install-packages demo-common demo-ctl" in controller
    assert "+ install-packages demo-common" in compute
    assert controller[-1] == "+ run-step form (cluster)"
    facts = recorded("debian12-bare")
    assert facts.family is not None
    ops = plan_role(members["lab:n1"], facts, HostState(), facts.family, backend_for(facts))
    # one argument per compute node: a list spread, never one comma-joined word
    assert ops[-1].commands == [["demo-admin", "form", "10.213.0.22:7000", "10.213.0.23:7000", "--name", "lab:n1"]]
    assert not any("form" in line for line in compute)
    assert "+ write-file /etc/demo/controller.conf" in controller
    assert not any("controller.conf" in line for line in compute)
    assert "+ enable-unit demo-ctl.service" in controller and "+ enable-unit demo-ctl.service" not in compute


def test_a_member_s_file_names_every_node(site: Path) -> None:
    facts = recorded("debian12-bare")
    assert facts.family is not None
    wanted = _members()["lab:n3"]
    ops = plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))
    written = next(op for op in ops if op.target == "/etc/demo/cluster.conf")
    text = (written.content or b"").decode()
    assert "me=lab:n3 10.213.0.23 compute\nnode lab:n2\nnode lab:n3\n" in text
    assert written.mode == "600" and written.kind is OpKind.FILE


def test_hosts_meet_and_a_host_that_gave_up_is_named() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        run = ClusterRun({"a", "b", "c"})
        run.give_up("c")
        first, second = await asyncio.gather(run.ready.arrive("a"), run.ready.arrive("b"))
        # ... and at every later meeting, the last before connections close included
        assert [m.arrived for m in (run.formed, run.verified)] == [{"c": False}, {"c": False}]
        return first, second

    assert asyncio.run(scenario()) == (["c"], ["c"])


def test_a_meeting_waits_for_every_host() -> None:
    async def scenario() -> bool:
        meeting = Rendezvous({"a", "b"})
        waiting = asyncio.ensure_future(meeting.arrive("a"))
        await asyncio.sleep(0.05)
        early = waiting.done()
        await meeting.arrive("b")
        return early or await waiting != []

    assert asyncio.run(scenario()) is False


def test_one_member_alone_is_not_decommissioned(site: Path) -> None:
    catalog = load_catalog()
    members = ["lab:n1", "lab:n2", "lab:n3"]
    lone = {"lab:n2": Removal(host="lab:n2", roles=[ROLE_ID], members={ROLE_ID: members})}
    with pytest.raises(BadInput, match=r"lab:n2: FOSSP-HPSDC .* one member of a cluster with lab:n1, lab:n3"):
        refuse_partial_clusters(lone, catalog)
    together = {m: Removal(host=m, roles=[ROLE_ID], members={ROLE_ID: members}) for m in members}
    refuse_partial_clusters(together, catalog)


def test_a_profile_places_roles_and_saves_the_placement(site: Path) -> None:
    catalog = load_catalog()
    data = {"fossp_profile": 1, "roles": [{"id": ROLE_ID, "hosts": PLACED}, {"id": "FOSSP-WDSNG", "hosts": ["n2"]}]}
    profile = parse_profile(data, catalog, "p.yaml")
    assert profile.roles[0].placement(catalog.roles[ROLE_ID]) == PLACED
    assert profile.roles[1].placement(catalog.roles["FOSSP-WDSNG"]) == {"": ["n2"]}
    assert parse_profile(yaml.safe_load(dump_profile(profile)), catalog, "again") == profile
    with pytest.raises(BadInput, match=r"roles.1.hosts': FOSSP-WDSNG has no parts"):
        parse_profile(
            {**data, "roles": [data["roles"][0], {"id": "FOSSP-WDSNG", "hosts": {"a": ["n1"]}}]}, catalog, "p"
        )


@pytest.mark.parametrize(("holder", "refused"), [("demo-ctl.service", False), ("intruder.service", True)])
def test_a_port_held_by_the_part_s_own_daemon_is_no_conflict(site: Path, holder: str, refused: bool) -> None:
    """A re-plan after the deploy: the controller part's daemon holds the role's port."""
    facts = recorded("debian12-bare")
    listening = [*facts.listening, Listener(protocol="tcp", address="0.0.0.0", port=7000, unit=holder)]
    facts = facts.model_copy(update={"listening": listening})
    assert facts.family is not None
    wanted = _members()["lab:n1"]
    if refused:
        with pytest.raises(BadInput, match=r"port 7000/tcp \(the scheduler\) .* is taken by"):
            plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))
    else:
        assert plan_role(wanted, facts, HostState(), facts.family, backend_for(facts))
