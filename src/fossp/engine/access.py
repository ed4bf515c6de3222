"""Access for a role's clients: firewalld openings and SELinux port labels and booleans.

Part of the planner (pure: facts in, operations out), kept apart because the rules of
firewalld and the SELinux policy are their own subject.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fossp.engine.operations import Operation, OpKind

if TYPE_CHECKING:
    from fossp.engine.planner import _RolePlan


def plan_selinux(ctx: _RolePlan) -> list[Operation]:
    selinux = ctx.facts.selinux
    wanted = ctx.role.selinux
    if not (wanted.booleans or wanted.port_labels):
        return []
    if selinux.mode == "disabled":
        return [
            ctx.noop(
                OpKind.SELINUX_BOOLEAN if wanted.booleans else OpKind.SELINUX_PORT,
                "SELinux",
                "SELinux is disabled on this host",
            )
        ]
    operations = []
    for name, value in wanted.booleans.items():
        word = "on" if value else "off"
        current = selinux.booleans.get(name)
        if current is value:
            operations.append(ctx.noop(OpKind.SELINUX_BOOLEAN, name, f"already {word}"))
            continue
        before = "unknown" if current is None else ("on" if current else "off")
        operations.append(
            ctx.op(
                OpKind.SELINUX_BOOLEAN,
                name,
                f"is {before}, the role needs {word}",
                previous=before,
                commands=[["setsebool", "-P", name, word]],
                undo=[["setsebool", "-P", name, before]] if current is not None else [],
            )
        )
    for label in wanted.port_labels:
        port = int(ctx.settings[label.setting]) if label.setting else label.port
        target = f"{label.type} {label.protocol.value}/{port}"
        if port == label.port:
            operations.append(ctx.noop(OpKind.SELINUX_PORT, target, "the policy labels the default port already"))
        elif port in selinux.port_labels.get(f"{label.type}/{label.protocol.value}", []):
            operations.append(ctx.noop(OpKind.SELINUX_PORT, target, "labelled already"))
        else:
            argv = ["-t", label.type, "-p", label.protocol.value, str(port)]
            operations.append(
                ctx.op(
                    OpKind.SELINUX_PORT,
                    target,
                    f"port {port} moved from {label.port}; SELinux must allow it",
                    commands=[["semanage", "port", "-a", *argv]],
                    undo=[["semanage", "port", "-d", *argv]],
                )
            )
    return operations


def plan_firewall(ctx: _RolePlan) -> list[Operation]:
    firewall = ctx.facts.firewall
    rules = [
        (f"service {s}", "--add-service", "--remove-service", s, s in firewall.services)
        for s in ctx.role.firewall.services
    ]
    for spec in ctx.role.ports:
        port = int(ctx.settings[spec.setting]) if spec.setting else spec.port
        if spec.expose and port != spec.port:  # default ports are in the firewalld services
            text = f"{port}/{spec.protocol.value}"
            rules.append((f"port {text}", "--add-port", "--remove-port", text, text in firewall.ports))
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
    operations = []
    for target, add, remove, value, present in rules:
        if present:
            operations.append(ctx.noop(OpKind.FIREWALL, target, "open already"))
            continue
        commands = [["firewall-cmd", f"{add}={value}"], ["firewall-cmd", "--permanent", f"{add}={value}"]]
        undo = [["firewall-cmd", f"{remove}={value}"], ["firewall-cmd", "--permanent", f"{remove}={value}"]]
        operations.append(ctx.op(OpKind.FIREWALL, target, "clients must reach the role", commands=commands, undo=undo))
    return operations
