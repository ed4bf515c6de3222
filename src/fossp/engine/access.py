"""Access for a role's clients: firewalld openings, SELinux port labels and booleans, and
the ports other software already holds.

Part of the planner (pure: facts in, operations out), kept apart because the rules of
firewalld and the SELinux policy are their own subject. firewalld services are known by
the ports they open (``data/firewalld-services.yaml``, from firewalld's own definitions),
so every port a role listens on is opened, by a service or by ``--add-port``; SELinux
labels are decided on the host's full ``semanage port -l``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from fossp.catalog.loader import DATA_DIR, parse_model, read_yaml
from fossp.catalog.schema import PortRange, PortSpec
from fossp.engine.operations import Operation, OpKind
from fossp.engine.recipe import fill, for_part, load_recipe
from fossp.errors import BadInput
from fossp.hosts.facts import Listener

if TYPE_CHECKING:
    from fossp.engine.planner import _RolePlan

FIREWALLD_SERVICES = DATA_DIR / "firewalld-services.yaml"
_SPAN = re.compile(r"^(\d+)(?:-(\d+))?/([a-z]+)$")


@dataclass(frozen=True, order=True)
class Span:
    """A port or a range of ports of one protocol, written as firewalld writes it."""

    protocol: str
    low: int
    high: int

    def __str__(self) -> str:
        ports = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
        return f"{ports}/{self.protocol}"

    @classmethod
    def parse(cls, text: str) -> Span | None:
        match = _SPAN.match(text)
        if match is None:
            return None
        return cls(match[3], int(match[1]), int(match[2] or match[1]))


class FirewalldService(BaseModel):
    """One service definition as firewalld ships it (its ``<port>`` and ``<include>``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ports: list[Annotated[str, StringConstraints(pattern=_SPAN.pattern)]] = []
    includes: list[str] = []


@cache
def firewalld_services() -> dict[str, list[Span]]:
    """Service name -> every port it opens, its included services' ports with them."""
    raw = read_yaml(FIREWALLD_SERVICES)
    services = {
        name: parse_model(FirewalldService, body, f"{FIREWALLD_SERVICES}: {name}") for name, body in raw.items()
    }

    def ports(name: str, seen: frozenset[str]) -> list[Span]:
        service = services[name]
        own = [span for span in map(Span.parse, service.ports) if span is not None]
        return own + [p for other in service.includes if other not in seen for p in ports(other, seen | {other})]

    return {name: ports(name, frozenset({name})) for name in services}


def role_spans(ctx: _RolePlan) -> list[tuple[PortSpec, Span]]:
    """Each port the role listens on, where its settings put it."""
    return [(spec, placed(ctx, spec)) for spec in ctx.role.ports]


def placed(ctx: _RolePlan, spec: PortRange) -> Span:
    """Where the settings put a port or range: its last port by ``to_port_setting``, else
    a moved range keeps its length."""
    low = int(ctx.settings[spec.setting]) if spec.setting else spec.port
    if spec.to_port_setting:
        high = int(ctx.settings[spec.to_port_setting])
        if high < low:
            raise BadInput(
                f"{ctx.facts.host}: {ctx.role.id} setting '{spec.to_port_setting}' = {high} is below "
                f"'{spec.setting}' = {low}: the range has no ports"
            )
    else:
        high = low + (spec.to_port - spec.port if spec.to_port else 0)
    if high > 65535:
        raise BadInput(
            f"{ctx.facts.host}: {ctx.role.id} setting '{spec.setting}' = {low} puts the range "
            f"{spec.port}-{spec.to_port} past port 65535"
        )
    return Span(spec.protocol.value, low, high)


def uncovered(span: Span, covering: list[Span]) -> list[Span]:
    """The parts of ``span`` that none of ``covering`` holds."""
    gaps, start = [], span.low
    for item in sorted(c for c in covering if c.protocol == span.protocol):
        if item.high >= start and item.low <= span.high:
            if item.low > start:
                gaps.append(Span(span.protocol, start, item.low - 1))
            start = max(start, item.high + 1)
    if start <= span.high:
        gaps.append(Span(span.protocol, start, span.high))
    return gaps


def plan_selinux(ctx: _RolePlan) -> list[Operation]:
    selinux = ctx.facts.selinux
    wanted = ctx.role.selinux
    others = _deployed_booleans(ctx) if wanted.roles_booleans else []
    if not (wanted.booleans or wanted.port_labels or others):
        return []
    if selinux.mode == "disabled":
        return [
            ctx.noop(
                OpKind.SELINUX_BOOLEAN if wanted.booleans or others else OpKind.SELINUX_PORT,
                "SELinux",
                "SELinux is disabled on this host",
            )
        ]
    operations = [_boolean(ctx, name, value) for name, value in wanted.booleans.items()]
    operations += [_boolean(ctx, name, value).model_copy(update={"role": role}) for role, name, value in others]
    for label in wanted.port_labels:
        default = Span(label.protocol.value, label.port, label.to_port or label.port)
        operations.append(_port_label(ctx, label.type, placed(ctx, label), default))
    return operations


def _deployed_booleans(ctx: _RolePlan) -> list[tuple[str, str, bool]]:
    """(role ID, boolean, value) of the other roles FOSSP deployed on the host: a boolean
    set here is that role's change, so it goes back only when that role is decommissioned."""
    from fossp.engine.planner import deployed_roles

    return [
        (w.role.id, name, value)
        for w in deployed_roles(ctx.state)
        if w.role.id != ctx.role.id
        for name, value in w.role.selinux.booleans.items()
        if name not in ctx.role.selinux.booleans
    ]


def _boolean(ctx: _RolePlan, name: str, value: bool) -> Operation:
    word = "on" if value else "off"
    current = ctx.facts.selinux.booleans.get(name)
    if current is value:
        return ctx.noop(OpKind.SELINUX_BOOLEAN, name, f"already {word}")
    before = "unknown" if current is None else ("on" if current else "off")
    return ctx.op(
        OpKind.SELINUX_BOOLEAN,
        name,
        f"is {before}, the role needs {word}",
        previous=before,
        commands=[["setsebool", "-P", name, word]],
        undo=[["setsebool", "-P", name, before]] if current is not None else [],
    )


def _port_label(ctx: _RolePlan, wanted: str, span: Span, default: Span) -> Operation:
    """``-a`` where no entry is for exactly this port (or range), ``-m`` where one is (``-a``
    fails there), nothing where the narrowest entry holding it all has the wanted type."""
    selinux = ctx.facts.selinux
    protocol, ports = span.protocol, str(span).partition("/")[0]
    target = f"{wanted} {span.protocol}/{ports}"
    argv = ["-t", wanted, "-p", protocol, ports]
    if not selinux.port_labels and span == default:  # no listing (semanage missing): trust the catalog
        return ctx.noop(OpKind.SELINUX_PORT, target, "the policy labels the default port already")
    current = selinux.label(protocol, span.low, span.high)
    if current is not None and current.type == wanted:
        return ctx.noop(OpKind.SELINUX_PORT, target, f"labelled already ({'local' if current.local else 'policy'})")
    exact = selinux.record(protocol, span.low, span.high)
    if exact is None:
        was = f"{current.type}, from {current.low}-{current.high}" if current is not None else "unlabelled"
        return ctx.op(
            OpKind.SELINUX_PORT,
            target,
            f"port {ports} is {was}; the role needs {wanted}",
            commands=[["semanage", "port", "-a", *argv]],
            undo=[["semanage", "port", "-d", "-p", protocol, ports]],
        )
    return ctx.op(
        OpKind.SELINUX_PORT,
        target,
        f"the {'local' if exact.local else 'policy'} label of port {ports} is {exact.type} (-a would fail); "
        f"the role needs {wanted}",
        previous=exact.type,
        commands=[["semanage", "port", "-m", *argv]],
        undo=[["semanage", "port", "-m", "-t", exact.type, "-p", protocol, ports]],
    )


def plan_firewall(ctx: _RolePlan) -> list[Operation]:
    """Open the role's firewalld services, and ``--add-port`` every listening port no
    service covers; a service is left shut when settings moved all its ports elsewhere."""
    refuse_taken_ports(ctx)
    firewall = ctx.facts.firewall
    exposed = [(spec, span) for spec, span in role_spans(ctx) if spec.expose]
    spans = [span for _, span in exposed]
    defaults = [Span(spec.protocol.value, spec.port, spec.to_port or spec.port) for spec, _ in exposed]
    known = firewalld_services()
    services = [s for s in ctx.role.firewall.services if _serves(known.get(s, []), spans, defaults)]
    covered = [span for s in services for span in known.get(s, [])]
    ports = list(dict.fromkeys(gap for span in spans for gap in uncovered(span, covered)))
    host_ports = [span for span in map(Span.parse, firewall.ports) if span is not None]
    rules = [(f"service {s}", "service", s, s in firewall.services) for s in services]
    rules += [(f"port {p}", "port", str(p), not uncovered(p, host_ports)) for p in ports]
    if not rules:
        return []
    if not firewall.running:
        return [
            ctx.noop(
                OpKind.FIREWALL,
                ", ".join(r[0] for r in rules),
                "firewalld is not running on this host; nothing to open",
            )
        ]
    return [_opening(ctx, *rule) for rule in rules]


def _serves(ports: list[Span], spans: list[Span], defaults: list[Span]) -> bool:
    """False for a service that opens the role's default ports only where settings moved them away."""
    return not any(_overlaps(d, ports) for d in defaults) or any(_overlaps(s, ports) for s in spans)


def _overlaps(span: Span, ports: list[Span]) -> bool:
    return uncovered(span, ports) != [span]


def _opening(ctx: _RolePlan, target: str, what: str, value: str, present: bool) -> Operation:
    if present:
        return ctx.noop(OpKind.FIREWALL, target, "open already")
    add, remove = f"--add-{what}={value}", f"--remove-{what}={value}"
    reason = "clients must reach the role" if what == "service" else "clients must reach it; no service covers it"
    return ctx.op(
        OpKind.FIREWALL,
        target,
        reason,
        commands=[["firewall-cmd", add], ["firewall-cmd", "--permanent", add]],
        undo=[["firewall-cmd", remove], ["firewall-cmd", "--permanent", remove]],
    )


def refuse_taken_ports(ctx: _RolePlan) -> None:
    """A port the role listens on that software FOSSP did not install holds already is bad
    input: the role could not start. Its own service and the units of roles FOSSP deployed
    here are no conflict (a re-plan after a deploy stays empty). A range is checked at its
    first port: other software's short-lived ports may sit inside it. The distribution's
    units that the recipe stops before the role's start (Debian's smbd and nmbd where a
    Samba DC comes) are no conflict either."""
    from fossp.engine.planner import deployed_roles

    own = ctx.role.units_for(ctx.family, ctx.values, ctx.part)  # a cluster part's daemons too
    deployed = [w for w in deployed_roles(ctx.state) if w.role.id != ctx.role.id]
    ours = {_stem(u) for u in own} | {_stem(u) for w in deployed for u in w.role.units_for(ctx.family, w.settings)}
    ours |= _stopped_units(ctx)
    running = any(ctx.facts.units.get(u) is not None and ctx.facts.units[u].active == "active" for u in own)
    theirs = {
        (s.protocol.value, int(w.settings[s.setting]) if s.setting else s.port) for w in deployed for s in w.role.ports
    }
    for spec, span in role_spans(ctx):
        for item in ctx.facts.listening:
            if item.protocol != span.protocol or item.port != span.low:
                continue
            if item.unit is not None and _stem(item.unit) in ours:
                continue
            if item.unit is None and (running or (item.protocol, item.port) in theirs):
                continue
            way = f"set {ctx.role.name}.{spec.setting} to a free port" if spec.setting else "use another host"
            raise BadInput(
                f"{ctx.facts.host}: port {span.low}/{span.protocol} ({spec.purpose}) of {ctx.role.title} is taken by "
                f"{_holder(item)}; stop that, or {way}"
            )


def _stopped_units(ctx: _RolePlan) -> set[str]:
    """The units the role's recipe stops or masks (by stem)."""
    actions = for_part(load_recipe(ctx.role.name).for_family(ctx.family).units, ctx.part)
    return {_stem(fill(a.unit, ctx.values) or a.unit) for a in actions if a.action in ("stop", "mask")}


def _stem(unit: str) -> str:
    """A unit's name without instance and suffix: postgresql@15-main.service -> postgresql."""
    return unit.split("@", 1)[0].rsplit(".", 1)[0]


def _holder(item: Listener) -> str:
    if item.process is None:
        return f"a process the facts do not name, on {item.address}"
    unit = f", {item.unit}" if item.unit else ""
    return f"{item.process} (pid {item.pid}{unit}) on {item.address}"
