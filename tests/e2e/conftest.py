"""Lab hosts for the end-to-end tests (booted once per session, removed at its end), and
what the tests share: fossp's JSON output and a host's packages and /etc."""

from __future__ import annotations

import json
from typing import Any

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh
from tests.conftest import run_fossp

MORE_ROLES = ("tftp", "mariadb", "httpd", "haproxy")


def director_packages() -> tuple[str, ...]:
    """What a Bacula director's host installs (the bacula role's director part, from the
    catalog, with its catalog's PostgreSQL), for the lab's package repository."""
    from fossp.catalog import Family, load_catalog

    return ("postgresql", *load_catalog().role("bacula").packages_for(Family.DEBIAN, "director"))


engine_hosts = lab_fixture("e2e-a", "e2e-b")
more_hosts = lab_fixture("e2e-c", packages=(*role_packages(list(MORE_ROLES)), "slapd", "sudo"))
become_hosts = lab_fixture("e2e-s", packages=("sudo",))
kea_hosts = lab_fixture("e2e-k", packages=tuple(role_packages(["tftp", "kea"])))
fault_hosts = lab_fixture("e2e-f1", "e2e-f2")


def fossp_json(*args: str, expect: int = 0, timeout: float = 600) -> Any:
    """fossp's JSON output, the exit code checked; a first deploy installs packages for
    minutes on a loaded 2-core machine, hence the long default ``timeout``."""
    result = run_fossp(*args, "--json", timeout=timeout)
    assert result.returncode == expect, (
        f"fossp {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return json.loads(result.stdout)


def snapshot(host: LabHost) -> tuple[list[str], list[str]]:
    """Installed packages and every path under /etc."""
    packages = ssh(host, "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package}\\n").stdout.splitlines()
    etc = ssh(host, "find", "/etc").stdout.splitlines()
    return sorted(line for line in packages if line.startswith("ii")), sorted(etc)
