"""The role platform (`fossp platform apply`) planned on recorded facts: the Debian side's
files, secrets kept private, SSSD left out with its reason until a directory is given, the
units a container cannot run named with theirs; the Fedora side's SELinux enforcing and
firewalld."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fossp.catalog import load_catalog
from fossp.engine.operations import Operation, Plan
from fossp.engine.planner import plan_host, wanted_roles
from fossp.engine.recipe import CONTAINER_MARK
from fossp.engine.state import Change, ChangeKind, HostState, Instance, InstanceState
from fossp.hosts.facts import Facts, FileFact, UnitState

from .conftest import plan_lines, recorded


def _plan(facts: Facts, settings: dict[str, Any] | None = None) -> Plan:
    wanted = wanted_roles(load_catalog(), [("platform", settings or {})], {}, "lab:pa-1")
    return plan_host(facts, wanted, HostState())


def _op(plan: Plan, target: str, kind: str | None = None) -> Operation:
    return next(op for op in plan.operations if op.target == target and kind in (None, op.kind.value))


def _in_container(facts: Facts) -> Facts:
    mark = FileFact(path=CONTAINER_MARK, kind="file", content=b"")
    return facts.model_copy(update={"files": {**facts.files, CONTAINER_MARK: mark}})


def test_debian_gets_its_packages_files_and_private_secrets() -> None:
    plan = _plan(recorded("debian12-bare"))
    lines = plan_lines(plan)
    assert lines[:2] == [
        "+ run-step btrfs-layout",  # before the packages: their logs go into the new /var/log
        "+ install-packages chrony snmpd bacula-fd multipath-tools augeas-tools sssd adcli",
    ]
    for path in (
        "/etc/chrony/chrony.conf",
        "/etc/snmp/snmpd.conf",
        "/etc/bacula/bacula-fd.conf",
        "/etc/multipath.conf",
    ):
        assert f"+ write-file {path}" in lines
    assert "~ write-file /etc/ssh/sshd_config" in lines  # edited once openssh-server has made it
    snmpd = _op(plan, "/etc/snmp/snmpd.conf")
    text = (snmpd.content or b"").decode()
    assert snmpd.mode == "600" and "agentAddress udp:161\n" in text and "rouser fossp priv\n" in text
    user = next(line.split() for line in text.splitlines() if line.startswith("createUser"))
    assert user[:3] == ["createUser", "fossp", "SHA"] and user[4] == "AES" and len(user[3]) == len(user[5]) == 48
    bacula = _op(plan, "/etc/bacula/bacula-fd.conf")
    assert (bacula.mode, bacula.owner) == ("640", "root:bacula")
    assert "Name = fossp-dir\n" in (bacula.content or b"").decode()
    chrony = (_op(plan, "/etc/chrony/chrony.conf").content or b"").decode()
    assert "pool pool.ntp.org iburst\n" in chrony and "driftfile /var/lib/chrony/chrony.drift\n" in chrony
    assert _op(plan, "/etc/chrony/chrony.conf").restarts == ["chrony.service"]


def test_sssd_waits_for_a_directory_and_says_so() -> None:
    plan = _plan(recorded("debian12-bare"))
    assert _op(plan, "/etc/sssd/sssd.conf").reason == "not needed: ldap_uri is off"
    assert _op(plan, "sssd.service").reason == "not needed: ldap_uri is off"
    joined = _plan(
        recorded("debian12-bare"), {"ldap_uri": "ldaps://ds.fossp.test", "ldap_search_base": "dc=fossp,dc=test"}
    )
    sssd = _op(joined, "/etc/sssd/sssd.conf")
    assert sssd.change and sssd.mode == "600" and "ldap_uri = ldaps://ds.fossp.test\n" in (sssd.content or b"").decode()
    assert {op.kind.value for op in joined.operations if op.target == "sssd.service"} == {"enable-unit", "start-unit"}


def test_a_container_leaves_the_clock_and_block_devices_to_its_host() -> None:
    plan = _plan(_in_container(recorded("debian12-bare")))
    chrony = [op for op in plan.operations if op.target == "chrony.service"]
    assert [(op.change, op.reason) for op in chrony] == [
        (False, "cannot run in a container: the clock is the container host's (chronyd needs CAP_SYS_TIME)")
    ]
    assert _op(plan, "multipathd.service").reason.startswith("cannot run in a container")
    assert _op(plan, "/etc/chrony/chrony.conf").restarts == []  # nothing to restart where it cannot run
    assert "~ start-unit snmpd.service" in plan_lines(plan)


def test_the_multipath_record_runs_once_and_is_undone() -> None:
    step = _op(_plan(recorded("debian12-bare")), "multipath-devices")
    assert step.commands[0][:2] == ["sh", "-c"] and step.commands[0][-1] == "/var/lib/fossp/platform/multipath.txt"
    assert step.undo == [["rm", "-f", "/var/lib/fossp/platform/multipath.txt"]]


def test_fedora_enforces_selinux_and_runs_firewalld() -> None:
    plan = _plan(recorded("fedora40-bare"))
    lines = plan_lines(plan)
    assert "+ open-firewall port 161/udp" in lines and "+ open-firewall service bacula-client" in lines
    assert "~ write-file /etc/selinux/config" in lines and "+ enable-unit firewalld.service" in lines
    step = _op(plan, "selinux-enforcing")
    assert step.commands == [["sh", "-c", "if selinuxenabled; then setenforce 1; else touch /.autorelabel; fi"]]
    assert "/etc/chrony.conf" in {op.target for op in plan.operations}


def test_kex_algorithms_are_set_through_the_lens_as_a_list() -> None:
    from fossp.engine.recipe import AugeasEdit, AugeasSet
    from fossp.engine.render import augeas_edit

    edit = AugeasEdit(lens="Sshd.lns", set=[AugeasSet(node="KexAlgorithms", value="{*kex}")])
    current = b"Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n"
    once = augeas_edit(
        "/etc/ssh/sshd_config", current, edit, {"kex": "curve25519-sha256,sntrup761x25519-sha512@openssh.com"}
    )
    assert once.endswith(b"KexAlgorithms curve25519-sha256,sntrup761x25519-sha512@openssh.com\n")
    assert (
        augeas_edit("/etc/ssh/sshd_config", once, edit, {"kex": "curve25519-sha256,sntrup761x25519-sha512@openssh.com"})
        == once
    )
    fewer = augeas_edit("/etc/ssh/sshd_config", once, edit, {"kex": "curve25519-sha256"})
    assert fewer.count(b"KexAlgorithms") == 1 and fewer.endswith(b"KexAlgorithms curve25519-sha256\n")


def test_sshd_settings_go_ahead_of_the_drop_ins_include() -> None:
    """sshd takes the first value it reads: a setting after `Include sshd_config.d/*` loses to
    any drop-in (the lab's sets KexAlgorithms), so it is placed, or moved, ahead of it."""
    from fossp.engine.recipe import AugeasEdit, AugeasSet
    from fossp.engine.render import augeas_edit

    edit = AugeasEdit(
        lens="Sshd.lns",
        set=[
            AugeasSet(node="PermitRootLogin", value="prohibit-password", before="Include"),
            AugeasSet(node="KexAlgorithms", value="{*kex}", before="Include"),
        ],
    )
    values = {"kex": "sntrup761x25519-sha512@openssh.com,curve25519-sha256"}
    late = b"Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nPermitRootLogin yes\nKexAlgorithms curve25519-sha256\n"
    placed = augeas_edit("/etc/ssh/sshd_config", late, edit, values)
    assert placed == (
        b"PermitRootLogin prohibit-password\nKexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256\n"
        b"Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n"
    )
    assert augeas_edit("/etc/ssh/sshd_config", placed, edit, values) == placed


def test_a_deploy_may_include_the_platform_beside_its_roles() -> None:
    wanted = wanted_roles(load_catalog(), [("nginx", {}), ("platform", {})], {}, "lab:pa-1")
    plan = plan_host(recorded("debian12-bare"), wanted, HostState())
    assert plan.roles == ["FOSSP-WDSNG", "FOSSP-PLSPL"]
    assert {op.role for op in plan.operations if op.change} == {"FOSSP-WDSNG", "FOSSP-PLSPL"}


def test_a_recipe_naming_a_unit_the_role_lacks_is_refused() -> None:
    import pytest

    from fossp.catalog.schema import Family
    from fossp.engine.recipe import FamilyRecipe, Recipe, UnitCondition, check_units
    from fossp.errors import BadInput

    typo = FamilyRecipe(conditions=[UnitCondition(unit="chronyd.servce", not_in_container="the clock")])
    with pytest.raises(BadInput, match=r"conditions name chronyd\.servce, which is not a unit of the role"):
        check_units(Recipe(role="platform", families={Family.DEBIAN: typo}), load_catalog().role("platform"), "p.yaml")


def _platform_state(*changes: Change) -> HostState:
    instance = Instance(role_id="FOSSP-PLSPL", role_name="platform", state=InstanceState.RUNNING)
    return HostState(instances={"FOSSP-PLSPL": instance}, ledger=list(changes))


def _started_sshd(packages: list[str]) -> list[Change]:
    """The platform installed ``packages`` and started and enabled sshd (it was off)."""
    unit = [["systemctl", "stop", "ssh.service"]], [["systemctl", "disable", "ssh.service"]]
    return [
        Change(role="FOSSP-PLSPL", kind=ChangeKind.PACKAGES, target=" ".join(packages), packages=packages),
        *(Change(role="FOSSP-PLSPL", kind=ChangeKind.UNIT, target="ssh.service", undo=undo) for undo in unit),
    ]


def test_decommission_leaves_sshd_running_while_openssh_server_stays() -> None:
    """sshd is the way in: where openssh-server stays (it came before FOSSP), undoing the
    platform neither stops nor disables it; where FOSSP installed it and it goes, it stops."""
    from fossp.engine.decommission import plan_decommission

    facts = recorded("debian12-bare")
    stays = plan_decommission(facts, _platform_state(*_started_sshd(["chrony"])), load_catalog(), ["FOSSP-PLSPL"], None)
    sshd = [op for op in stays.operations if op.target == "ssh.service"]
    assert [(op.kind.value, op.change, op.commands) for op in sshd] == [
        ("disable-unit", False, []),
        ("stop-unit", False, []),
    ]
    assert sshd[0].reason == "not disabled: it is the way in to the host, and openssh-server stays installed"
    goes = _started_sshd(["openssh-server"])
    removal = plan_decommission(facts, _platform_state(*goes), load_catalog(), ["FOSSP-PLSPL"], None)
    assert "+ stop-unit ssh.service" in plan_lines(removal)


def test_a_running_sshd_that_stays_reloads_its_restored_configuration() -> None:
    """sshd_config put back as it was: the sshd that stays reads it (reload: sessions stay)."""
    from fossp.engine.decommission import plan_decommission

    facts = recorded("debian12-bare")
    facts.units["ssh.service"] = UnitState(enabled="enabled", active="active")
    back = ["cp", "-p", "--", "/var/lib/fossp/backups/sshd_config", "/etc/ssh/sshd_config"]
    edited = Change(
        role="FOSSP-PLSPL", kind=ChangeKind.FILE, target="/etc/ssh/sshd_config", backup="sshd_config", undo=[back]
    )
    state = _platform_state(*_started_sshd(["chrony"]), edited)
    ops = plan_decommission(facts, state, load_catalog(), ["FOSSP-PLSPL"], None).operations
    reload = [op for op in ops if op.kind.value == "restart-unit"]
    assert [(op.target, op.commands) for op in reload] == [
        ("ssh.service", [["systemctl", "reload-or-restart", "ssh.service"]])
    ]
    assert reload[0].reason == "stays running; reads its restored configuration (/etc/ssh/sshd_config)"
    assert ops.index(reload[0]) > max(i for i, op in enumerate(ops) if op.target == "/etc/ssh/sshd_config")
    facts.units["ssh.service"] = UnitState(enabled="enabled", active="inactive")
    stopped = plan_decommission(facts, state, load_catalog(), ["FOSSP-PLSPL"], None).operations
    assert not [op for op in stopped if op.kind.value == "restart-unit"]


def test_fedora_sets_the_booleans_of_the_roles_already_deployed_as_theirs() -> None:
    """httpd came while SELinux was off (its boolean never set): the platform, turning
    SELinux on, sets httpd's boolean and records it as httpd's change, so decommissioning
    the platform leaves it and decommissioning httpd takes it back."""
    httpd = load_catalog().role("httpd")
    state = _platform_state()
    settings = wanted_roles(load_catalog(), [("httpd", {})], {}, "f")[0].settings
    state.instances = {httpd.id: Instance(role_id=httpd.id, role_name="httpd", settings=settings)}
    plan = plan_host(recorded("fedora40-bare"), wanted_roles(load_catalog(), [("platform", {})], {}, "f"), state)
    boolean = _op(plan, "httpd_can_network_connect")
    assert (boolean.role, boolean.change, boolean.reason) == (httpd.id, True, "is off, the role needs on")
    assert boolean.commands == [["setsebool", "-P", "httpd_can_network_connect", "on"]]
    assert boolean.undo == [["setsebool", "-P", "httpd_can_network_connect", "off"]]
    kinds = [op.target for op in plan.operations]
    assert (
        kinds.index("httpd_can_network_connect") < kinds.index("/etc/selinux/config") < kinds.index("selinux-enforcing")
    )
    assert "~ write-file /etc/selinux/config" in plan_lines(plan)
    # already on: nothing to do; SELinux disabled (Debian): said once
    on = recorded("fedora40-bare")
    on = on.model_copy(
        update={"selinux": on.selinux.model_copy(update={"booleans": {"httpd_can_network_connect": True}})}
    )
    assert not _op(
        plan_host(on, wanted_roles(load_catalog(), [("platform", {})], {}, "f"), state), "httpd_can_network_connect"
    ).change
    debian = plan_host(recorded("debian12-bare"), wanted_roles(load_catalog(), [("platform", {})], {}, "d"), state)
    assert _op(debian, "SELinux").reason == "SELinux is disabled on this host"


def test_the_layout_step_makes_the_subvolumes_the_check_looks_for() -> None:
    """The recipe's btrfs-layout step and `fossp platform check` name the same folders; it
    runs once (its record), and decommission removes the record only: the subvolumes hold data."""
    btrfs = next(c for c in load_catalog().platform if c.key == "btrfs")
    for family in ("debian12-bare", "fedora40-bare"):
        step = _op(_plan(recorded(family)), "btrfs-layout")
        assert step.commands[0][4:] == ["/var/lib/fossp/platform/subvolumes.txt", *btrfs.subvolumes]
        assert step.undo == [["rm", "-f", "/var/lib/fossp/platform/subvolumes.txt"]]
    facts = recorded("debian12-bare")
    record = FileFact(path="/var/lib/fossp/platform/subvolumes.txt", kind="file", content=b"/home: made a subvolume\n")
    done = facts.model_copy(update={"files": {**facts.files, record.path: record}})
    assert not _op(_plan(done), "btrfs-layout").change


def test_fedora_looks_users_up_through_sssd_once_a_directory_is_given() -> None:
    """authselect's default profile (local) leaves SSSD out of nsswitch: with a directory the
    sssd profile is selected, the one before kept for decommission; without, nothing."""
    assert _op(_plan(recorded("fedora40-bare")), "authselect-sssd").reason == "not needed: ldap_uri is off"
    joined = _plan(recorded("fedora40-bare"), {"ldap_uri": "ldap://10.0.0.5", "ldap_search_base": "dc=pl,dc=test"})
    step = _op(joined, "authselect-sssd")
    assert step.change and step.commands[0][-2:] == ["authselect-sssd", "/var/lib/fossp/platform/authselect.txt"]
    assert "authselect select sssd --force" in step.commands[0][2]
    assert step.undo[0][-1] == "/var/lib/fossp/platform/authselect.txt" and "read -r profile" in step.undo[0][2]
    kinds = [op.target for op in joined.operations]
    assert kinds.index("/etc/sssd/sssd.conf") < kinds.index("authselect-sssd") < kinds.index("sssd.service")


AD = {
    "ldap_uri": "ldap://pl-dc.samdom.pl.test",
    "ad_domain": "samdom.pl.test",
    "directory_server": "pl-dc.samdom.pl.test",
    "directory_address": "10.213.0.20",
    "directory_password": "Admin-Secret-42",
}


def test_an_ad_domain_is_joined_with_adcli_then_read_by_the_ad_provider() -> None:
    """The DC's name in /etc/hosts, adcli join with the password on stdin only (once: its
    keytab), then SSSD's ad provider; both undone by decommission (the keytab, the line)."""
    plan = _plan(recorded("debian12-bare"), AD)
    hosts = _op(plan, "dc-address")
    assert hosts.commands[0][-2:] == ["10.213.0.20", "pl-dc.samdom.pl.test"] and hosts.undo[0][-2:] == [
        "10.213.0.20",
        "pl-dc.samdom.pl.test",
    ]
    join = _op(plan, "ad-join")
    assert join.commands == [
        [
            "adcli",
            "join",
            "--domain=samdom.pl.test",
            "--domain-controller=pl-dc.samdom.pl.test",
            "--login-user=Administrator",
            "--stdin-password",
        ]
    ]
    assert join.stdin == "Admin-Secret-42\n" and join.undo == [["rm", "-f", "/etc/krb5.keytab"]]
    text = (_op(plan, "/etc/sssd/sssd.conf").content or b"").decode()
    assert "id_provider = ad\n" in text and "krb5_realm = SAMDOM.PL.TEST\n" in text
    assert "ad_server = pl-dc.samdom.pl.test\n" in text and "ldap_uri" not in text.split("[domain/directory]")[1]
    targets = [op.target for op in plan.operations]
    assert targets.index("dc-address") < targets.index("/etc/sssd/sssd.conf") < targets.index("ad-join")
    assert targets.index("ad-join") < targets.index("sssd.service")
    plain = _plan(recorded("debian12-bare"), {"ldap_uri": "ldap://10.0.0.5"})
    assert _op(plain, "ad-join").reason == "not needed: ad_domain is off"
    assert _op(plain, "dc-address").reason == "not needed: directory_address is off"


def test_the_layout_step_records_a_root_that_is_not_btrfs_and_touches_nothing(tmp_path: Path) -> None:
    """The step's own script, run here (whose root is not BTRFS): one line saying so, no folder made."""
    import subprocess

    import pytest

    probe = subprocess.run(["stat", "-f", "-c", "%T", "/"], capture_output=True, text=True, check=True)
    if probe.stdout.strip() == "btrfs":
        pytest.skip("this machine's root is BTRFS: the script would make its subvolumes")
    argv = _op(_plan(recorded("debian12-bare")), "btrfs-layout").commands[0]
    record = tmp_path / "platform" / "subvolumes.txt"
    missing = tmp_path / "srv"
    subprocess.run([*argv[:4], str(record), str(missing)], check=True, timeout=30)
    assert record.read_text() == f"the root file system is {probe.stdout.strip()}, not BTRFS: no subvolumes\n"
    assert not missing.exists()


def test_an_ldap_directory_with_its_ca_is_read_over_starttls() -> None:
    """The CA as one line of base64 becomes a PEM file SSSD checks the server against."""
    body = "QUJD" * 40
    plan = _plan(recorded("debian12-bare"), {"ldap_uri": "ldap://dir.pl.test", "ldap_ca_cert": body})
    pem = (_op(plan, "/etc/sssd/directory-ca.pem").content or b"").decode().splitlines()
    assert pem[0] == "-----BEGIN CERTIFICATE-----" and pem[-1] == "-----END CERTIFICATE-----"
    assert "".join(pem[1:-1]) == body and {len(line) for line in pem[1:-2]} == {64}
    text = (_op(plan, "/etc/sssd/sssd.conf").content or b"").decode()
    assert "ldap_id_use_start_tls = true\nldap_tls_cacert = /etc/sssd/directory-ca.pem\n" in text
    plain = _plan(recorded("debian12-bare"), {"ldap_uri": "ldap://10.0.0.5"})
    assert "start_tls" not in (_op(plain, "/etc/sssd/sssd.conf").content or b"").decode()
    assert _op(plain, "/etc/sssd/directory-ca.pem").reason == "not needed: ldap_ca_cert is off"
