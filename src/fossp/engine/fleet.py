"""Fleet: run one action on many hosts at once, on asyncio, one connection per host.

A host's failure (unreachable, refused key, unknown host key, a failing step, a lost
link, a run past its time bound) is caught and reported for that host only, with the
step it was at; the others carry on.
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
from fossp.hosts.timeouts import timeouts_for

T = TypeVar("T")
Progress = Callable[[str, str], None]  # (host, message)
Ended = Callable[[str], None]  # (host): told when a host is done
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


async def _one(
    host: HostSpec, action: Action[T], progress: Progress, overrides: dict[str, float], ended: Ended
) -> HostResult:
    try:
        return await _timed(host, action, progress, overrides)
    finally:
        ended(host.name)  # however it ended, even unreached: hosts that meet stop waiting for it


async def _timed(host: HostSpec, action: Action[T], progress: Progress, overrides: dict[str, float]) -> HostResult:
    started = time.perf_counter()
    step = ["connecting"]  # the last thing the host was doing, for the error of a lost run

    def report(message: str) -> None:
        step[0] = message
        progress(host.name, message)

    async def work() -> T:
        connector = await open_connector(host, timeouts)
        try:
            return await action(connector, host, report)
        finally:
            await connector.close()

    timeouts = timeouts_for(host.vars, overrides, host.name)
    try:
        report("connecting")
        try:
            value = await asyncio.wait_for(work(), timeouts.host)
        except TimeoutError:
            raise FosspError(
                f"{host.name}: the run did not finish within {timeouts.host:g} s (stopped at: {step[0]})"
            ) from None
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
    hosts: list[HostSpec],
    action: Action[T],
    progress: Progress | None = None,
    limit: int = MAX_CONCURRENT,
    timeouts: dict[str, float] | None = None,
    ended: Ended | None = None,
) -> list[HostResult]:
    """Run ``action`` on every host concurrently (at most ``limit`` at once); results in the
    hosts' order. ``timeouts`` (``--timeout``) override each host's time bounds; ``ended``
    is told each host's name once it is done, whatever happened (even if never reached)."""
    gate = asyncio.Semaphore(limit)

    async def bounded(host: HostSpec) -> HostResult:
        async with gate:
            return await _one(host, action, progress or _silent, timeouts or {}, ended or _silent_end)

    return list(await asyncio.gather(*(bounded(host) for host in hosts)))


def _silent_end(host: str) -> None:
    """No one to tell that a host is done."""


def _silent(host: str, message: str) -> None:
    """No progress display (library use, JSON output)."""
