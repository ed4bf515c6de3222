"""The Icecast stream probe against a small loopback server that speaks Icecast's source
PUT and listener GET: the password, the headers and the bytes that flow are checked; a
wrong password, a mount with no listener data and a dead port fail."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from fossp.catalog import load_catalog
from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine.probes import ProbeFailed, Unreachable, remote_prober, run_probe
from fossp.hosts.connector import LocalConnector

SECRET = "source-secret-1"


class Icecast:
    """One mount; ``relay`` off: listeners are answered 200 but never get a byte."""

    def __init__(self, relay: bool = True) -> None:
        self.relay = relay
        self.listeners: list[asyncio.StreamWriter] = []
        self.source_headers: dict[str, str] = {}
        self.source_bytes = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        request, *lines = head.strip().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        if request.startswith("PUT /fossp-probe "):
            await self._source(reader, writer, headers)
        elif request.startswith("GET /fossp-probe ") and self.source_headers:
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n")
            self.listeners.append(writer)
        else:
            writer.write(b"HTTP/1.0 404 File Not Found\r\n\r\n")
            writer.close()

    async def _source(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]
    ) -> None:
        wanted = "Basic " + base64.b64encode(f"source:{SECRET}".encode()).decode()
        if headers.get("Authorization") != wanted:
            writer.write(b"HTTP/1.0 401 Authentication Required\r\n\r\n")
            writer.close()
            return
        self.source_headers = headers
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n")
        while chunk := await reader.read(4096):
            self.source_bytes += len(chunk)
            for listener in self.listeners if self.relay else []:
                listener.write(chunk)
        for listener in self.listeners:
            listener.close()


async def against(server: Icecast | None, secret: str = SECRET) -> str:
    listening = await asyncio.start_server(server.handle if server else Icecast().handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    if server is None:
        listening.close()
        await listening.wait_closed()
    probe = Probe(
        name="s",
        kind=ProbeKind.STREAM,
        port=port,
        path="/fossp-probe",
        password_setting="pw",
        description="t",
        timeout=2,
    )
    try:
        return await remote_prober(ProbeKind.STREAM)("127.0.0.1", port, probe, {"pw": secret}, None)
    finally:
        listening.close()


def test_a_source_reaches_a_listener() -> None:
    server = Icecast()
    output = asyncio.run(against(server))
    assert "200 OK" in output and "(audio/mpeg)" in output
    sent = int(output.split("source sent ")[1].split()[0])
    received = int(output.split("listener received ")[1].split()[0])
    assert sent >= 64 * 1024 and received >= 16 * 1024
    headers = server.source_headers
    assert (headers["Content-Type"], headers["Ice-Public"]) == ("audio/mpeg", "0")
    assert SECRET not in output


def test_wrong_password_silent_mount_and_dead_port_fail() -> None:
    with pytest.raises(ProbeFailed, match=r"answered 'HTTP/1\.0 401 Authentication Required'") as refused:
        asyncio.run(against(Icecast(), secret="wrong-secret-1"))
    assert "wrong-secret-1" not in str(refused.value)
    with pytest.raises(ProbeFailed, match="listener got 0 within 2 s"):
        asyncio.run(against(Icecast(relay=False)))
    with pytest.raises(Unreachable):
        asyncio.run(against(None))


def test_the_icecast_role_probes_with_its_source_password_and_never_shows_it() -> None:
    icecast = load_catalog().role("icecast")
    probe = next(p for p in icecast.probes if p.kind is ProbeKind.STREAM)
    assert probe.password_setting == "source_password"
    assert icecast.selinux.port_labels[0].type == "soundd_port_t"
    result = asyncio.run(run_probe(icecast, probe, {"port": 1, "source_password": SECRET}, LocalConnector(), retry=0))
    assert result.ok is False and SECRET not in result.output


def test_schema_names_a_probe_secret_only_by_password_setting() -> None:
    icecast = load_catalog().role("icecast")
    data: dict[str, Any] = icecast.model_dump(mode="json", exclude_defaults=True)
    stream = next(p for p in data["probes"] if p["kind"] == "stream")
    for bad, reason in [
        ({**stream, "password_setting": "hostname"}, "is not a secret setting"),
        ({**stream, "password_setting": "nothing"}, "is an unknown setting"),
        ({**stream, "path": "/{source_password}"}, "uses secret setting 'source_password'"),
    ]:
        with pytest.raises(ValueError, match=reason):
            type(icecast).model_validate({**data, "probes": [bad]})
    without = {k: v for k, v in stream.items() if k != "password_setting"}
    with pytest.raises(ValueError, match="a stream probe needs password_setting"):
        type(icecast).model_validate({**data, "probes": [without]})
