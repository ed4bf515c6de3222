"""Fleet: run one action on many hosts at once, on asyncio, one connection per host.

A host's failure (unreachable, refused key, unknown host key, a failing step, a lost
link, a run past its time bound) is caught and reported for that host only, with the
step it was at; the others carry on.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from fossp.errors import FosspError, error_data
from fossp.hosts.connector import Connector, load_asyncssh, open_connector
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
    #: The error's kind (docs/json.md's codes) and what it concerns (None: the host itself).
    code: str = "host_failed"
    where: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def error_data(self) -> dict[str, str | None] | None:
        """The error as every JSON document gives one, ``{message, where, code}``; None: no error."""
        return error_data(self.error, self.where or self.host, self.code) if self.error is not None else None


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
                f"{host.name}: the run did not finish within {timeouts.host:g} s (stopped at: {step[0]})",
                code="host_failed",
            ) from None
    except FosspError as error:
        report("failed")
        outcome = getattr(error, "outcome", None)
        seconds = time.perf_counter() - started
        return HostResult(host.name, seconds, error=error.message, detail=outcome, code=error.code, where=error.where)
    except Exception as error:  # one host's surprise must not stop the others
        report("failed")
        message = f"{host.name}: unexpected {type(error).__name__}: {error}"
        return HostResult(host.name, time.perf_counter() - started, error=message, code="error")
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


#: Hosts per worker process below which a second process costs more than it saves: at 50
#: lab hosts on 2 cores two workers took 0.2 s more CPU (forks, pipes, results pickled)
#: and no less time (a host costs the controller about 5 ms; benchmarks/README.md).
SHARD_MIN_HOSTS = 100


def worker_count(hosts: int, cpus: int | None = None) -> int:
    """How many processes a run of ``hosts`` independent hosts is spread over: one per core,
    each with at least SHARD_MIN_HOSTS hosts (``FOSSP_WORKERS`` overrides, 1 = one process)."""
    configured = os.environ.get("FOSSP_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return max(1, min(int(configured), hosts))
    return max(1, min(cpus or os.cpu_count() or 1, hosts // SHARD_MIN_HOSTS))


def run_sharded(
    hosts: list[HostSpec],
    action: Action[T],
    progress: Progress | None = None,
    timeouts: dict[str, float] | None = None,
    workers: int = 1,
) -> list[HostResult]:
    """``run_fleet`` over ``workers`` forked processes, each with its own event loop and a
    shard of the hosts, so a big run's controller CPU is every core rather than one thread.
    Only for hosts that share nothing (no cluster meeting points). Workers send progress
    and results back over pipes; a worker that dies leaves its hosts failed, named so."""
    if workers <= 1:
        return asyncio.run(run_fleet(hosts, action, progress, timeouts=timeouts))
    load_asyncssh()  # imported once before the fork, not once per worker

    context = multiprocessing.get_context("fork")
    shards = [list(range(start, len(hosts), workers)) for start in range(workers)]
    channels: list[tuple[Connection, BaseProcess, list[int]]] = []
    for shard in shards:
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker, args=(writer, [hosts[i] for i in shard], action, timeouts, os.getpid())
        )
        process.start()
        writer.close()
        channels.append((reader, process, shard))
    return _collect(channels, hosts, progress or _silent)


def _die_with(parent: int) -> None:
    """Be killed when the run's process dies (kill -9 included), as a one-process run
    would be: its hosts are then left as any killed run leaves them, for the next run to
    find and finish. Linux's PR_SET_PDEATHSIG; a parent already gone ends us now."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


PR_SET_PDEATHSIG = 1


def _worker(
    writer: Connection, hosts: list[HostSpec], action: Action[T], timeouts: dict[str, float] | None, parent: int
) -> None:
    _die_with(parent)

    def progress(host: str, message: str) -> None:
        writer.send(("progress", host, message))

    try:
        for index, result in enumerate(asyncio.run(run_fleet(hosts, action, progress, timeouts=timeouts))):
            writer.send(("result", index, result))
    finally:
        writer.close()


def _collect(
    channels: list[tuple[Connection, BaseProcess, list[int]]], hosts: list[HostSpec], progress: Progress
) -> list[HostResult]:
    """Every worker's messages as they come (a worker never waits on a full pipe while
    another is read) until each pipe closes; the hosts a worker did not report, failed."""
    found: dict[int, HostResult] = {}
    shard_of = {id(reader): shard for reader, _, shard in channels}
    open_readers = [reader for reader, _, _ in channels]
    while open_readers:
        for reader in wait(open_readers):
            assert isinstance(reader, Connection)
            try:
                message = reader.recv()
            except EOFError:
                open_readers.remove(reader)
                continue
            if message[0] == "progress":
                progress(message[1], message[2])
            else:
                found[shard_of[id(reader)][message[1]]] = message[2]
    for _, process, shard in channels:
        process.join()
        for index in shard:
            if index not in found:
                why = f"the worker process running it ended (exit {process.exitcode}) without a result"
                found[index] = HostResult(hosts[index].name, 0.0, error=f"{hosts[index].name}: {why}", code="error")
    return [found[index] for index in range(len(hosts))]
