"""Platform check: a pure parser of the facts script's output, and pure checks over facts."""

from __future__ import annotations

import subprocess

from fossp.catalog import Catalog
from fossp.catalog.schema import Family
from fossp.platform.checks import Outcome, check_platform
from fossp.platform.facts import MARK, PlatformFacts, gather_script, parse_facts

FEDORA_OUTPUT = f"""{MARK}kernel
6.11.4-301.fc41.x86_64
{MARK}pid1
systemd
{MARK}selinux
1
{MARK}root_fs
btrfs
{MARK}os_release
NAME="Fedora Linux"
ID=fedora
VERSION_ID=41
{MARK}devices
/ 38
/home 39
/srv 40
/var/log 41
{MARK}commands
bash /usr/bin/bash
dracut /usr/bin/dracut
btrfs /usr/sbin/btrfs
dnf /usr/bin/dnf
multipathd /usr/sbin/multipathd
findmnt /usr/bin/findmnt
sshd /usr/sbin/sshd
chronyd /usr/sbin/chronyd
sssd /usr/sbin/sssd
augtool /usr/bin/augtool
snmpd /usr/sbin/snmpd
bareos-fd /usr/sbin/bareos-fd
{MARK}end
"""


def test_parser_reads_every_section() -> None:
    facts = parse_facts(FEDORA_OUTPUT)
    assert facts.kernel.startswith("6.11")
    assert (facts.pid1, facts.selinux, facts.root_fs, facts.family) == ("systemd", "enforcing", "btrfs", Family.FEDORA)
    assert facts.commands["sshd"] == "/usr/sbin/sshd"


def test_a_complete_fedora_server_passes_every_component(catalog: Catalog) -> None:
    results = check_platform(catalog.platform, parse_facts(FEDORA_OUTPUT))
    assert len(results) == 15
    assert [r.component for r in results if r.outcome is not Outcome.PASS] == []


def test_each_missing_component_says_what_to_do(catalog: Catalog) -> None:
    bare = PlatformFacts(
        kernel="3.10.0",
        pid1="bash",
        selinux="disabled",
        root_fs="ext2/ext3",
        os_id="debian",
        os_like=(),
        commands={"bash": "/bin/bash"},
    )
    results = {r.component: r for r in check_platform(catalog.platform, bare)}
    assert results["bash"].outcome is Outcome.PASS
    assert results["kernel"].outcome is Outcome.FAIL
    assert results["systemd"].outcome is Outcome.FAIL and "PID 1 is 'bash'" in results["systemd"].detail
    assert results["btrfs"].outcome is Outcome.FAIL
    assert results["multipathd"].outcome is Outcome.WARN
    assert results["multipathd"].remedy == "apt-get install multipath-tools"
    assert results["openssh"].remedy == "apt-get install openssh-server"
    assert results["dnf"].outcome is Outcome.SKIP and "apt" in results["dnf"].detail
    assert all(r.remedy for r in results.values() if r.outcome in (Outcome.WARN, Outcome.FAIL))


def test_a_container_skips_what_its_host_has_saying_why(catalog: Catalog) -> None:
    facts = parse_facts(FEDORA_OUTPUT)
    inside = PlatformFacts(**{**vars(facts), "container": True})
    results = {r.component: r for r in check_platform(catalog.platform, inside)}
    skipped = sorted(key for key, r in results.items() if r.outcome is Outcome.SKIP)
    assert skipped == ["dracut", "kernel", "selinux"]
    assert results["kernel"].detail == "a container cannot have it: it runs its host's kernel"
    assert not facts.container and parse_facts(FEDORA_OUTPUT + f"{MARK}container\nyes\n").container


def test_a_btrfs_root_warns_while_data_folders_are_in_its_snapshots(catalog: Catalog) -> None:
    """/var/log on the root's own subvolume (same device as /): a rollback takes the logs back."""
    facts = parse_facts(FEDORA_OUTPUT.replace("/var/log 41", "/var/log 38").replace("/srv 40\n", ""))
    assert facts.apart == ("/home",)
    btrfs = next(r for r in check_platform(catalog.platform, facts) if r.component == "btrfs")
    assert (btrfs.outcome, btrfs.detail) == (
        Outcome.WARN,
        "the root file system is BTRFS, but /srv, /var/log is inside it: a rollback of the system takes that data "
        "back too",
    )
    assert btrfs.remedy == "`fossp platform apply` makes them subvolumes of their own"
    passed = next(r for r in check_platform(catalog.platform, parse_facts(FEDORA_OUTPUT)) if r.component == "btrfs")
    assert passed.detail == "the root file system is BTRFS; /home, /srv, /var/log apart from its snapshots"


def test_permissive_selinux_warns(catalog: Catalog) -> None:
    facts = parse_facts(FEDORA_OUTPUT.replace(f"{MARK}selinux\n1", f"{MARK}selinux\n0"))
    selinux = next(r for r in check_platform(catalog.platform, facts) if r.component == "selinux")
    assert selinux.outcome is Outcome.WARN and "setenforce 1" in (selinux.remedy or "")


def test_the_script_runs_here_and_reads_this_machine(catalog: Catalog) -> None:
    """The real script on this machine: facts must match what the machine says itself."""
    done = subprocess.run(["sh", "-c", gather_script(catalog.platform)], capture_output=True, text=True, check=True)
    facts = parse_facts(done.stdout)
    assert facts.kernel == subprocess.run(["uname", "-r"], capture_output=True, text=True, check=True).stdout.strip()
    with open("/proc/1/comm") as comm:
        assert facts.pid1 == comm.read().strip()
    assert "bash" in facts.commands
