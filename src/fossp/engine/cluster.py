"""Multi-host roles: where a profile places a role's members, what each member knows of
the others, and the meeting points of a deploy across hosts.

A role with a ``cluster`` (catalog) is placed by the profile: ``hosts: {part: [names]}``.
Each member's plan then reads derived values, as placeholders and template variables:
``host_name``, ``host_address``, ``host_part``, ``cluster_hosts``, ``cluster_addresses``
(lists, in placement order), per part ``PART_hosts``, ``PART_addresses``, ``PART_first``
and ``PART_first_address``, and ``cluster_first`` (the first member of the first part),
where the role's cluster steps run once every member is ready.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fossp.catalog.loader import Catalog
from fossp.catalog.schema import Role
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec


@dataclass(frozen=True)
class Member:
    name: str
    address: str
    part: str


@dataclass(frozen=True)
class Membership:
    """One host's place in a multi-host role: its part and every member, in order."""

    role_id: str
    me: Member
    members: tuple[Member, ...]

    @property
    def first(self) -> Member:
        return self.members[0]

    def of_part(self, part: str) -> list[Member]:
        return [m for m in self.members if m.part == part]

    def runs_cluster_steps(self, part: str | None = None) -> bool:
        """Whether this host is where the role's cluster steps (of ``part``) run."""
        pool = self.of_part(part) if part else list(self.members)
        return bool(pool) and pool[0] == self.me

    def values(self) -> dict[str, Any]:
        """The derived settings a member's recipe and probes read."""
        values: dict[str, Any] = {
            "host_name": self.me.name,
            "host_address": self.me.address,
            "host_part": self.me.part,
            "cluster_hosts": [m.name for m in self.members],
            "cluster_addresses": [m.address for m in self.members],
            "cluster_first": self.first.name,
            "cluster_first_address": self.first.address,
            "cluster_size": len(self.members),
        }
        for part in dict.fromkeys(m.part for m in self.members):
            members = self.of_part(part)
            values[f"{part}_hosts"] = [m.name for m in members]
            values[f"{part}_addresses"] = [m.address for m in members]
            values[f"{part}_first"] = members[0].name
            values[f"{part}_first_address"] = members[0].address
        return values


#: Names a role setting may not take: members' derived values would shadow it.
DERIVED_PREFIXES = ("host_", "cluster_")


def _same_host(name: str, host: HostSpec) -> bool:
    """A profile names a lab host ``NAME`` or ``lab:NAME``."""
    return name in (host.name, host.name.removeprefix("lab:"))


def place(role: Role, parts: dict[str, list[str]], hosts: list[HostSpec], where: str) -> dict[str, Membership]:
    """Each targeted member's membership (host name -> Membership), checked against the
    role's parts: every part known, each within its host counts, each host in the run."""
    if role.cluster is None:
        raise BadInput(f"{where}: {role.id} is not a multi-host role; give it without 'hosts'")
    unknown = sorted(set(parts) - {p.name for p in role.cluster.parts})
    if unknown:
        known = ", ".join(p.name for p in role.cluster.parts)
        raise BadInput(f"{where}: {role.id} has no part '{unknown[0]}' (parts: {known})")
    members: list[Member] = []
    for part in role.cluster.parts:
        names = parts.get(part.name, [])
        if len(names) < part.min_hosts:
            raise BadInput(
                f"{where}: {role.id} needs at least {part.min_hosts} host(s) as {part.name} "
                f"({part.description}); the profile places {len(names)}"
            )
        if part.max_hosts is not None and len(names) > part.max_hosts:
            raise BadInput(
                f"{where}: {role.id} takes at most {part.max_hosts} host(s) as {part.name}, not {len(names)}"
            )
        for name in names:
            host = next((h for h in hosts if _same_host(name, h)), None)
            if host is None:
                targets = ", ".join(h.name for h in hosts)
                raise BadInput(f"{where}: {role.id} places {part.name} on {name!r}, which is not a target ({targets})")
            if any(m.name == host.name for m in members):
                raise BadInput(f"{where}: {role.id} places {name!r} twice; a host is one member")
            members.append(Member(host.name, host.address, part.name))
    everyone = tuple(members)
    return {m.name: Membership(role.id, m, everyone) for m in members}


Choice = tuple[str, dict[str, Any]]  # a role ID and its given settings


@dataclass
class HostWork:
    """What one target gets: its roles (with their given settings) and its memberships."""

    choices: list[Choice] = field(default_factory=list)
    memberships: dict[str, Membership] = field(default_factory=dict)


