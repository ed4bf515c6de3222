"""Lab hosts for pytest: a fixture factory the project's end-to-end tests share.

Usage in a conftest.py::

    from fossp.lab.testing import lab_fixture
    web_hosts = lab_fixture("e2e-web1", "e2e-web2")   # session-scoped by default

    @pytest.mark.lab
    def test_something(web_hosts):
        result = ssh(web_hosts[0], "systemctl", "is-active", "ssh")

The hosts come up once per session (concurrently) and are removed at its end, even
when tests fail. Tests skip, naming why, where the lab cannot run (not root, tools
missing); on CI (root, scripts/setup.d/lab.sh run) they always run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fossp.lab.hosts import LabHost, down, up
from fossp.lab.system import TOOL_PACKAGES


def unavailable_reason() -> str | None:
    """Why lab hosts cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "lab hosts need root"
    missing = sorted(tool for tool in TOOL_PACKAGES if shutil.which(tool) is None)
    if missing:
        return f"lab tools missing ({', '.join(missing)}): run scripts/setup.d/lab.sh"
    return None


@contextmanager
def lab_hosts(*names: str, packages: tuple[str, ...] = ()) -> Iterator[list[LabHost]]:
    """Bring up ``names`` for the duration of the block, then remove them."""
    try:
        yield up(list(names), list(packages))
    finally:
        down(list(names))


def lab_fixture(*names: str, packages: tuple[str, ...] = (), scope: Any = "session") -> Any:
    """A pytest fixture giving ``list[LabHost]`` for ``names`` (skips if the lab can't run)."""
    import pytest

    @pytest.fixture(scope=scope)
    def fixture() -> Iterator[list[LabHost]]:
        reason = unavailable_reason()
        if reason:
            pytest.skip(reason)
        with lab_hosts(*names, packages=packages) as hosts:
            yield hosts

    return fixture


def ssh(host: LabHost, *command: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on ``host`` over SSH (host key verified); raise on failure if ``check``."""
    result = subprocess.run(host.ssh_command(*command), capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"on {host.name}: {' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result


__all__ = ["LabHost", "lab_fixture", "lab_hosts", "ssh", "unavailable_reason"]
