"""Hosts that misbehave, for fleet fault tests and benchmarks: a port nothing listens on
(the connection is refused), an SSH server that sends its banner and then says nothing
more, and relays to a real host's sshd that cut the link once a run is under way or
make it a long one (a round trip of tens of milliseconds, as between sites).

They run on the controller, on loopback ports, in a thread with an event loop of its
own (``Faults``), so the command under test runs as a separate process, as a user runs it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fossp.lab.hosts import LabHost

LOOPBACK = "127.0.0.1"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BANNER = b"SSH-2.0-OpenSSH_9.2p1 fossp-fault\r\n"


def refusing_port() -> int:
    """A loopback port nothing listens on (bound, then closed): connecting is refused."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Faults:
    """The misbehaving servers of one test or benchmark run (see :func:`running`)."""

    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    servers: list[asyncio.Server] = field(default_factory=list)

    def silent_after_banner(self) -> int:
        """A port whose server sends an SSH banner, then nothing: the key exchange never ends."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(BANNER)
            await writer.drain()
            await reader.read()  # until the client gives up; never answer
            writer.close()

        return self._serve(handle)

    def relay(self, address: str, port: int, cut_after: int | None = None, delay: float = 0.0) -> int:
        """A port relaying to ``address:port``: each chunk reaches the other side ``delay``
        seconds after it came (a link that long each way, order kept); with ``cut_after``,
        both sides close once the client has sent that many bytes (the key exchange and
        login take about 3 KB and a facts script 6 KB more, so 5000 cuts the run's first
        command)."""

        async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
            server_reader, server_writer = await asyncio.open_connection(address, port)
            budget = [cut_after]
            pumps = [
                asyncio.ensure_future(_pump(client_reader, server_writer, delay, budget)),
                asyncio.ensure_future(_pump(server_reader, client_writer, delay, [None])),
            ]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for writer in (server_writer, client_writer):  # the link is cut (or done): both sides at once
                writer.transport.abort()
            for pump in pumps:
                pump.cancel()

        return self._serve(handle)

    def _serve(self, handle: Handler) -> int:
        started = asyncio.run_coroutine_threadsafe(asyncio.start_server(handle, LOOPBACK, 0), self.loop)
        server = started.result(10)
        self.servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, budget: list[int | None]
) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds late (chunks in flight
    overlap, as on a long link); stop once ``budget[0]`` bytes (when set) have passed."""
    loop = asyncio.get_running_loop()
    due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            when, data = await due.get()
            await asyncio.sleep(max(0.0, when - loop.time()))
            writer.write(data)

    delivering = asyncio.ensure_future(deliver())
    try:
        while (budget[0] is None or budget[0] > 0) and (data := await reader.read(65536)):
            if budget[0] is not None:
                budget[0] -= len(data)
            await due.put((loop.time() + delay, data))
        while not due.empty():
            await asyncio.sleep(delay or 0.01)
        await asyncio.sleep(delay)
    finally:
        delivering.cancel()


def write_inventory(folder: Path, entries: dict[str, tuple[str, int]], known: list[str], key: Path) -> Path:
    """``folder/inventory.yaml``: the hosts (name -> address, port; group ``mix``, in
    order), their keys in ``folder/known_hosts``, one login key."""
    known_hosts = folder / "known_hosts"
    known_hosts.write_text("".join(f"{line}\n" for line in known))
    lines = ["fossp_inventory: 1", "hosts:"]
    for name, (address, port) in entries.items():
        lines.append(f"  {name}: {{address: {address}, port: {port}, key: {key}, known_hosts: {known_hosts}}}")
    lines += ["groups:", f"  mix: {{hosts: [{', '.join(entries)}]}}"]
    inventory = folder / "inventory.yaml"
    inventory.write_text("\n".join(lines) + "\n")
    return inventory


def relayed_inventory(folder: Path, hosts: Sequence[LabHost], delay: float, faults: Faults) -> Path:
    """An inventory of ``hosts`` each reached through a relay ``delay`` seconds long each way
    (no ``tc netem`` in this kernel: the round trip grows by twice ``delay``)."""
    entries, known = {}, []
    for host in hosts:  # the relay's address stands for the relayed host's key
        port = faults.relay(host.address, 22, delay=delay)
        entries[host.name] = (LOOPBACK, port)
        known.append(f"[{LOOPBACK}]:{port} {host.host_key}")
    return write_inventory(folder, entries, known, hosts[0].key_path)


def mixed_inventory(
    folder: Path, good: Sequence[LabHost], cut: Sequence[LabHost], refusing: int, silent: int, faults: Faults
) -> dict[str, str]:
    """An inventory in ``folder`` (group ``mix``) of the ``good`` lab hosts, ``refusing`` and
    ``silent`` misbehaving ports, and the ``cut`` lab hosts reached through relays that cut
    the link mid-run; returns each host's name and what it is (good, refusing, silent, cut)."""
    known = [f"{host.address} {host.host_key}" for host in good]
    kinds = {host.name: "good" for host in good}
    entries = {host.name: (host.address, 22) for host in good}
    for i in range(1, refusing + 1):
        kinds[f"refusing-{i}"], entries[f"refusing-{i}"] = "refusing", (LOOPBACK, refusing_port())
    for i in range(1, silent + 1):
        kinds[f"silent-{i}"], entries[f"silent-{i}"] = "silent", (LOOPBACK, faults.silent_after_banner())
    for host in cut:  # the relay's address stands for the relayed host's key
        port = faults.relay(host.address, 22, cut_after=5000)
        kinds[f"cut-{host.name}"], entries[f"cut-{host.name}"] = "cut", (LOOPBACK, port)
        known.append(f"[{LOOPBACK}]:{port} {host.host_key}")
    write_inventory(folder, entries, known, (good or cut)[0].key_path)
    return kinds


@contextmanager
def running() -> Iterator[Faults]:
    """Misbehaving servers served from a thread for the duration of the block."""
    faults = Faults()
    thread = threading.Thread(target=faults.loop.run_forever, name="fossp-faults", daemon=True)
    thread.start()
    try:
        yield faults
    finally:
        for server in faults.servers:
            faults.loop.call_soon_threadsafe(server.close)
        faults.loop.call_soon_threadsafe(faults.loop.stop)
        thread.join(10)
