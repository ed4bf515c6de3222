"""TCP: the port accepts a connection; optionally a sent text gets an expected reply."""

from __future__ import annotations

import asyncio
from typing import Any

from fossp.catalog.schema import Probe
from fossp.engine.probes.common import ProbeFailed, Unreachable, text
from fossp.hosts.connector import Connector


async def connect(address: str, port: int, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection, or Unreachable saying why there is none."""
    try:
        return await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except (OSError, TimeoutError) as error:
        raise Unreachable(f"cannot connect to {address}:{port}: {str(error) or type(error).__name__}") from error


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    reader, writer = await connect(address, port, probe.timeout)
    try:
        if probe.send:
            writer.write(text(probe.send, settings).encode())
            await writer.drain()
        reply = await asyncio.wait_for(reader.read(4096), probe.timeout) if probe.expect or probe.send else b""
    finally:
        writer.close()
    answer = reply.decode(errors="replace")
    if probe.expect and text(probe.expect, settings) not in answer:
        raise ProbeFailed(f"connected to {address}:{port}; reply lacks {probe.expect!r}: {answer[:200]!r}")
    return f"connected to {address}:{port}"
