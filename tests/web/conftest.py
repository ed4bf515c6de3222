"""What the web console's tests share: an app over a fresh database and folder, signed-in
API clients, and a real SSH server (asyncssh) whose host key a test can confirm."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fossp.gate.db import open_database
from fossp.gate.service import GateService

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def web_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The console over a new SQLite database, its folder in tmp_path, with an administrator
    (ada), an operator (otto) and a viewer (vic)."""
    from fossp.web.app import create_app

    monkeypatch.setenv("FOSSP_WEB_DIR", str(tmp_path / "web"))
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    gate = GateService(open_database(url))
    gate.add_user(None, "ada", "admin", PASSWORD, "administrator")
    gate.add_user("ada", "otto", "member", PASSWORD, "operator")
    gate.add_user("ada", "vic", "member", PASSWORD, "viewer")
    return create_app(url)


@pytest.fixture
def signed_in(web_app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    """A client signed in as the named user, sending its CSRF token with every request."""
    clients: list[TestClient] = []

    def client(name: str = "ada") -> TestClient:
        api = TestClient(web_app)
        answer = api.post("/api/v1/session", json={"name": name, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        api.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        clients.append(api)
        return api

    yield client
    for api in clients:
        api.close()


@dataclass
class SshServer:
    port: int
    fingerprint: str


@pytest.fixture
def ssh_server(tmp_path: Path) -> Iterator[SshServer]:
    """A real SSH server on a free port that lets nobody log in (its key is what is tested)."""
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        holder["server"] = await asyncssh.create_server(
            asyncssh.SSHServer, "127.0.0.1", port, server_host_keys=[key], authorized_client_keys=None
        )
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
    started.wait(10)
    yield SshServer(port, key.get_fingerprint("sha256"))
    loop.call_soon_threadsafe(holder["server"].close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
