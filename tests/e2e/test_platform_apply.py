"""End-to-end on a fresh lab host: `fossp platform apply` brings it to the platform through
the deploy engine; then `fossp platform check` passes every component a lab host can have
and skips, with the reason, those a namespace host cannot (its kernel, initramfs and SELinux
are the controller's; Debian does without DNF); the SNMP agent answers its generated SNMPv3
user with authentication and privacy only; /home, /srv and /var/log become subvolumes of
their own (kept out of the root's snapshots); a second apply plans nothing and changes
nothing; decommission puts the distribution's files back, leaves sshd running and keeps the
subvolumes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_hosts, ssh, unavailable_reason
from fossp.secrets import GENERATED_DIR

from .conftest import fossp_json, snapshot

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
SKIPPED = {
    "kernel": "a container cannot have it: it runs its host's kernel",
    "dracut": "a container cannot have it: it boots no initramfs of its own",
    "selinux": "a container cannot have it: SELinux is its host kernel's, with its host's policy",
    "dnf": "the Debian family installs packages with apt",
}
SYS_NAME = ".1.3.6.1.2.1.1.5.0"
#: snmpget as the user of the agent's own configuration (the passphrases stay on the host).
SNMPGET = 'set -- $(grep ^createUser /etc/snmp/snmpd.conf); snmpget -v3 -u "$2" -a SHA -A "$4" -t 2 -r 0'


@pytest.fixture(scope="module")
def host() -> Iterator[LabHost]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    # snmp: the client tools, to query the agent from the host itself
    with lab_hosts("pl-e2e", packages=(*role_packages(["platform"]), "snmp")) as hosts:
        yield hosts[0]


def _snmpget(host: LabHost, level: str) -> str:
    done = ssh(host, "sh", "-c", f'{SNMPGET} -l {level} -x AES -X "$6" 127.0.0.1 {SYS_NAME} 2>&1', check=False)
    return done.stdout


def test_platform_apply_then_check_then_nothing_more(host: LabHost) -> None:
    target = f"lab:{host.name}"
    ssh(host, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq snmp >/dev/null")
    before = snapshot(host)
    sshd_config = ssh(host, "cat", "/etc/ssh/sshd_config").stdout
    applied = fossp_json("platform", "apply", "--target", target, timeout=1200)["hosts"][0]
    assert applied["states"] == {"FOSSP-PLSPL": "running"}, applied
    done = {(op["kind"], op["target"]) for op in applied["applied"]}
    assert ("install-packages", "chrony snmpd bacula-fd multipath-tools augeas-tools sssd adcli") in done
    assert {("write-file", "/etc/snmp/snmpd.conf"), ("run-step", "multipath-devices")} <= done
    assert ("run-step", "btrfs-layout") in done

    # the data that must survive a rollback: subvolumes of their own, their files carried over
    layout = ssh(host, "stat", "-c", "%n %i %a", "/home", "/srv", "/var/log").stdout.splitlines()
    assert layout == ["/home 256 755", "/srv 256 755", "/var/log 256 755"]
    assert ssh(host, "cat", "/var/lib/fossp/platform/subvolumes.txt").stdout == "".join(
        f"{path}: made a subvolume\n" for path in ("/home", "/srv", "/var/log")
    )
    assert ssh(host, "test", "-s", "/var/log/dpkg.log", check=False).returncode == 0

    # the generated secrets: kept 0600 on the controller, never printed
    kept = sorted((GENERATED_DIR / "platform" / target).iterdir())
    assert [path.name for path in kept] == ["director_password", "snmp_auth_password", "snmp_priv_password"]
    assert {path.stat().st_mode & 0o777 for path in kept} == {0o600}
    assert not any(path.read_text().strip() in json.dumps(applied) for path in kept)

    # private files, and the settings as the host now has them
    modes = ssh(host, "stat", "-c", "%n %a %U:%G", "/etc/snmp/snmpd.conf", "/etc/bacula/bacula-fd.conf").stdout
    assert modes.split("\n")[:2] == ["/etc/snmp/snmpd.conf 600 root:root", "/etc/bacula/bacula-fd.conf 640 root:bacula"]
    sshd = ssh(host, "sshd", "-T").stdout.splitlines()
    assert {"permitrootlogin without-password", "passwordauthentication no"} <= set(sshd)
    assert "kexalgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org" in sshd
    assert ssh(host, "cat", "/var/lib/fossp/platform/multipath.txt").stdout == "no multipath devices\n"
    assert _snmpget(host, "authPriv").strip() == f'iso.3.6.1.2.1.1.5.0 = STRING: "{host.name}"'
    assert "authorizationError" in _snmpget(host, "authNoPriv")  # privacy is required
    public = ssh(host, "snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0", "127.0.0.1", SYS_NAME, check=False)
    assert "Timeout" in public.stdout + public.stderr  # no community: SNMPv3 only

    # what the plan left alone says why
    plan = fossp_json("platform", "apply", "--target", target, "--dry-run")["plans"][0]
    assert plan["changes"] == 0, [op for op in plan["operations"] if op["change"]]
    reasons = {op["target"]: op["reason"] for op in plan["operations"] if op["kind"] == "start-unit"}
    assert reasons["chrony.service"].startswith("cannot run in a container: the clock is the container host's")
    assert reasons["multipathd.service"].startswith("cannot run in a container")
    assert reasons["sssd.service"] == "not needed: ldap_uri is off"

    checked = fossp_json("platform", "check", "--target", target)["hosts"][0]
    outcomes = {c["component"]: (c["outcome"], c["detail"]) for c in checked["components"]}
    assert {key: detail for key, (outcome, detail) in outcomes.items() if outcome == "skip"} == SKIPPED
    assert [key for key, (outcome, _) in outcomes.items() if outcome not in ("pass", "skip")] == []
    assert checked["ok"] is True

    again = fossp_json("platform", "apply", "--target", target)["hosts"][0]
    assert (again["read_only"], again["applied"], again["states"]) == (True, [], {"FOSSP-PLSPL": "running"})

    removal = fossp_json("decommission", "platform", "--target", target, "--yes", timeout=1200)
    assert ssh(host, "systemctl", "is-active", "ssh.service").stdout.strip() == "active", removal
    assert ssh(host, "stat", "-c", "%i", "/var/log").stdout.strip() == "256"  # the subvolumes stay: data
    assert ssh(host, "cat", "/etc/ssh/sshd_config").stdout == sshd_config
    packages, etc = snapshot(host)
    assert packages == before[0]
    assert sorted(set(etc) ^ set(before[1])) == []
