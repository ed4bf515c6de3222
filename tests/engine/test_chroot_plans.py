"""Plans for an offline Debian root reached through chroot (offline root ``/``), on the
recorded facts of a bare Debian 12 host: the same planner as a live host, minus what
needs a running service."""

from __future__ import annotations

import pytest

from fossp.catalog import Family, load_catalog
from fossp.engine.backends import APT, backend_for
from fossp.engine.operations import Operation, OpKind
from fossp.engine.planner import plan_role, wanted_roles
from fossp.engine.state import HostState
from fossp.errors import BadInput
from fossp.hosts.facts import Facts

from .conftest import recorded


def _chroot(facts: Facts) -> Facts:
    return facts.model_copy(update={"offline_root": "/", "root_fs": "btrfs"})


def _plan(role: str, facts: Facts) -> list[Operation]:
    wanted = wanted_roles(load_catalog(), [(role, {})], {}, "debian12.yaml")[0]
    return plan_role(wanted, facts, HostState(), Family.DEBIAN, backend_for(facts))


def test_a_step_that_needs_the_running_server_is_deferred_to_first_boot() -> None:
    ops = _plan("postgresql", _chroot(recorded("debian12-bare")))
    [deferred] = [op for op in ops if op.kind is OpKind.DEFER]
    assert deferred.target == "create-database" and not deferred.change and not deferred.commands
    assert "first boot" in deferred.reason
    live = _plan("postgresql", recorded("debian12-bare").model_copy(update={"root_fs": "btrfs"}))
    assert [op.target for op in live if op.kind is OpKind.STEP] == ["create-database"]


def test_nothing_is_started_and_paths_are_the_roots_own() -> None:
    ops = _plan("postgresql", _chroot(recorded("debian12-bare")))
    kinds = {op.kind for op in ops}
    assert OpKind.START not in kinds and OpKind.RESTART not in kinds
    [enable] = [op for op in ops if op.kind is OpKind.ENABLE]
    assert enable.commands == [["systemctl", "enable", "postgresql.service"]]  # no --root inside the chroot
    subvolumes = [op for op in ops if op.kind is OpKind.SUBVOLUME and op.change]
    assert [op.target for op in subvolumes] == ["/var/lib/postgresql", "/var/log/postgresql"]
    assert all(arg.startswith("/var") for op in subvolumes for arg in op.commands[-1] if arg.startswith("/"))


def test_apt_works_from_inside_a_root_but_not_from_outside() -> None:
    assert backend_for(_chroot(recorded("debian12-bare"))) is APT
    outside = recorded("debian12-bare").model_copy(update={"offline_root": "/srv/roots/web"})
    with pytest.raises(BadInput, match="use a chroot connection"):
        backend_for(outside)
