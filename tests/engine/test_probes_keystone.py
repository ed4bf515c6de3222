"""The keystone probe against a small local Keystone and service (http.server): a token
for the admin's password, then the service's answer to a request with that token; a
wrong password, a refused token and a dead Keystone each fail, and neither the password
nor the token is ever shown."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine.probes import ProbeFailed, Unreachable, remote_prober
from fossp.engine.probes.keystone import token_request

PASSWORD = "Admin-Secret-42"
TOKEN = "gAAAAA-issued-token"


class Handler(BaseHTTPRequestHandler):
    """POST /v3/auth/tokens issues TOKEN for the admin's password; GET /v2/images lists
    images to TOKEN only (as keystonemiddleware would)."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = self.path == "/v3/auth/tokens" and body == token_request(PASSWORD)
        self.send_response(201 if ok else 401)
        if ok:
            self.send_header("X-Subject-Token", TOKEN)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        ok = self.headers.get("X-Auth-Token") == TOKEN and self.path == "/v2/images"
        payload = b'{"images": [{"name": "fossp-probe"}]}' if ok else b"Authentication required"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(probe: Probe, password: str = PASSWORD) -> str:
    settings = {"admin_password": password}
    return asyncio.run(remote_prober(probe.kind)("127.0.0.1", probe.port or 0, probe, settings, None))


def images(port: int, **fields: Any) -> Probe:
    values: dict[str, Any] = {
        "name": "glance-images",
        "kind": "keystone",
        "port": port,
        "path": "/v2/images",
        "password_setting": "admin_password",
        "expect": "fossp-probe",
        "description": "x",
        **fields,
    }
    return Probe.model_validate(values)


def test_a_token_for_the_password_then_the_services_answer_to_it(port: int) -> None:
    output = run(images(port))
    assert output == (
        f"token from http://127.0.0.1:{port}/v3/auth/tokens; GET http://127.0.0.1:{port}/v2/images: 200 OK, 37 bytes"
    )
    assert PASSWORD not in output and TOKEN not in output


def test_the_token_comes_from_the_auth_port_when_the_service_has_another(port: int) -> None:
    with pytest.raises(Unreachable, match=r"POST http://127.0.0.1:\d+/v3/auth/tokens"):
        run(images(port, auth_port=free_port()))  # no Keystone there
    with pytest.raises(Unreachable, match=r"GET http://127.0.0.1:\d+/v2/images"):
        run(images(free_port(), auth_port=port))  # Keystone answers, the service is down


def test_a_wrong_password_fails_without_being_shown(port: int) -> None:
    with pytest.raises(ProbeFailed, match="answered 401 Unauthorized, wanted 201 with a token") as failed:
        run(images(port), password="Wrong-Secret-42")
    assert "Wrong-Secret-42" not in str(failed.value)


def test_a_service_refusing_the_token_or_lacking_the_text_fails(port: int) -> None:
    with pytest.raises(ProbeFailed, match="answered 401 Unauthorized, wanted 200"):
        run(images(port, path="/v2/other"))
    with pytest.raises(ProbeFailed, match="body lacks 'cirros'"):
        run(images(port, expect="cirros"))


def test_the_schema_wants_the_password_and_keeps_auth_port_to_keystone_probes() -> None:
    with pytest.raises(ValidationError, match="a keystone probe needs password_setting"):
        images(5000, password_setting=None)
    with pytest.raises(ValidationError, match="auth_port applies only to keystone probes"):
        Probe(name="web", kind=ProbeKind.HTTP, port=80, auth_port=5000, description="x")
