"""`fossp platform check --target`: the same facts script and checks, on a real lab host over SSH."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fossp.lab.testing import lab_fixture
from tests.conftest import run_fossp

platform_host = lab_fixture("t-plat")


@pytest.mark.lab
def test_a_lab_host_has_systemd_and_a_btrfs_root(platform_host: Any) -> None:
    (host,) = platform_host
    done = run_fossp("platform", "check", "--target", f"lab:{host.name}", "--json")
    report = json.loads(done.stdout)["hosts"][0]
    outcomes = {c["component"]: c["outcome"] for c in report["components"]}
    assert (outcomes["systemd"], outcomes["openssh"]) == ("pass", "pass")
    # a BTRFS root, its data folders inside it until `fossp platform apply` makes them subvolumes
    assert outcomes["btrfs"] == "warn"
    # a lab host is a namespace host: its kernel, initramfs and SELinux are the controller's
    assert (outcomes["kernel"], outcomes["dracut"], outcomes["selinux"]) == ("skip", "skip", "skip")
    assert outcomes["dnf"] == "skip"  # the Debian family installs packages with apt
    assert done.returncode == 1


def test_an_unreachable_host_is_an_error_for_that_host() -> None:
    done = run_fossp("platform", "check", "--target", "127.0.0.1:9", "--json")
    report = json.loads(done.stdout)["hosts"][0]
    assert report["ok"] is False and report["error"]
    assert done.returncode == 1
