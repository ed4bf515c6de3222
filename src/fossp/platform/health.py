"""Health and welfare of a host over SNMP: what every role leaves on the host for the
platform's health timer, and how the agent's answers read back.

Each role's plan writes ``/etc/fossp/health.d/<role>.conf`` (its ledger undoes it with
the role): one shell-quoted line per check, which the platform's runner
(``/usr/local/sbin/fossp-health``, on a systemd timer) sources with ``role``, ``unit``,
``probe`` and ``listen`` defined as functions, so each probe's argv runs as given, never
as shell text. The runner writes the results in OID order to ``/run/fossp-health/status``;
the Net-SNMP agent serves them through its ``pass`` program under ``FOSSP-HEALTH-MIB``
(``src/fossp/data/mibs/FOSSP-HEALTH-MIB.txt``, docs/health.md).

On the host, the role's units, its command and database probes run as on a deploy; a
probe that speaks a network protocol from the controller (HTTP, DNS, LDAP, ...) is
checked as "its port is listening": the protocol itself is proven by ``fossp status``.
Probes that do real work (a backup job, booting a guest) are marked ``scheduled: false``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from fossp.catalog.schema import Family, Probe, Role, placeholders
from fossp.engine.operations import Operation, OpKind, noop
from fossp.hosts.facts import Facts

MANIFEST_DIR = "/etc/fossp/health.d"
#: FOSSP-HEALTH-MIB's root: netSnmpPlaypen (NET-SNMP-MIB's subtree for local use) . 3677
#: ("FOSP" on a phone's keys) until FOSSP has an enterprise number of its own.
ROOT = "1.3.6.1.4.1.8072.9999.9999.3677"


MANIFESTS = f"{MANIFEST_DIR}/*.conf"
PLATFORM_ROLE = "FOSSP-PLSPL"


def manifest_path(role_name: str) -> str:
    return f"{MANIFEST_DIR}/{role_name}.conf"


@dataclass
class Carried:
    """A role the host carries once the run is over, as its checks need it."""

    role: Role
    settings: dict[str, Any]
    part: str | None = None


def health_checks_ops(facts: Facts, carried: list[Carried], owner: str) -> list[Operation]:
    """Bring the host's checks in line with the roles it carries after this run: derived
    like /etc/os-release (no ledger entry; every deploy and decommission writes them again),
    present only while the platform (its health timer) is one of those roles."""
    family = facts.family
    watched = PLATFORM_ROLE in {c.role.id for c in carried}
    operations = [_write_checks(facts, family, item) for item in carried] if watched and family else []
    found = {path for path in facts.files if path.startswith(f"{MANIFEST_DIR}/") and path.endswith(".conf")}
    left = "its role left the host" if watched else "no health timer runs here: the platform is not deployed"
    for path in sorted(found - {op.target for op in operations}):
        remove = [["rm", "-f", "--", facts.on_host(path)]]
        operations.append(Operation(role=owner, kind=OpKind.HEALTH_CHECKS, target=path, reason=left, commands=remove))
    if not watched and found:  # the folders the first checks made go with the last
        folders = [facts.on_host(MANIFEST_DIR), facts.on_host(MANIFEST_DIR.rpartition("/")[0])]
        operations[-1].commands.append(["rmdir", "--ignore-fail-on-non-empty", "--", *folders])
    return operations


def _write_checks(facts: Facts, family: Family, item: Carried) -> Operation:
    from fossp.engine.recipe import CONTAINER_MARK, load_recipe, resolve_vars
    from fossp.platform.osrelease import WRITE

    path = manifest_path(item.role.name)
    recipe = load_recipe(item.role.name).for_family(family)
    values = resolve_vars(recipe, item.settings, facts.packages)
    units = item.role.units_for(family, values, item.part)
    held = {u for u in units if recipe.held(u, item.settings, CONTAINER_MARK in facts.files)}
    text = manifest_text(item.role, family, values, item.part, held)
    current = facts.files.get(path)
    if current is not None and current.content == text.encode():
        return noop(item.role.id, OpKind.HEALTH_CHECKS, path, "the role's checks, as they are")
    return Operation(
        role=item.role.id,
        kind=OpKind.HEALTH_CHECKS,
        target=path,
        reason="the health timer runs the role's checks" if current is None else "the role's checks changed",
        commands=[
            ["mkdir", "-p", "-m", "755", "--", facts.on_host(MANIFEST_DIR)],
            ["sh", "-c", WRITE, "fossp-health-checks", text, facts.on_host(path)],
            # the agent tells of the role now, not only after the timer's next run
            *([] if facts.offline_root else [["systemctl", "--no-block", "start", "fossp-health.service"]]),
        ],
        content=text.encode(),
    )


def _line(*words: object) -> str:
    return shlex.join(str(w) for w in words)


def manifest_text(role: Role, family: Family, values: dict[str, Any], part: str | None, held: set[str]) -> str:
    """The role's checks on this host (``part`` of a multi-host role), for the health runner.
    Units not started here (``held``: a container's clock) are left out, as are probes that
    run from another member or against a shared address, or that need a value not known."""
    from fossp.engine.probes import ON_HOST, REMOTE
    from fossp.engine.probes.common import text

    lines = [
        f"# Written by FOSSP: the health checks of {role.title}, run by fossp-health.",
        _line("role", role.id, role.name),
    ]
    lines += [_line("unit", unit) for unit in role.units_for(family, values, part) if unit not in held]
    for probe in role.probes:
        if not _runs_here(probe, part):
            continue
        try:
            if probe.kind in ON_HOST:
                argv = _host_argv(probe, values)
                expect = text(probe.expect, values)
                lines.append(_line("probe", probe.name, probe.kind.value, _seconds(probe), expect, "--", *argv))
            elif probe.kind in REMOTE:
                port = int(values[probe.port_setting]) if probe.port_setting else probe.port
                lines.append(_line("listen", probe.name, probe.kind.value, probe.protocol.value, port))
        except (KeyError, ValueError, TypeError):
            lines.append(f"# {probe.name}: needs a value known only to the controller; `fossp status` runs it")
    return "\n".join(lines) + "\n"


def _runs_here(probe: Probe, part: str | None) -> bool:
    if not probe.scheduled or probe.from_part or probe.address_setting:
        return False
    return probe.parts is None or part in probe.parts


def _host_argv(probe: Probe, values: dict[str, Any]) -> list[str]:
    from fossp.engine.probes import host_argv

    # a shell script's own braces ({ ...; }) are no placeholder: only names are
    fields = [*(probe.argv or []), probe.query or "", probe.expect or ""]
    missing = {name for text in fields for name in placeholders(text) if name.isidentifier()} - set(values)
    if missing:
        raise KeyError(", ".join(sorted(missing)))
    return host_argv(probe, int(values[probe.port_setting]) if probe.port_setting else (probe.port or 0), values)


def _seconds(probe: Probe) -> str:
    return f"{probe.timeout:g}"


class Status(IntEnum):
    """fosspHealthStatus and the status columns: the MIB's values."""

    OK = 1
    UNHEALTHY = 2
    STALE = 3


@dataclass
class ProbeHealth:
    name: str
    kind: str
    ok: bool
    message: str


@dataclass
class RoleHealth:
    role_id: str
    name: str
    ok: bool
    passed: int
    total: int
    message: str
    probes: list[ProbeHealth] = field(default_factory=list)


@dataclass
class FileSystem:
    mount: str
    size_kb: int
    available_kb: int
    used_percent: int
    ok: bool


@dataclass
class HostHealth:
    """One host's health as its agent tells it (``fossp health``)."""

    status: Status
    checked_at: int
    age: int
    interval: int
    problems: str
    host_ok: bool
    load: tuple[float, ...]
    memory_total_kb: int
    memory_available_kb: int
    failed_units: list[str]
    file_systems: list[FileSystem]
    roles: list[RoleHealth]

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


class UnreadableTree(ValueError):
    """The agent answered, but not with FOSSP's health tree (no platform health here)."""


#: FOSSP-HEALTH-MIB's objects by name, as OIDs below ROOT (the MIB file says the same;
#: tests/platform/test_health_mib.py compiles it and compares).
OBJECTS = {
    "fosspHealthStatus": "1.1",
    "fosspHealthCheckedAt": "1.2",
    "fosspHealthAge": "1.3",
    "fosspHealthInterval": "1.4",
    "fosspHealthProblems": "1.5",
    "fosspHostStatus": "2.1",
    "fosspHostLoad1": "2.2",
    "fosspHostLoad5": "2.3",
    "fosspHostLoad15": "2.4",
    "fosspHostMemTotal": "2.5",
    "fosspHostMemAvailable": "2.6",
    "fosspHostFailedUnits": "2.7",
    "fosspHostFailedUnitNames": "2.8",
    "fosspFsMount": "3.1.2",
    "fosspFsSize": "3.1.3",
    "fosspFsAvailable": "3.1.4",
    "fosspFsUsedPercent": "3.1.5",
    "fosspFsStatus": "3.1.6",
    "fosspRoleId": "4.1.2",
    "fosspRoleName": "4.1.3",
    "fosspRoleStatus": "4.1.4",
    "fosspRoleChecksPassed": "4.1.5",
    "fosspRoleChecks": "4.1.6",
    "fosspRoleMessage": "4.1.7",
    "fosspCheckName": "5.1.2",
    "fosspCheckKind": "5.1.3",
    "fosspCheckStatus": "5.1.4",
    "fosspCheckMessage": "5.1.5",
}


class _Tree:
    """The walked values (keyed by OID below ROOT), read by object name."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def scalar(self, name: str) -> str:
        return self.values.get(f"{OBJECTS[name]}.0", "")

    def number(self, name: str) -> int:
        return int(self.scalar(name) or 0)

    def column(self, name: str) -> dict[str, str]:
        """The column's cells by row index ("3", or "2.1" in the check table), in OID order."""
        prefix = f"{OBJECTS[name]}."
        return {key[len(prefix) :]: value for key, value in self.values.items() if key.startswith(prefix)}


def parse_tree(values: dict[str, str]) -> HostHealth:
    """The health from the agent's values under ROOT, keyed by OID below it ("1.1.0")."""
    tree = _Tree(values)
    if not tree.scalar("fosspHealthStatus"):
        raise UnreadableTree("the agent has no FOSSP health tree (is the platform applied, with its health timer?)")
    kinds, states, messages = (tree.column(n) for n in ("fosspCheckKind", "fosspCheckStatus", "fosspCheckMessage"))
    checks: dict[str, list[ProbeHealth]] = {}
    for index, name in tree.column("fosspCheckName").items():
        check = ProbeHealth(name, kinds.get(index, ""), states.get(index) == "1", messages.get(index, ""))
        checks.setdefault(index.partition(".")[0], []).append(check)
    roles = [
        RoleHealth(
            role_id,
            tree.column("fosspRoleName").get(index, ""),
            tree.column("fosspRoleStatus").get(index) == "1",
            int(tree.column("fosspRoleChecksPassed").get(index, "0")),
            int(tree.column("fosspRoleChecks").get(index, "0")),
            tree.column("fosspRoleMessage").get(index, ""),
            checks.get(index, []),
        )
        for index, role_id in tree.column("fosspRoleId").items()
    ]
    systems = [
        FileSystem(
            mount,
            int(tree.column("fosspFsSize").get(index, "0")),
            int(tree.column("fosspFsAvailable").get(index, "0")),
            int(tree.column("fosspFsUsedPercent").get(index, "0")),
            tree.column("fosspFsStatus").get(index) == "1",
        )
        for index, mount in tree.column("fosspFsMount").items()
    ]
    return HostHealth(
        status=Status(tree.number("fosspHealthStatus")),
        checked_at=tree.number("fosspHealthCheckedAt"),
        age=tree.number("fosspHealthAge"),
        interval=tree.number("fosspHealthInterval"),
        problems=tree.scalar("fosspHealthProblems"),
        host_ok=tree.scalar("fosspHostStatus") == "1",
        load=tuple(tree.number(f"fosspHostLoad{n}") / 100 for n in (1, 5, 15)),
        memory_total_kb=tree.number("fosspHostMemTotal"),
        memory_available_kb=tree.number("fosspHostMemAvailable"),
        failed_units=tree.scalar("fosspHostFailedUnitNames").split(),
        file_systems=systems,
        roles=roles,
    )
