"""Conflicts between roles that cannot share one host, each with its way out.

Two kinds: conflicts a role file declares (with their reason and resolution), and port
clashes computed from the ports each role listens on, after its settings moved them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fossp.catalog.schema import PortSpec, Role


@dataclass(frozen=True)
class Conflict:
    first: str
    second: str
    kind: str  # "port" or "declared"
    reason: str
    resolution: str

    def as_dict(self) -> dict[str, str]:
        return {
            "roles": f"{self.first} {self.second}",
            "kind": self.kind,
            "reason": self.reason,
            "resolution": self.resolution,
        }


def effective_port(spec: PortSpec, settings: dict[str, Any]) -> int:
    """The port after the role's settings moved it."""
    if spec.setting is not None and isinstance(settings.get(spec.setting), int):
        return int(settings[spec.setting])
    return spec.port


def _port_way_out(a: Role, spec_a: PortSpec, b: Role, spec_b: PortSpec) -> str:
    movable = [(r, s.setting) for r, s in ((b, spec_b), (a, spec_a)) if s.setting]
    if movable:
        role, setting = movable[0]
        return f"set {role.name}.{setting} to a free port, or deploy the two roles on separate hosts"
    return "deploy the two roles on separate hosts"


def port_conflicts(a: Role, settings_a: dict[str, Any], b: Role, settings_b: dict[str, Any]) -> list[Conflict]:
    found: dict[tuple[int, str], Conflict] = {}
    for spec_a in a.ports:
        for spec_b in b.ports:
            port = effective_port(spec_a, settings_a)
            if port != effective_port(spec_b, settings_b) or spec_a.protocol != spec_b.protocol:
                continue
            key = (port, spec_a.protocol.value)
            found.setdefault(
                key,
                Conflict(
                    a.id,
                    b.id,
                    "port",
                    f"both listen on {port}/{spec_a.protocol.value} "
                    f"({a.implementation}: {spec_a.purpose}; {b.implementation}: {spec_b.purpose})",
                    _port_way_out(a, spec_a, b, spec_b),
                ),
            )
    return list(found.values())


def declared_conflicts(a: Role, b: Role) -> list[Conflict]:
    found = []
    for owner, other in ((a, b), (b, a)):
        for relation in owner.conflicts:
            if relation.role == other.id:
                way_out = relation.resolution or "deploy the two roles on separate hosts"
                found.append(Conflict(owner.id, other.id, "declared", relation.reason, way_out))
    return found


def find_conflicts(chosen: list[tuple[Role, dict[str, Any]]]) -> list[Conflict]:
    """Every conflict between pairs of roles meant for one host."""
    conflicts: list[Conflict] = []
    for index, (a, settings_a) in enumerate(chosen):
        for b, settings_b in chosen[index + 1 :]:
            conflicts += declared_conflicts(a, b)
            conflicts += port_conflicts(a, settings_a, b, settings_b)
    return conflicts
