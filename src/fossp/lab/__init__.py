"""`fossp lab`: disposable local test hosts (systemd as PID 1, own address, sshd).

Library API for tests and the engine: ``up``, ``restart``, ``down``, ``list_hosts``,
``get`` and ``resolve_target`` return or take :class:`LabHost` records.
"""

from fossp.lab.hosts import LabHost, down, get, list_hosts, resolve_target, restart, up

__all__ = ["LabHost", "down", "get", "list_hosts", "resolve_target", "restart", "up"]
