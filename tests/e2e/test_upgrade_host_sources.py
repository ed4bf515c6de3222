"""A host upgraded from its own apt sources, as any server outside the lab would be.

The lab host gets Debian's real sources (deb.debian.org, bookworm and its security
suite) and reaches them through a small forwarding proxy on the controller (lab hosts have
no route out; the proxy is that route, nothing more). `fossp upgrade run --host-sources`
must then rename the suites to trixie in the host's own file, let apt on the host fetch
everything, upgrade, reboot and verify: the path every non-lab host takes.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from fossp.lab import LabHost
from fossp.lab.network import CONTROLLER_ADDRESS
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason

from .test_upgrade import _release, fossp

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
source_hosts = lab_fixture("up-d")
MIRRORS = ("http://deb.debian.org/",)
DEBIAN_SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


class _Forward(http.server.BaseHTTPRequestHandler):
    """GET http://deb.debian.org/... on behalf of a lab host; anything else is refused."""

    def do_GET(self) -> None:
        if not self.path.startswith(MIRRORS):
            self.send_error(403, "only Debian's archive")
            return
        try:
            with urllib.request.urlopen(self.path, timeout=120) as upstream:
                self.send_response(upstream.status)
                for header in ("Content-Length", "Content-Type", "Last-Modified"):
                    if upstream.headers.get(header):
                        self.send_header(header, upstream.headers[header])
                self.end_headers()
                shutil.copyfileobj(upstream, self.wfile)
        except urllib.error.HTTPError as error:
            self.send_error(error.code)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def archive_proxy(source_hosts: list[LabHost]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer((CONTROLLER_ADDRESS, 0), _Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{CONTROLLER_ADDRESS}:{server.server_address[1]}/"
    finally:
        server.shutdown()


def test_a_host_is_upgraded_from_its_own_sources(source_hosts: list[LabHost], archive_proxy: str) -> None:
    [host] = source_hosts
    fossp("deploy", "nginx", "--target", host.target)
    ssh(host, "rm", "-f", "/etc/apt/sources.list.d/fossp-lab.list")
    ssh(host, "sh", "-c", f"printf '%s' '{DEBIAN_SOURCES}' > /etc/apt/sources.list.d/debian.sources")
    proxy = f'Acquire::http::Proxy "{archive_proxy}";\n'
    ssh(host, "sh", "-c", f"printf '%s' '{proxy}' > /etc/apt/apt.conf.d/90fossp-test-proxy")
    ssh(host, "apt-get", "update", "-q", timeout=600)

    result = fossp("upgrade", "run", "--to", "13", "--host-sources", "--yes", "--no-config-check", "-t", host.target)
    [outcome] = result["hosts"]
    assert outcome["status"] == "upgraded", outcome["failure"]
    assert _release(host).startswith("13")
    sources = ssh(host, "cat", "/etc/apt/sources.list.d/debian.sources").stdout
    assert "Suites: trixie trixie-updates" in sources and "Suites: trixie-security" in sources
    assert "bookworm" not in sources
    lab_sources = ssh(host, "grep", "-rl", "fossp-suites", "/etc/apt", check=False).stdout
    assert lab_sources == ""  # nothing came from the lab's copies
    assert outcome["probes"] and all(p["ok"] for p in outcome["probes"])
