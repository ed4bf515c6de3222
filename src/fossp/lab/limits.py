"""The kernel limits a lab of many hosts needs, raised before hosts start.

Every host's systemd (and journald, logind, ...) takes inotify instances and watches from
root's one quota: with the default 128 instances, hosts past about 25 freeze in boot
without a word. The wanted values grow with the number of hosts; a limit already higher
is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Measured on Debian 12 lab hosts: systemd, journald and logind hold 5-6 instances and a few
#: hundred watches each; the margins leave room for the roles' own daemons.
INSTANCES_PER_HOST = 8
WATCHES_PER_HOST = 4096
BASE_INSTANCES = 128
BASE_WATCHES = 65536


@dataclass(frozen=True)
class Limit:
    name: str  # the sysctl name
    path: Path
    per_host: int
    base: int

    def wanted(self, hosts: int) -> int:
        return self.base + self.per_host * hosts


LIMITS = (
    Limit(
        "fs.inotify.max_user_instances",
        Path("/proc/sys/fs/inotify/max_user_instances"),
        INSTANCES_PER_HOST,
        BASE_INSTANCES,
    ),
    Limit("fs.inotify.max_user_watches", Path("/proc/sys/fs/inotify/max_user_watches"), WATCHES_PER_HOST, BASE_WATCHES),
)


def raise_limits(hosts: int, report: Callable[[str], None], limits: tuple[Limit, ...] = LIMITS) -> None:
    """Raise each limit to what ``hosts`` running hosts need (never lowers one)."""
    for limit in limits:
        current = int(limit.path.read_text())
        wanted = limit.wanted(hosts)
        if current < wanted:
            limit.path.write_text(f"{wanted}\n")
            report(f"raised {limit.name} from {current} to {wanted} for {hosts} lab hosts")


def describe(hosts: int, limits: tuple[Limit, ...] = LIMITS) -> str:
    """The limits as they are, for an error about a host that did not boot."""
    found = []
    for limit in limits:
        current = int(limit.path.read_text())
        short = " (too low)" if current < limit.wanted(hosts) else ""
        found.append(f"{limit.name}={current}{short}")
    return f"{hosts} lab hosts, " + ", ".join(found)
