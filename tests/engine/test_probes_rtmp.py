"""The RTMP probe against loopback servers: one that answers the handshake as the
specification says, one that answers as nginx-rtmp's simple handshake (random S2), one
that waits after C0 like a server that never gets C1, an HTTP server, and a dead port."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import pytest

from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine.probes import ProbeFailed, Unreachable, remote_prober

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
received: list[bytes] = []


def handshaker(echo: bool) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        c0_c1 = await reader.readexactly(1537)
        s1 = bytes(8) + os.urandom(1528)
        s2 = c0_c1[1:5] + bytes(4) + c0_c1[9:] if echo else os.urandom(1536)
        writer.write(b"\x03" + s1 + s2)
        await writer.drain()
        received.append(await reader.readexactly(1536))  # C2
        writer.close()

    return handle


async def c0_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readexactly(1537)
    await asyncio.sleep(5)  # no S0 at all
    writer.close()


async def http_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)
    writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    writer.close()


async def against(handler: Handler | None) -> str:
    server = await asyncio.start_server(handler or http_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    if handler is None:
        server.close()
        await server.wait_closed()
    probe = Probe(name="r", kind=ProbeKind.RTMP, port=port, description="t", timeout=1)
    try:
        output = await remote_prober(ProbeKind.RTMP)("127.0.0.1", port, probe, {}, None)
        for _ in range(100):  # the handler reads C2 after the probe is done
            if received:
                break
            await asyncio.sleep(0.01)
        return output
    finally:
        server.close()


@pytest.mark.parametrize(("echo", "said"), [(True, "S2 echoes C1"), (False, "S2 does not echo C1")])
def test_a_healthy_server_completes_the_handshake(echo: bool, said: str) -> None:
    received.clear()
    assert said in asyncio.run(against(handshaker(echo)))
    assert len(received) == 1 and len(received[0]) == 1536, "C2 was sent"


def test_wrong_or_missing_answers_fail() -> None:
    with pytest.raises(ProbeFailed, match="no complete S0"):
        asyncio.run(against(c0_only))
    with pytest.raises(ProbeFailed, match="not RTMP version 3"):
        asyncio.run(against(http_server))
    with pytest.raises(Unreachable):
        asyncio.run(against(None))
