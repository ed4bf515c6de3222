"""Fleet: run one action on many hosts at once, on asyncio, one connection per host.

A host's failure (unreachable, refused key, unknown host key, a failing step) is caught
and reported for that host only; the others carry on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fossp.errors import FosspError
from fossp.hosts.connector import Connector, open_connector
from fossp.hosts.inventory import HostSpec

T = TypeVar("T")
Progress = Callable[[str, str], None]  # (host, message)
Action = Callable[[Connector, HostSpec, Callable[[str], None]], Awaitable[T]]


@dataclass
class HostResult:
    """One host's result: the action's value, or the error that stopped the host."""

    host: str
    seconds: float
    value: Any = None
    error: str | None = None
    detail: Any = None  # e.g. the changes applied before a failure

    @property
    def ok(self) -> bool:
        return self.error is None


async def _one(host: HostSpec, action: Action[T], progress: Progress) -> HostResult:
    started = time.perf_counter()

    def report(message: str) -> None:
        progress(host.name, message)

    try:
        report("connecting")
        connector = await open_connector(host)
        try:
            value = await action(connector, host, report)
        finally:
            await connector.close()
    except FosspError as error:
        report("failed")
        return HostResult(
            host.name, time.perf_counter() - started, error=error.message, detail=getattr(error, "outcome", None)
        )
    except Exception as error:  # one host's surprise must not stop the others
        report("failed")
        message = f"{host.name}: unexpected {type(error).__name__}: {error}"
        return HostResult(host.name, time.perf_counter() - started, error=message)
    report("done")
    return HostResult(host.name, time.perf_counter() - started, value=value)


#: Hosts worked on at once: bounds open connections and file descriptors on big fleets.
MAX_CONCURRENT = 200


async def run_fleet(
    hosts: list[HostSpec], action: Action[T], progress: Progress | None = None, limit: int = MAX_CONCURRENT
) -> list[HostResult]:
    """Run ``action`` on every host concurrently (at most ``limit`` at once); results in the hosts' order."""
    gate = asyncio.Semaphore(limit)

    async def bounded(host: HostSpec) -> HostResult:
        async with gate:
            return await _one(host, action, progress or _silent)

    return list(await asyncio.gather(*(bounded(host) for host in hosts)))


def _silent(host: str, message: str) -> None:
    """No progress display (library use, JSON output)."""
