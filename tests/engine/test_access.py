"""Firewall, SELinux port labels and taken ports as data: given these facts, these commands."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml

from fossp.catalog import Catalog
from fossp.catalog.schema import Family, PortSpec
from fossp.engine.access import Span, firewalld_services, plan_firewall, plan_selinux, role_spans, uncovered
from fossp.engine.backends import backend_for
from fossp.engine.operations import Operation, OpKind
from fossp.engine.planner import _RolePlan, plan_host, wanted_roles
from fossp.engine.state import parse_state
from fossp.errors import BadInput
from fossp.hosts.facts import Facts, parse_facts
from fossp.selection.profile import resolve_settings

from .conftest import FIXTURES, plan_lines, recorded, site_values

CASES = yaml.safe_load((FIXTURES / "access.yaml").read_text())


def facts_of(name: str, sections: dict[str, str] | None = None) -> Facts:
    """Recorded facts, with some sections' bodies replaced (``sections``: name -> text)."""
    text = (FIXTURES / f"{name}.facts").read_text()
    for section, body in (sections or {}).items():
        text, count = re.subn(
            rf"(@@fossp:{section}@@\n).*?(?=\n@@fossp:)", lambda m, body=body: m[1] + body, text, flags=re.S
        )
        assert count == 1, section
    return parse_facts(name, text)


def context(catalog: Catalog, facts: Facts, name: str, settings: dict[str, Any], ports: Any = None) -> _RolePlan:
    """What the planner hands access.py for one role (``ports`` replaces the role's own)."""
    role = catalog.role(name)
    if ports is not None:
        role = role.model_copy(update={"ports": [PortSpec.model_validate(p) for p in ports]})
    resolved = resolve_settings(role, settings, "test")
    assert facts.family is not None
    return _RolePlan(
        role=role,
        family=facts.family,
        settings=resolved,
        values={k: str(v) for k, v in resolved.items()},
        facts=facts,
        state=parse_state(facts),
        backend=backend_for(facts),
        operations=[],
    )


def access(catalog: Catalog, facts: Facts, name: str, settings: dict[str, Any], ports: Any = None) -> list[Operation]:
    """The role's SELinux and firewall operations."""
    ctx = context(catalog, facts, name, settings, ports)
    return plan_selinux(ctx) + plan_firewall(ctx)


def fedora_roles(catalog: Catalog) -> list[str]:
    return sorted(r.name for r in catalog.roles.values() if r.available_on(Family.FEDORA))


def lines(operations: list[Operation]) -> list[str]:
    """``+ KIND TARGET: first command [undo: first undo]``; ``=`` no-ops with the reason."""
    shown = []
    for op in operations:
        if not op.change:
            shown.append(f"= {op.kind.value} {op.target}: {op.reason}")
            continue
        undo = f" [undo: {shlex.join(op.undo[0])}]" if op.kind is OpKind.SELINUX_PORT else ""
        shown.append(f"+ {op.kind.value} {op.target}: {shlex.join(op.commands[0])}{undo}")
    return shown


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_access_matches_expectation(catalog: Catalog, case: dict[str, Any]) -> None:
    facts = facts_of(case["facts"], case.get("sections"))
    operations = access(
        catalog, facts, case["role"], site_values(case["role"], case.get("settings")), case.get("ports")
    )
    assert lines(operations) == case["expect"]


def test_every_firewall_opening_is_runtime_and_permanent_and_undone_exactly(catalog: Catalog) -> None:
    facts = recorded("fedora40-bare")
    for name in fedora_roles(catalog):
        for op in access(catalog, facts, name, site_values(name)):
            if op.kind is OpKind.FIREWALL and op.change:
                [[_, add], [_, permanent, add_again]] = op.commands
                assert permanent == "--permanent" and add == add_again and add.startswith("--add-")
                remove = add.replace("--add-", "--remove-", 1)
                assert op.undo == [["firewall-cmd", remove], ["firewall-cmd", "--permanent", remove]]


def test_every_listening_port_of_every_fedora_role_is_opened(catalog: Catalog) -> None:
    """Whether by a service (as firewalld defines it) or by --add-port, nothing is left shut."""
    facts = recorded("fedora40-bare")
    known = firewalld_services()
    for name in fedora_roles(catalog):
        opened: list[Span] = []
        for op in access(catalog, facts, name, site_values(name)):
            if op.kind is OpKind.FIREWALL and op.change:
                what, _, value = op.target.partition(" ")
                opened += known[value] if what == "service" else [span for span in [Span.parse(value)] if span]
        for spec, span in role_spans(context(catalog, facts, name, site_values(name))):
            assert not spec.expose or not uncovered(span, opened), f"{name}: {span} stays shut"