def layout(
    catalog: Catalog,
    choices: list[Choice],
    placements: dict[str, dict[str, list[str]]],
    hosts: list[HostSpec],
    where: str,
) -> dict[str, HostWork]:
    """Which roles each target gets. A role without a placement goes to every target (a
    multi-host role with one part makes every target a member); a placed role only to
    the hosts the profile names."""
    work = {host.name: HostWork() for host in hosts}
    for role_id, given in choices:
        role = catalog.roles[role_id]
        placed = placements.get(role_id)
        if role.cluster is None:
            names = placed.get("", []) if placed else [h.name for h in hosts]
            for host in hosts:
                if any(_same_host(name, host) for name in names):
                    work[host.name].choices.append((role_id, given))
            _unknown_hosts(role, names, hosts, where)
            continue
        if placed is None:
            if len(role.cluster.parts) > 1:
                parts = ", ".join(p.name for p in role.cluster.parts)
                raise BadInput(f"{where}: {role.id} has parts ({parts}); place them with 'hosts: {{part: [names]}}'")
            placed = {role.cluster.parts[0].name: [h.name for h in hosts]}
        placement = place(role, placed, hosts, where)
        _check_counts(role, given, next(iter(placement.values())), where)
        for name, membership in placement.items():
            work[name].choices.append((role_id, given))
            work[name].memberships[role_id] = membership
    return work


def _check_counts(role: Role, given: dict[str, Any], membership: Membership, where: str) -> None:
    """A setting that must agree with the placement (``equals``: replica == the servers)."""
    for setting in (s for s in role.settings if s.equals):
        value, part = given.get(setting.name, setting.default), setting.counted_part
        if part is None:
            wanted, what = len(membership.members), "members"
        else:
            wanted, what = len(membership.of_part(part)), f"{part} hosts"
        if value is not None and value != wanted:
            raise BadInput(
                f"{where}: {role.id} setting '{setting.name}' is {value}; it must equal the number of {what} ({wanted})"
            )


def _unknown_hosts(role: Role, names: list[str], hosts: list[HostSpec], where: str) -> None:
    for name in names:
        if not any(_same_host(name, host) for host in hosts):
            targets = ", ".join(h.name for h in hosts)
            raise BadInput(f"{where}: {role.id} is placed on {name!r}, which is not a target ({targets})")


@dataclass
class Rendezvous:
    """A meeting point for the hosts of one deploy: each host arrives (or gives up), and
    all go on together once every expected host has; a host that failed is named."""

    expected: set[str]
    arrived: dict[str, bool] = field(default_factory=dict)
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    def mark(self, host: str, ok: bool) -> None:
        if host not in self.expected:  # not met here (a host of the run that is no member)
            return
        self.arrived.setdefault(host, ok)
        if self.expected <= set(self.arrived):
            self._done.set()

    async def arrive(self, host: str, ok: bool = True) -> list[str]:
        """Wait for the others; the hosts that failed to get here (sorted)."""
        self.mark(host, ok)
        await self._done.wait()
        return sorted(name for name, fine in self.arrived.items() if not fine)


@dataclass
class ClusterRun:
    """What the hosts of one deploy share: the meeting points of multi-host roles' members
    (members ready, cluster formed), each host's connection, for probes run from a peer
    (a cluster's ``from_part`` probes, a DHCP discovery from another host on the link), and
    the last meeting point (probes done): a connection stays open until every host's
    probes ran. ``members``: the hosts of multi-host roles (default: every host)."""

    hosts: set[str]
    members: set[str] | None = None
    ready: Rendezvous = field(init=False)
    formed: Rendezvous = field(init=False)
    verified: Rendezvous = field(init=False)
    connectors: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        members = self.hosts if self.members is None else self.members
        self.ready, self.formed = Rendezvous(set(members)), Rendezvous(set(members))
        self.verified = Rendezvous(set(self.hosts))

    def peers(self, host: str) -> list[Any]:
        """The connections of the run's other hosts that are still open, in name order."""
        return [connector for name, connector in sorted(self.connectors.items()) if name != host]

    def give_up(self, host: str) -> None:
        """A host that stopped still arrives everywhere (as failed), so nobody waits for it;
        its connection closes, so no peer probe uses it any more."""
        self.connectors.pop(host, None)
        for meeting in (self.ready, self.formed, self.verified):
            meeting.mark(host, ok=False)
