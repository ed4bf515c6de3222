"""The planner as data: given these recorded facts and roles, expect these operations."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from fossp.catalog import Catalog
from fossp.engine.operations import OpKind
from fossp.engine.planner import plan_host, wanted_roles
from fossp.engine.state import parse_state
from fossp.errors import BadInput
from fossp.hosts.connector import HostError

from .conftest import FIXTURES, plan_lines, recorded

SCENARIOS = yaml.safe_load((FIXTURES / "plans.yaml").read_text())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_plan_matches_recorded_expectation(catalog: Catalog, scenario: dict[str, Any]) -> None:
    facts = recorded(scenario["facts"])
    wanted = wanted_roles(catalog, list(scenario["roles"].items()), {}, "test")
    assert plan_lines(plan_host(facts, wanted, parse_state(facts))) == scenario["expect"]


def test_every_operation_says_why(catalog: Catalog) -> None:
    facts = recorded("fedora40-installed")
    wanted = wanted_roles(catalog, [("postgresql", {}), ("nginx", {}), ("bind", {})], {}, "test")
    for op in plan_host(facts, wanted, parse_state(facts)).operations:
        assert op.reason.strip(), op


def test_fedora_plan_uses_fedora_names(catalog: Catalog) -> None:
    """Package names, firewalld services and SELinux booleans come from the Fedora side."""
    facts = recorded("fedora40-bare")
    plan = plan_host(facts, wanted_roles(catalog, [("bind", {})], {}, "test"), parse_state(facts))
    changes = {op.kind: op for op in plan.changes}
    assert changes[OpKind.PACKAGES].commands == [["dnf", "-y", "-q", "install", "bind", "bind-utils"]]
    assert changes[OpKind.FIREWALL].commands == [
        ["firewall-cmd", "--add-service=dns"],
        ["firewall-cmd", "--permanent", "--add-service=dns"],
    ]
    assert changes[OpKind.SELINUX_BOOLEAN].commands == [["setsebool", "-P", "named_write_master_zones", "on"]]
    assert changes[OpKind.SELINUX_BOOLEAN].undo == [["setsebool", "-P", "named_write_master_zones", "off"]]


def test_augeas_edit_keeps_the_distribution_file(catalog: Catalog) -> None:
    """pg_hba.conf gains one line; its comments and the existing lines stay as they were."""
    facts = recorded("fedora40-installed")
    plan = plan_host(
        facts, wanted_roles(catalog, [("postgresql", {"allowed_network": "10.0.0.0/8"})], {}, "t"), parse_state(facts)
    )
    hba = next(op for op in plan.changes if op.target.endswith("pg_hba.conf"))
    before = facts.files["/var/lib/pgsql/data/pg_hba.conf"].content or b""
    assert hba.content is not None and hba.content.startswith(before)
    assert hba.content[len(before) :].split() == [b"host", b"fossp", b"all", b"10.0.0.0/8", b"scram-sha-256"]
    assert hba.owner == "postgres:postgres" and hba.mode == "600"


def test_host_variables_override_settings(catalog: Catalog) -> None:
    facts = recorded("fedora40-installed")
    wanted = wanted_roles(catalog, [("nginx", {"http_port": 8080})], {"nginx_http_port": 8081}, "test")
    assert wanted[0].settings["http_port"] == 8081
    targets = [op.target for op in plan_host(facts, wanted, parse_state(facts)).changes]
    assert "port 8081/tcp" in targets


def test_bad_setting_is_refused_before_any_plan(catalog: Catalog) -> None:
    with pytest.raises(BadInput, match="http_port"):
        wanted_roles(catalog, [("nginx", {"http_port": 70000})], {}, "test")


def test_unknown_family_is_a_host_error(catalog: Catalog) -> None:
    facts = recorded("fedora40-bare").model_copy(
        update={"os": recorded("fedora40-bare").os.model_copy(update={"family": None, "id": "plan9"})}
    )
    with pytest.raises(HostError, match="plan9"):
        plan_host(facts, wanted_roles(catalog, [("nginx", {})], {}, "t"), parse_state(facts))


def test_fedora_named_listens_beyond_localhost_and_includes_the_zones(catalog: Catalog) -> None:
    facts = recorded("fedora40-installed")
    plan = plan_host(facts, wanted_roles(catalog, [("bind", {})], {}, "t"), parse_state(facts))
    named = next(op for op in plan.changes if op.target == "/etc/named.conf")
    assert named.diff is not None
    changed = [line for line in named.diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        "-\tlisten-on port 53 { 127.0.0.1; };",
        "+\tlisten-on port 53 { any; };",
        '+include "/etc/named/fossp-zones.conf";',
    ]
    assert named.owner == "root:named" and named.mode == "640"


def test_roles_that_cannot_share_a_host_are_refused(catalog: Catalog) -> None:
    with pytest.raises(BadInput, match="cannot share a host: both listen on 80/tcp"):
        wanted_roles(catalog, [("nginx", {}), ("httpd", {})], {}, "profile")
    assert len(wanted_roles(catalog, [("nginx", {}), ("httpd", {"http_port": 8080})], {}, "profile")) == 2


def test_a_role_clashing_with_one_deployed_before_is_refused(catalog: Catalog) -> None:
    facts = recorded("debian12-deployed")  # nginx runs there on port 80
    with pytest.raises(BadInput, match="FOSSP-WDSHT and FOSSP-WDSNG cannot share a host"):
        plan_host(facts, wanted_roles(catalog, [("httpd", {})], {}, "t"), parse_state(facts))


def test_data_gets_its_own_subvolume_on_a_btrfs_root_only(catalog: Catalog) -> None:
    """Before PostgreSQL's packages fill them, its data folders become subvolumes (a system
    restore then keeps them); on ext4 the plan says there is no such protection."""
    wanted = wanted_roles(catalog, [("postgresql", {})], {}, "test")
    facts = recorded("debian12-bare")
    operations = plan_host(facts, wanted, parse_state(facts)).operations
    subvolumes = [op for op in operations if op.kind is OpKind.SUBVOLUME]
    assert [op.target for op in subvolumes] == ["/var/lib/postgresql", "/var/log/postgresql"]
    assert operations.index(subvolumes[-1]) < next(i for i, op in enumerate(operations) if op.kind is OpKind.PACKAGES)
    assert subvolumes[0].commands[-1] == ["btrfs", "subvolume", "create", "--", "/var/lib/postgresql"]
    assert "system restore keeps it" in subvolumes[0].reason

    ext4 = facts.model_copy(update={"root_fs": "ext4"})
    [note] = [op for op in plan_host(ext4, wanted, parse_state(ext4)).operations if op.kind is OpKind.SUBVOLUME]
    assert not note.change and "not BTRFS" in note.reason and "ledger" in note.reason


def test_a_data_subvolume_gets_the_mode_and_owner_its_package_ships(catalog: Catalog) -> None:
    """A run killed between making apache2's log subvolume and its chmod is finished by the next plan."""
    from fossp.hosts.facts import FileFact

    facts = recorded("debian12-bare")
    logs = FileFact(path="/var/log/apache2", kind="dir", mode="755", owner="root", group="root", inode=256)
    facts = facts.model_copy(update={"files": {**facts.files, logs.path: logs}})
    wanted = wanted_roles(catalog, [("httpd", {})], {}, "test")
    [op] = [op for op in plan_host(facts, wanted, parse_state(facts)).operations if op.kind is OpKind.SUBVOLUME]
    assert op.change and op.commands == [
        ["chmod", "750", "--", "/var/log/apache2"],
        ["chown", "root:adm", "--", "/var/log/apache2"],
    ]
    settled = logs.model_copy(update={"mode": "750", "group": "adm"})
    facts = facts.model_copy(update={"files": {**facts.files, logs.path: settled}})
    [op] = [op for op in plan_host(facts, wanted, parse_state(facts)).operations if op.kind is OpKind.SUBVOLUME]
    assert not op.change


def test_a_host_the_run_places_no_role_on_gets_an_empty_plan() -> None:
    """A multi-host run can place every role elsewhere: no operation, not even os-release."""
    facts = recorded("debian12-bare")
    assert plan_host(facts, [], parse_state(facts)).operations == []
