"""Hosts that misbehave, for fleet fault tests and benchmarks: a port nothing listens on
(the connection is refused), an SSH server that sends its banner and then says nothing
more, and a relay to a real host's sshd that cuts the link once a run is under way.

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

    def cutting_relay(self, address: str, port: int, after_bytes: int) -> int:
        """A port relaying to ``address:port`` that closes both sides once the client has sent
        ``after_bytes`` (the key exchange and login take about 3 KB; a facts script is 6 KB
        more, so 5000 cuts the link during the run's first command)."""

        async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
            server_reader, server_writer = await asyncio.open_connection(address, port)
            sent = 0

            async def upstream() -> None:
                nonlocal sent
                while sent < after_bytes and (data := await client_reader.read(4096)):
                    server_writer.write(data)
                    sent += len(data)

            async def downstream() -> None:
                while data := await server_reader.read(4096):
                    client_writer.write(data)

            await asyncio.wait(
                [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            for writer in (server_writer, client_writer):  # the link is cut: both sides at once
                writer.transport.abort()

        return self._serve(handle)

    def _serve(self, handle: Handler) -> int:
        started = asyncio.run_coroutine_threadsafe(asyncio.start_server(handle, LOOPBACK, 0), self.loop)
        server = started.result(10)
        self.servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port


def mixed_inventory(
    folder: Path, good: Sequence[LabHost], cut: Sequence[LabHost], refusing: int, silent: int, faults: Faults
) -> dict[str, str]:
    """An inventory in ``folder`` (group ``mix``) of the ``good`` lab hosts, ``refusing`` and
    ``silent`` misbehaving ports, and the ``cut`` lab hosts reached through relays that cut
    the link mid-run; returns each host's name and what it is (good, refusing, silent, cut)."""
    key = good[0].key_path if good else cut[0].key_path
    known = [f"{host.address} {host.host_key}" for host in good]
    entries = {host.name: (host.address, 22, "good") for host in good}
    entries |= {f"refusing-{i}": (LOOPBACK, refusing_port(), "refusing") for i in range(1, refusing + 1)}
    entries |= {f"silent-{i}": (LOOPBACK, faults.silent_after_banner(), "silent") for i in range(1, silent + 1)}
    for host in cut:  # the relay's address stands for the relayed host's key
        port = faults.cutting_relay(host.address, 22, after_bytes=5000)
        entries[f"cut-{host.name}"] = (LOOPBACK, port, "cut")
        known.append(f"[{LOOPBACK}]:{port} {host.host_key}")
    (folder / "known_hosts").write_text("".join(f"{line}\n" for line in known))
    lines = ["fossp_inventory: 1", "hosts:"]
    for name, (address, port, _) in entries.items():
        lines.append(
            f"  {name}: {{address: {address}, port: {port}, key: {key}, known_hosts: {folder / 'known_hosts'}}}"
        )
    lines += ["groups:", f"  mix: {{hosts: [{', '.join(entries)}]}}"]
    (folder / "inventory.yaml").write_text("\n".join(lines) + "\n")
    return {name: kind for name, (_, _, kind) in entries.items()}


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
