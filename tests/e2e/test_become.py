"""A non-root SSH user deploys through `sudo -n` when the inventory says become; without
it the same deploy fails on the host, naming the refused change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.lab import LabHost
from fossp.lab.testing import ssh, unavailable_reason
from tests.conftest import run_fossp

from .conftest import fossp_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
USER = "deployer"
SETUP = (
    f"useradd -m {USER} && install -d -o {USER} -m 700 /home/{USER}/.ssh"
    f" && install -o {USER} -m 600 /root/.ssh/authorized_keys /home/{USER}/.ssh/"
    f" && echo '{USER} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{USER}"
)


@pytest.fixture
def sudoer(become_hosts: list[LabHost]) -> Iterator[LabHost]:
    """A user that logs in with the lab key and may run anything through sudo, then gone."""
    host = become_hosts[0]
    ssh(host, "apt-get", "update", "-q")  # the lab repository may have grown since the host booted
    ssh(host, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q", "install", "sudo")
    ssh(host, "sh", "-c", SETUP)
    try:
        yield host
    finally:
        ssh(host, "sh", "-c", f"rm -f /etc/sudoers.d/{USER}; userdel -r {USER}", check=False)
        # sudo's prerm refuses while root has no password, unless told to go ahead
        ssh(
            host,
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "SUDO_FORCE_REMOVE=yes",
            "apt-get",
            "-y",
            "-q",
            "purge",
            "sudo",
        )


def _inventory(host: LabHost, folder: Path, become: bool) -> str:
    path = folder / f"become-{become}.yaml"
    path.write_text(
        f"fossp_inventory: 1\nhosts:\n  {host.name}: {{address: {host.address}, user: {USER}, key: {host.key_path},"
        f" known_hosts: {host.known_hosts_path}, become: {str(become).lower()}}}\n"
    )
    return str(path)


def test_become_deploys_as_root_through_sudo(sudoer: LabHost, tmp_path: Path) -> None:
    host = sudoer
    refused = run_fossp("deploy", "tftp", "-i", _inventory(host, tmp_path, False), "-t", host.name, "--json")
    assert (
        refused.returncode == 1 and "Permission denied" in refused.stdout and "holds the lock" not in refused.stdout
    ), refused.stdout
    inventory = _inventory(host, tmp_path, True)
    deployed = fossp_json("deploy", "tftp", "-i", inventory, "-t", host.name)["hosts"][0]
    assert deployed["ok"] and deployed["states"] == {"FOSSP-NESTF": "running"}, deployed
    assert fossp_json("decommission", "--yes", "-i", inventory, "-t", host.name)["hosts"][0]["roles"] == ["FOSSP-NESTF"]
