"""A host an installer made finishes the profile at its first boot, for real.

`fossp build kickstart --fossp-source URL` puts a %post in the kickstart that installs FOSSP
from a wheelhouse over HTTP and enables fossp-firstboot.service with the profile (settings
included). No Fedora installer or mirror runs here, so the installer's part is played on a
Debian lab host: %packages by apt-get (FOSSP's own needs: Python's venv and the Augeas
binding), then the kickstart's %post exactly as pykickstart reads it from the file, run by
sh as Anaconda runs it in the installed system. The host then restarts, and its first
boot must deploy the profile from the host itself: PostgreSQL's database made, nginx on the
profile's port, both probes passing from the controller, the unit gone after.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.build.firstboot import HOST_PACKAGES
from fossp.catalog import Family
from fossp.lab import LabHost
from fossp.lab.hosts import restart
from fossp.lab.network import CONTROLLER_ADDRESS
from fossp.lab.testing import lab_fixture, ssh, unavailable_reason
from tests.e2e.conftest import fossp_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
ks_hosts = lab_fixture("ks-a", packages=HOST_PACKAGES[Family.DEBIAN], scope="module")
PROFILE = {
    "fossp_profile": 1,
    "roles": [
        {"id": "FOSSP-DASPO", "settings": {"database": "shop"}},
        {"id": "FOSSP-WDSNG", "settings": {"http_port": 8080}},
    ],
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        return


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`fossp build wheels`, served on the lab network as a site would serve it."""
    folder = tmp_path_factory.mktemp("wheels")
    built = fossp_json("build", "wheels", "-o", str(folder), timeout=1200)
    assert any(name.startswith("fossp-") for name in built["wheels"]), built
    server = http.server.ThreadingHTTPServer((CONTROLLER_ADDRESS, 0), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{CONTROLLER_ADDRESS}:{server.server_address[1]}/"
    finally:
        server.shutdown()


def _post(kickstart: str) -> str:
    """The %post scripts as pykickstart reads them from the file, in order."""
    from pykickstart.constants import KS_SCRIPT_POST
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion

    parser = KickstartParser(makeVersion())
    parser.readKickstartFromString(kickstart)
    return "\n".join(script.script for script in parser.handler.scripts if script.type == KS_SCRIPT_POST)


def _first_boot_done(host: LabHost, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ssh(host, "test", "-e", "/var/lib/fossp/firstboot/done.yaml", check=False).returncode == 0:
            return json.loads(ssh(host, "cat", "/var/lib/fossp/firstboot/record.json").stdout)
        state = ssh(host, "systemctl", "is-failed", "fossp-firstboot.service", check=False).stdout.strip()
        assert state != "failed", ssh(host, "journalctl", "-u", "fossp-firstboot", "--no-pager", check=False).stdout
        time.sleep(3)
    raise AssertionError(f"the first boot did not finish within {timeout} s")


def test_a_kickstarts_post_makes_the_first_boot_deploy_the_profile(
    ks_hosts: list[LabHost], wheelhouse: str, tmp_path: Path
) -> None:
    [host] = ks_hosts
    profile, output = tmp_path / "site.yaml", tmp_path / "site.ks"
    profile.write_text(yaml.safe_dump(PROFILE))
    made = ["build", "kickstart", "--profile", str(profile), "-o", str(output), "--fossp-source", wheelhouse]
    assert fossp_json(*made)["first_boot"] is True
    ssh(host, "apt-get", "update", "-q", timeout=300)  # the %packages, from the lab's repository
    ssh(host, "apt-get", "install", "-y", "-q", *HOST_PACKAGES[Family.DEBIAN], timeout=600)
    post = _post(output.read_text())
    ran = subprocess.run(host.ssh_command("sh", "-e"), input=post, capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ssh(host, "stat", "-c", "%a", "/var/lib/fossp/firstboot/profile.yaml").stdout.strip() == "600"
    restart([host.name])
    record = _first_boot_done(host)
    [outcome] = record["hosts"]
    assert outcome["states"] == {"FOSSP-DASPO": "running", "FOSSP-WDSNG": "running"}, outcome
    assert ssh(host, "systemctl", "cat", "fossp-firstboot.service", check=False).returncode != 0  # removed itself
    listed = ssh(host, "env", "--chdir=/", "runuser", "-u", "postgres", "--", "psql", "-Atc", "SELECT 1", "shop")
    assert listed.stdout.strip() == "1"
    with urllib.request.urlopen(f"http://{host.address}:8080/", timeout=30) as page:  # the profile's port
        assert page.status == 200
    status = fossp_json("status", "--target", host.target)
    probes = sorted((p["name"], p["ok"]) for h in status["hosts"] for r in h["roles"] for p in r["probes"])
    assert probes == [("http-get", True), ("sql-query", True)]
    assert status["hosts"][0]["fossp"]["roles"] == ["FOSSP-DASPO", "FOSSP-WDSNG"]  # os-release, from the %post
