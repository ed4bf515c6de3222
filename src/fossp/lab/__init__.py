"""`fossp lab`: disposable local test hosts (systemd as PID 1, own address, sshd).

Library API for tests and the engine: ``up``, ``restart``, ``down``, ``list_hosts``,
``get`` and ``resolve_target`` return or take :class:`LabHost` records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fossp.lab.hosts import LabHost, down, get, list_hosts, resolve_target, restart, up

__all__ = ["LabHost", "down", "get", "list_hosts", "resolve_target", "restart", "up"]


def __getattr__(name: str) -> Any:
    """Import the hosts module on first use, not with the package.

    Every host's launcher (a process that lives as long as the host) imports this
    package: pydantic and the rest would triple its memory.
    """
    if name in __all__:
        from fossp.lab import hosts

        return getattr(hosts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
