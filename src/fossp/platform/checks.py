"""Platform checks: pure functions from facts to pass / warn / fail with what to do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from fossp.catalog.schema import Family, PlatformCheckKind, PlatformComponent
from fossp.platform.facts import PlatformFacts


class Outcome(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # a component this host cannot have (or its family does without), and why


@dataclass(frozen=True)
class CheckResult:
    component: str
    name: str
    outcome: Outcome
    detail: str
    remedy: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "component": self.component,
            "name": self.name,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "remedy": self.remedy,
        }


def install_hint(component: PlatformComponent, family: Family | None) -> str:
    families = [family] if family else list(Family)
    tools = {Family.FEDORA: "dnf install", Family.DEBIAN: "apt-get install"}
    hints = [f"{tools[f]} {' '.join(component.packages[f])}" for f in families if component.packages.get(f)]
    return " / ".join(hints) or f"install {component.name}"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def _check_kernel(c: PlatformComponent, facts: PlatformFacts) -> CheckResult:
    wanted = c.expect or "0"
    if _version_tuple(facts.kernel) >= _version_tuple(wanted):
        return CheckResult(c.key, c.name, Outcome.PASS, f"Linux {facts.kernel}")
    return CheckResult(
        c.key,
        c.name,
        Outcome.FAIL,
        f"Linux {facts.kernel or 'unknown'} is older than {wanted}",
        "boot a supported kernel: " + install_hint(c, facts.family),
    )


def _check_pid1(c: PlatformComponent, facts: PlatformFacts) -> CheckResult:
    if facts.pid1 == (c.expect or "systemd"):
        return CheckResult(c.key, c.name, Outcome.PASS, "systemd is PID 1")
    return CheckResult(
        c.key,
        c.name,
        Outcome.FAIL,
        f"PID 1 is '{facts.pid1 or 'unknown'}', not systemd",
        "run FOSSP roles on a host booted with systemd as init (" + install_hint(c, facts.family) + ")",
    )


def _check_selinux(c: PlatformComponent, facts: PlatformFacts) -> CheckResult:
    mode = facts.selinux
    if mode == "enforcing":
        return CheckResult(c.key, c.name, Outcome.PASS, "SELinux is enforcing")
    if mode == "permissive":
        return CheckResult(
            c.key,
            c.name,
            Outcome.WARN,
            "SELinux is permissive: denials are logged, not enforced",
            "set SELINUX=enforcing in /etc/selinux/config and run `setenforce 1`",
        )
    return CheckResult(
        c.key,
        c.name,
        Outcome.FAIL,
        "SELinux is disabled",
        install_hint(c, facts.family) + "; set SELINUX=enforcing and reboot (relabels the disk)",
    )


def _check_root_fs(c: PlatformComponent, facts: PlatformFacts) -> CheckResult:
    if facts.root_fs == (c.expect or "btrfs"):
        return _check_layout(c, facts)
    tools = "btrfs-progs is installed" if any(n in facts.commands for n in c.commands) else "btrfs-progs is missing"
    return CheckResult(
        c.key,
        c.name,
        Outcome.FAIL,
        f"the root file system is {facts.root_fs or 'unknown'}, not BTRFS ({tools}): no snapshots to restore",
        "install with a BTRFS root (kickstart: autopart --type=btrfs); " + install_hint(c, facts.family),
    )


def _check_layout(c: PlatformComponent, facts: PlatformFacts) -> CheckResult:
    """A BTRFS root passes once the folders whose data must survive a rollback are apart from it."""
    inside = [path for path in c.subvolumes if path not in facts.apart]
    if not inside:
        apart = f"; {', '.join(c.subvolumes)} apart from its snapshots" if c.subvolumes else ""
        return CheckResult(c.key, c.name, Outcome.PASS, "the root file system is BTRFS" + apart)
    return CheckResult(
        c.key,
        c.name,
        Outcome.WARN,
        f"the root file system is BTRFS, but {', '.join(inside)} is inside it: a rollback of the system takes "
        "that data back too",
        "`fossp platform apply` makes them subvolumes of their own",
    )


def _check_command(c: PlatformComponent, facts: PlatformFacts) -> CheckResult:
    found = [f"{name} ({facts.commands[name]})" for name in c.commands if name in facts.commands]
    if found:
        return CheckResult(c.key, c.name, Outcome.PASS, "found " + ", ".join(found))
    outcome = Outcome.WARN if c.missing == "warn" else Outcome.FAIL
    return CheckResult(
        c.key, c.name, outcome, f"none of {', '.join(c.commands)} is installed", install_hint(c, facts.family)
    )


CHECKS = {
    PlatformCheckKind.KERNEL: _check_kernel,
    PlatformCheckKind.PID1: _check_pid1,
    PlatformCheckKind.SELINUX: _check_selinux,
    PlatformCheckKind.ROOT_FS: _check_root_fs,
    PlatformCheckKind.COMMAND: _check_command,
}


def _cannot_have(c: PlatformComponent, facts: PlatformFacts) -> str | None:
    if facts.container and c.in_container:
        return f"a container cannot have it: {c.in_container}"
    return c.not_on.get(facts.family) if facts.family else None


def check_platform(components: list[PlatformComponent], facts: PlatformFacts) -> list[CheckResult]:
    """One result per component, in the seed's order; one the host cannot have is skipped, saying why."""
    results = []
    for c in components:
        reason = _cannot_have(c, facts)
        results.append(CheckResult(c.key, c.name, Outcome.SKIP, reason) if reason else CHECKS[c.check](c, facts))
    return results
