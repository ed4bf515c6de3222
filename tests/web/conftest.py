"""A served console and a real headless Chromium (Debian's, no downloaded browser); for
the API tests an app over a fresh database and folder, signed-in clients, and a real SSH
server (asyncssh) whose host key a test can confirm.

Screenshots go to FOSSP_ARTIFACTS (default build/artifacts) under screenshots/.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fossp.gate.db import open_database
from fossp.gate.service import GateService

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
# name -> (gate role, operations right)
ACCOUNTS = {
    "lia": ("liaison", "viewer"),
    "mem": ("member", "viewer"),
    "mai": ("maintainer", "viewer"),
    "ann": ("maintainer", "viewer"),
    "vic": ("viewer", "viewer"),
    "opr": ("viewer", "operator"),
    "adm": ("admin", "administrator"),
}
SignIn = Callable[..., "Page"]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _sample(gate: GateService) -> None:
    """One application at its first gate with a deliverable, a review and an open action."""
    app = gate.propose("mai", "Sample DB", "PostgreSQL as the database role", ["postgresql"])["id"]
    gate.deliver("mai", app, "proposal", "https://wiki.example/sample-db")
    gate.review("mem", app, "recycle", "The proposal needs a backup plan.")
    gate.open_action("lia", app, "Describe the backup plan", "mai", date(2030, 1, 1))


@pytest.fixture(scope="module")
def gate_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database the module's server uses (tests may change it behind the server)."""
    return f"sqlite:///{tmp_path_factory.mktemp('web') / 'gate.db'}"


@pytest.fixture(scope="module")
def server(gate_url: str) -> Iterator[str]:
    """uvicorn serving `fossp serve`'s app on a free port, with the accounts above."""
    import uvicorn

    from fossp.web.app import create_app

    url = gate_url
    gate = GateService(open_database(url))
    for name, (role, right) in ACCOUNTS.items():
        gate.add_user(None, name, role, PASSWORD, right)
    _sample(gate)
    port = _free_port()
    config = uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def as_user(browser: Browser, server: str) -> Iterator[SignIn]:
    """``as_user(name, width=1400)``: a page signed in as ``name`` in a fresh browser context."""
    from playwright.sync_api import expect

    contexts = []

    def open_as(name: str, width: int = 1400) -> Page:
        context = browser.new_context(base_url=server, viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#who")).to_contain_text(name)
        return page

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """Keep a full-page screenshot as a test artifact."""
    folder = Path(os.environ.get("FOSSP_ARTIFACTS", ROOT / "build" / "artifacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    return path


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
    port = _free_port()
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