def test_every_firewalld_service_of_the_catalog_is_known(catalog: Catalog) -> None:
    known = firewalld_services()
    for role in catalog.roles.values():
        for service in role.firewall.services:
            assert service in known, f"{role.name}: firewalld service {service!r} is not in firewalld-services.yaml"
    assert {str(s) for s in known["samba-dc"]} >= {"445/tcp", "88/udp", "53/udp", "137/udp", "49152-65535/tcp"}


def test_uncovered_parts_of_a_range() -> None:
    covering = [Span("udp", 5404, 5404), Span("udp", 5405, 5412), Span("tcp", 5413, 5420)]
    assert [str(s) for s in uncovered(Span("udp", 5400, 5420), covering)] == ["5400-5403/udp", "5413-5420/udp"]
    assert uncovered(Span("udp", 5405, 5410), covering) == []


# Ports held by software FOSSP did not install


def test_a_port_held_by_systemd_resolved_is_refused_at_plan_time(catalog: Catalog) -> None:
    facts = recorded("fedora40-taken")
    with pytest.raises(BadInput) as refused:
        plan_host(facts, wanted_roles(catalog, [("bind", {})], {}, "t"), parse_state(facts))
    assert str(refused.value) == (
        "fedora40-taken: port 53/udp (DNS queries) of ISC BIND (FOSSP-NESBI) is taken by systemd-resolve "
        "(pid 655, systemd-resolved.service) on 127.0.0.53; stop that, or use another host"
    )


def test_a_port_held_by_an_apache_fossp_did_not_install_is_refused(catalog: Catalog) -> None:
    facts = recorded("fedora40-taken")
    with pytest.raises(BadInput, match=r"port 80/tcp \(HTTP\) of nginx .* taken by httpd \(pid 1201, httpd.service\)"):
        plan_host(facts, wanted_roles(catalog, [("nginx", {})], {}, "t"), parse_state(facts))
    with pytest.raises(BadInput, match=r"set nginx\.http_port to a free port"):
        plan_host(facts, wanted_roles(catalog, [("nginx", {})], {}, "t"), parse_state(facts))
    moved = plan_host(facts, wanted_roles(catalog, [("nginx", {"http_port": 8008})], {}, "t"), parse_state(facts))
    assert "+ open-firewall port 8008/tcp" in plan_lines(moved)


def test_the_roles_own_installed_service_is_no_conflict(catalog: Catalog) -> None:
    """The httpd role adopts the Apache that holds 80 already: it is the role's own service."""
    facts = recorded("fedora40-taken")
    plan = plan_host(facts, wanted_roles(catalog, [("httpd", {})], {}, "t"), parse_state(facts))
    assert plan_lines(plan)[-3:-1] == ["= enable-unit httpd.service", "+ restart-unit httpd.service"]


def test_a_replan_of_deployed_roles_is_not_refused_and_stays_empty(catalog: Catalog) -> None:
    """Their ports are held by their own units (postgresql@15-main.service for postgresql.service)."""
    facts = recorded("debian12-deployed")
    assert {(item.port, item.unit) for item in facts.listening} >= {(5432, "postgresql@15-main.service")}
    wanted = wanted_roles(catalog, [("postgresql", {}), ("nginx", {}), ("bind", {})], {}, "t")
    assert not plan_host(facts, wanted, parse_state(facts)).changes


def test_a_deployed_roles_port_taken_by_a_stranger_is_refused(catalog: Catalog) -> None:
    text = (FIXTURES / "debian12-deployed.facts").read_text()
    stranger = text.replace(
        "187852 2101 /system.slice/nginx.service nginx", "187852 3100 /system.slice/caddy.service caddy"
    )
    facts = parse_facts("debian12-deployed", stranger)
    with pytest.raises(BadInput, match=r"port 80/tcp .* taken by caddy \(pid 3100, caddy.service\) on 0.0.0.0"):
        plan_host(facts, wanted_roles(catalog, [("nginx", {})], {}, "t"), parse_state(facts))


def test_without_holders_the_roles_running_units_decide(catalog: Catalog) -> None:
    """Facts without the sockets section (an older host script): the role's active units vouch for its ports."""
    facts = facts_of("fedora40-taken", {"sockets": ""})
    with pytest.raises(BadInput, match=r"taken by a process the facts do not name, on 127\.0\.0\.53"):
        plan_host(facts, wanted_roles(catalog, [("bind", {})], {}, "t"), parse_state(facts))
    plan_host(facts, wanted_roles(catalog, [("httpd", {})], {}, "t"), parse_state(facts))
