"""Status: each role's state derived from live facts and probes, with drift named.

The stored state says what FOSSP last did; the live state says what is true now. A role
whose unit stopped, whose package was removed or whose probe fails is in error whatever
the state file says (Cockpit's fake "running" is what this avoids); a file FOSSP wrote
that changed since is drift, named with its path. A role whose run never ended (killed,
or its host was lost) is ``interrupted``, with the run and the change it stopped at.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from fossp.catalog.loader import Catalog
from fossp.catalog.schema import Role
from fossp.engine.cluster import ClusterRun, Member, Membership
from fossp.engine.planner import Wanted
from fossp.engine.probes import ProbeResult, on_host_commands, verify_role
from fossp.engine.recovery import run_is_live
from fossp.engine.state import HostState, Instance, InstanceState, parse_state
from fossp.hosts.connector import Connector
from fossp.hosts.facts import Facts, answering, gather_facts


@dataclass
class RoleStatus:
    role: str
    name: str
    state: str
    recorded: str
    drift: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)


def drift(
    facts: Facts, state: HostState, role_id: str, units: list[str], packages: list[str]
) -> tuple[list[str], list[str]]:
    """(drift, problems): files changed since FOSSP wrote them; units down, packages gone."""
    changed = []
    for path, sha in sorted(state.wrote(role_id).items()):
        current = facts.files.get(path)
        if current is None or current.content is None:
            changed.append(f"{path} is missing")
        elif hashlib.sha256(current.content).hexdigest() != sha:
            changed.append(f"{path} changed since FOSSP wrote it")
    problems = [f"package {name} is not installed" for name in packages if name not in facts.packages]
    if not facts.offline_root:
        for unit in units:
            active = facts.units.get(unit)
            if active is None or active.active != "active":
                problems.append(f"unit {unit} is {active.active if active and active.active else 'not loaded'}")
    return changed, problems


async def status_host(
    connector: Connector,
    catalog: Catalog,
    probe: bool = True,
    run: ClusterRun | None = None,
    addresses: Mapping[str, str] | None = None,
) -> HostStatus:
    """Live state of every role FOSSP deployed on the host.

    Two round trips: the state file says which files and units to look at, the second
    batch reads them and runs the roles' on-host probes (a host without FOSSP roles needs
    only the first). The probes are
    those deploy runs: a multi-host role's member runs its part's, with its derived values
    (members' ``addresses`` by name), and probes from a peer run on the run's other hosts
    (``run``: their connections).
    """
    first = await gather_facts(connector)
    state = parse_state(first)
    written = sorted({path for role_id in state.instances for path in state.wrote(role_id)})
    units = sorted(
        {
            unit
            for role_id, instance in state.instances.items()
            if role_id in catalog.roles
            for unit in catalog.roles[role_id].units_for(None, instance.settings, instance.part)
        }
    )
    ahead = [
        argv
        for role_id, instance in state.instances.items()
        if probe and role_id in catalog.roles and not instance.members
        for argv in on_host_commands(catalog.roles[role_id], instance.settings)
    ]
    facts = await gather_facts(connector, written, units, ahead) if state.instances else first
    prober = answering(connector, facts)
    statuses = []
    unended = state.run if state.run is not None and not run_is_live(state, facts) else None
    for role_id, instance in state.instances.items():
        if unended is not None and (role_id in unended.roles or instance.state in _TRANSITIONAL):
            problem = f"{unended.describe()} did not end: `fossp deploy` finishes it, `fossp decommission` undoes it"
            statuses.append(RoleStatus(role_id, instance.role_name, INTERRUPTED, instance.state.value, [], [problem]))
            continue
        role = catalog.roles.get(role_id)
        if role is None or facts.family is None:
            statuses.append(
                RoleStatus(
                    role_id,
                    instance.role_name,
                    InstanceState.ERROR.value,
                    instance.state.value,
                    problems=["role not in this catalog or OS family unknown"],
                )
            )
            continue
        changed, problems = drift(
            facts,
            state,
            role_id,
            role.units_for(facts.family, instance.settings, instance.part),
            role.packages_for(facts.family, instance.part),
        )
        results = await _probe(role, instance, prober, run, addresses or {}) if probe and not problems else []
        problems += [f"probe {r.name}: {r.output}" for r in results if r.ok is False]
        live = _live_state(instance.state, problems, connector.root is not None)
        statuses.append(RoleStatus(role_id, role.name, live, instance.state.value, changed, problems, results))
    return HostStatus(statuses, facts.os.fossp())


@dataclass
class HostStatus:
    """The host's roles, and what its os-release says of FOSSP (release, level, roles)."""

    roles: list[RoleStatus]
    fossp: dict[str, object]


async def _probe(
    role: Role, instance: Instance, connector: Connector, run: ClusterRun | None, addresses: Mapping[str, str]
) -> list[ProbeResult]:
    """The role's probes as deploy runs them (a member's with its place in the cluster)."""
    from fossp.engine.apply import verify_member

    membership = _membership(instance, connector.name, addresses)
    if membership is None:
        peers = run.peers(connector.name) if run is not None else []
        return await verify_role(role, instance.settings, connector, retry=0, peers=peers)
    return await verify_member(Wanted(role, instance.settings, membership), connector, run, retry=0)


def _membership(instance: Instance, host: str, addresses: Mapping[str, str]) -> Membership | None:
    """A member's place, rebuilt from its state (every member's part, as deploy recorded
    it) and the members' addresses; None for a single-host role. A member whose address is
    not known is given by its name (a peer probe then dials that name)."""
    if not instance.members or instance.part is None or host not in instance.members:
        return None
    parts = instance.parts or {host: instance.part}
    members = tuple(
        Member(name, addresses.get(name, name), parts.get(name, instance.part)) for name in instance.members
    )
    me = next(m for m in members if m.name == host)
    return Membership(instance.role_id, me, members)


#: The live state of a role whose run never ended (never stored: only status derives it).
INTERRUPTED = "interrupted"
_TRANSITIONAL = (InstanceState.DEPLOYING, InstanceState.DECOMMISSIONING)


def _live_state(recorded: InstanceState, problems: list[str], offline: bool) -> str:
    if recorded in (InstanceState.DEPLOYING, InstanceState.DECOMMISSIONING, InstanceState.NASCENT):
        return recorded.value if not problems else InstanceState.ERROR.value
    if problems:
        return InstanceState.ERROR.value
    return InstanceState.READY.value if offline else InstanceState.RUNNING.value
