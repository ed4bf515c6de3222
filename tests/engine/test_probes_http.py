"""The HTTP(S) probe (httpx) against a real local http.server: status, body, redirects,
and TLS verified against a CA file read through the run's connector, for a server name."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fossp.catalog.schema import Probe, ProbeKind
from fossp.engine.probes import ProbeFailed, Unreachable, remote_prober
from fossp.hosts.connector import LocalConnector


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/old":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.end_headers()
            return
        found = self.path == "/ok"
        body = f"hello from {self.headers.get('Host')}".encode() if found else b"missing"
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for DNS name ``name`` only (not the address), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _serve(server: ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def plain() -> Iterator[int]:
    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = certificate(tmp_path, "probe.test")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for port in _serve(server):
        yield port, cert


def run(port: int, **fields: Any) -> str:
    probe = Probe(name="h", kind=ProbeKind.HTTP, port=port, description="t", **fields)
    return asyncio.run(remote_prober(ProbeKind.HTTP)("127.0.0.1", port, probe, {"page": "ok"}, LocalConnector()))


def test_status_and_body(plain: int) -> None:
    assert "200 OK" in run(plain, path="/{page}", expect="hello")
    with pytest.raises(ProbeFailed, match="answered 404 Not Found, wanted 200"):
        run(plain, path="/nothing")
    assert "404" in run(plain, path="/nothing", status=404)
    with pytest.raises(ProbeFailed, match="body lacks 'goodbye'"):
        run(plain, path="/ok", expect="goodbye")


def test_redirects_followed_only_when_asked(plain: int) -> None:
    with pytest.raises(ProbeFailed, match="302"):
        run(plain, path="/old")
    assert "after 1 redirect(s)" in run(plain, path="/old", follow_redirects=True, expect="hello")


def closed_port() -> int:
    """A loopback port that nothing listens on."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return int(unused.getsockname()[1])


def test_a_dead_port_is_unreachable() -> None:
    with pytest.raises(Unreachable) as caught:
        run(closed_port(), timeout=1)
    assert isinstance(caught.value, OSError)


def test_tls_verified_against_the_hosts_ca_file_for_the_server_name(secure: tuple[int, Path]) -> None:
    port, cert = secure
    output = run(port, tls=True, ca=str(cert), server_name="probe.test", path="/ok", expect="hello from probe.test")
    assert output.startswith(f"GET https://127.0.0.1:{port}/ok: 200 OK")


def test_tls_fails_on_the_wrong_name_an_unknown_ca_or_a_missing_file(secure: tuple[int, Path], tmp_path: Path) -> None:
    port, cert = secure
    with pytest.raises(ProbeFailed, match="TLS handshake failed"):
        run(port, tls=True, ca=str(cert), path="/ok")  # the certificate does not name 127.0.0.1
    with pytest.raises(ProbeFailed, match="TLS handshake failed"):
        run(port, tls=True, server_name="probe.test", path="/ok")  # the system store does not know it
    with pytest.raises(ProbeFailed, match="cannot read the CA file"):
        run(port, tls=True, ca=str(tmp_path / "absent.pem"), server_name="probe.test")
    with pytest.raises(ProbeFailed):
        run(port, path="/ok")  # plain HTTP to a TLS port


def test_schema_takes_tls_fields_only_where_they_mean_something() -> None:
    with pytest.raises(ValueError, match="ca and server_name need tls or starttls"):
        Probe(name="h", kind=ProbeKind.HTTP, port=443, description="t", ca="/etc/ssl/ca.pem")
    with pytest.raises(ValueError, match="follow_redirects applies only to http"):
        Probe(name="d", kind=ProbeKind.DNS, port=53, query="x", description="t", follow_redirects=True)
