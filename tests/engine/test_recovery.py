"""Recovery as data: what an install dry run predicts, how an unfinished run and a busy
or interrupted package manager are read from facts and named."""

from __future__ import annotations

import os
import socket

from fossp.engine.backends import APT, parse_dnf_transaction
from fossp.engine.recovery import interrupted_note, run_is_live
from fossp.engine.state import HostState, Run
from fossp.hosts.facts import Facts, parse_package_managers, parse_unsettled
from fossp.hosts.timeouts import Timeouts

APT_DRY_RUN = """\
NOTE: This is only a simulation!
Inst libpq5 (15.14-0+deb12u1 Debian:12.12/stable [amd64])
Inst libc6 [2.36-9+deb12u9] (2.36-9+deb12u10 Debian:12.12/stable [amd64])
Inst postgresql-15 (15.14-0+deb12u1 Debian:12.12/stable [amd64])
Conf libpq5 (15.14-0+deb12u1 Debian:12.12/stable [amd64])
"""

DNF_DRY_RUN = """\
Dependencies resolved.
================================================================================
 Package                Architecture Version                  Repository   Size
================================================================================
Installing:
 nginx                  noarch       1.26.0-1.fc40            local       6.5 k
Installing dependencies:
 nginx-filesystem       noarch       1.26.0-1.fc40            local       6.0 k
 a-package-with-a-name-too-long-for-its-column
                        x86_64       1.0-1.fc40               local       1.0 k
Upgrading:
 glibc                  x86_64       2.39-9.fc40              local       2.0 M

Transaction Summary
================================================================================
Install  3 Packages
"""


def test_an_install_dry_run_names_the_new_packages_not_the_upgraded_ones() -> None:
    assert APT.predicted(APT_DRY_RUN) == ["libpq5", "postgresql-15"]
    assert parse_dnf_transaction(DNF_DRY_RUN) == [
        "a-package-with-a-name-too-long-for-its-column",
        "nginx",
        "nginx-filesystem",
    ]


def test_half_installed_packages_and_running_package_managers_are_read() -> None:
    packages = "ii  bash 5.2\niU  postgresql-15 15.14\nrc  old-thing 1.0\niF  libpq5 15.14\n"
    assert parse_unsettled(packages) == ["postgresql-15", "libpq5"]
    assert parse_package_managers("3519 apt-get\n3528 dpkg\nbogus\n") == [(3519, "apt-get"), (3528, "dpkg")]


def _state(run: Run | None) -> HostState:
    return HostState(run=run)


def test_a_run_that_did_not_end_is_named_with_where_it_stopped() -> None:
    run = Run(id="r1", command="deploy", roles=["FOSSP-DASPO"], operation="install-packages postgresql")
    facts = Facts(host="h", lock_owner=f"{socket.gethostname()} 999999999 2026-12-01T00:00:00+00:00")
    notes = interrupted_note(facts, _state(run), Timeouts())
    assert len(notes) == 1 and "run r1 (deploy from" in notes[0] and "at install-packages postgresql" in notes[0]
    assert "did not end" in notes[0] and not run_is_live(_state(run), facts)


def test_a_run_that_holds_a_live_lock_is_in_progress_not_interrupted() -> None:
    run = Run(id="r2", command="deploy")
    facts = Facts(host="h", lock_owner=f"{socket.gethostname()} {os.getpid()} 2026-12-01T00:00:00+00:00")
    assert run_is_live(_state(run), facts)
    assert interrupted_note(facts, _state(run), Timeouts())[0].endswith("in progress (lock: " + facts.lock_owner + ")")


def test_a_busy_or_interrupted_package_manager_is_named() -> None:
    facts = Facts(host="h", package_managers=[(42, "apt-get")], dpkg_interrupted=True)
    notes = interrupted_note(facts, _state(None), Timeouts(package_wait=90))
    assert notes == [
        "apt-get (pid 42) is running on the host; FOSSP waits up to 90 s for it",
        "dpkg was interrupted on the host: FOSSP runs `dpkg --configure -a` before any package work",
    ]
