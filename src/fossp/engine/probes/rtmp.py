"""RTMP: the handshake a publisher or player starts with (C0+C1, S0+S1+S2, C2). Sending
C0 alone leaves a healthy server waiting for C1, so C1 goes with it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fossp.catalog.schema import Probe
from fossp.engine import wire
from fossp.engine.probes.common import ProbeFailed
from fossp.engine.probes.tcp import connect
from fossp.hosts.connector import Connector


def _milliseconds() -> int:
    return int(time.monotonic() * 1000)


async def probe(
    address: str, port: int, probe: Probe, settings: dict[str, Any], connector: Connector | None = None
) -> str:
    where = f"rtmp://{address}:{port}"
    reader, writer = await connect(address, port, probe.timeout)
    try:
        c0_c1 = wire.rtmp_c0_c1(_milliseconds())
        writer.write(c0_c1)
        await writer.drain()
        try:
            wire.rtmp_s0(await asyncio.wait_for(reader.readexactly(1), probe.timeout))
            data = await asyncio.wait_for(reader.readexactly(2 * wire.RTMP_HANDSHAKE_SIZE), probe.timeout)
        except asyncio.IncompleteReadError as error:
            raise ProbeFailed(f"{where}: the server closed after {len(error.partial)} handshake bytes") from None
        except TimeoutError:
            raise ProbeFailed(f"{where}: no complete S0+S1+S2 within {probe.timeout:g} s") from None
        handshake = wire.rtmp_s1_s2(data, c0_c1[1:])
        writer.write(wire.rtmp_c2(handshake.s1, _milliseconds()))
        await writer.drain()
    except wire.WireError as error:
        raise ProbeFailed(f"{where}: {error}") from error
    finally:
        writer.close()
    echo = "S2 echoes C1" if handshake.echoed else "S2 does not echo C1 (as nginx-rtmp's simple handshake)"
    return f"{where}: handshake done (S0 version {wire.RTMP_VERSION}, S1 and S2 of 1536 bytes; {echo})"
