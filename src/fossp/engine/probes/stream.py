"""Icecast: a source client PUTs an MP3 stream to a mount point while a listener GETs the
same mount; the listener must receive bytes the source sent. The source password comes
from a secret setting and is sent only in the Authorization header, never shown."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any

import httpx

from fossp.catalog.schema import Probe
from fossp.engine.probes.common import ProbeFailed, host_for_url, password, text
from fossp.engine.probes.tcp import connect
from fossp.hosts.connector import Connector

SOURCE_BYTES = 64 * 1024
LISTENER_BYTES = 16 * 1024
CHUNK = 4096
#: One MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, no padding: 417 bytes) of silence.
FRAME = bytes.fromhex("fffb9064") + bytes(413)


def source_head(host: str, mount: str, secret: str) -> bytes:
    """The source's request head (Icecast 2.4's HTTP PUT source protocol)."""
    credentials = base64.b64encode(f"source:{secret}".encode()).decode()
    return (
        f"PUT {mount} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {credentials}\r\n"
        "User-Agent: fossp-probe\r\nContent-Type: audio/mpeg\r\nIce-Public: 0\r\nIce-Name: fossp probe\r\n"
        "\r\n"
    ).encode()


def stream_bytes(size: int) -> bytes:
    return (FRAME * (size // len(FRAME) + 1))[:size]


async def _accepted(reader: asyncio.StreamReader, where: str, timeout: float) -> str:
    """The server's answer to the source: 200 OK goes on, anything else fails."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as error:
        raise ProbeFailed(f"{where}: no answer to the source's PUT ({type(error).__name__})") from None
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if status.split()[1:2] != ["200"]:
        raise ProbeFailed(f"{where}: the source's PUT was answered {status!r}")
    return status


async def _listen(url: str, timeout: float, received: list[int]) -> str:
    """GET the mount and count bytes until LISTENER_BYTES have come."""
    async with (
        httpx.AsyncClient(timeout=timeout, trust_env=False) as client,
        client.stream("GET", url, headers={"User-Agent": "fossp-probe"}) as response,
    ):
        if response.status_code != 200:
            raise ProbeFailed(f"listener GET {url} answered {response.status_code} {response.reason_phrase}")
        async for chunk in response.aiter_raw():
            received[0] += len(chunk)
            if received[0] >= LISTENER_BYTES:
                return response.headers.get("content-type", "")
    raise ProbeFailed(f"listener GET {url}: the stream ended after {received[0]} bytes")


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    mount = text(probe.path, settings) or "/fossp-probe"
    where = f"http://{host_for_url(address)}:{port}{mount}"
    reader, writer = await connect(address, port, probe.timeout)
    try:
        writer.write(source_head(f"{host_for_url(address)}:{port}", mount, password(probe, settings)))
        await writer.drain()
        status = await _accepted(reader, where, probe.timeout)
        return await _stream(writer, where, probe.timeout, status)
    finally:
        writer.close()


async def _stream(writer: asyncio.StreamWriter, where: str, timeout: float, status: str) -> str:
    """Send the first quarter, start the listener, send on until both counts are reached."""
    data, sent, received = stream_bytes(SOURCE_BYTES), 0, [0]
    writer.write(data[: SOURCE_BYTES // 4])
    await writer.drain()
    sent = SOURCE_BYTES // 4
    listener = asyncio.create_task(_listen(where, timeout, received))
    try:
        async with asyncio.timeout(timeout):
            while sent < SOURCE_BYTES or not listener.done():
                writer.write(data[sent % SOURCE_BYTES :][:CHUNK])
                await writer.drain()
                sent += CHUNK
                await asyncio.sleep(0.01)
        content_type = listener.result()
    except TimeoutError:
        raise ProbeFailed(
            f"{where}: source sent {sent} bytes ({status}), listener got {received[0]} within {timeout:g} s"
        ) from None
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    return f"{where}: source sent {sent} bytes ({status}); listener received {received[0]} ({content_type})"
