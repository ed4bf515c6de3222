"""The upgrade checks as data: given these facts, expect these findings.

Every context is built by hand from the shared types (no host, no archive): a Debian 12
host with a BTRFS root going to 13, changed one fact at a time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from fossp.catalog.schema import Family
from fossp.hosts.facts import Facts, OsRelease
from fossp.lifecycle.version import Level
from fossp.upgrade import checks
from fossp.upgrade.checks import CHECKS, CheckContext, RoleInfo, run_checks
from fossp.upgrade.facts import AptSourceLine, Filesystem, UpgradeFacts
from fossp.upgrade.migrations import PlannedMigration, plan_migrations
from fossp.upgrade.model import ConfigCheck, EventKind, PackageEvent, Prediction, ReleaseInfo
from fossp.upgrade.record import UpgradeRecord
from fossp.upgrade.releases import OsRelease as Release
from fossp.upgrade.releases import Target, family_releases
from fossp.upgrade.report import CheckOutcome, CheckStatus, Entry, Severity, check_key

STAMP = "2026-12-02T10:00:00.000000Z"
TODAY = date(2026, 12, 2)
GIB = 2**30
DEBIAN_12 = OsRelease(id="debian", version_id="12", pretty_name="Debian GNU/Linux 12 (bookworm)", family=Family.DEBIAN)
OFFICIAL = (
    AptSourceLine("/etc/apt/sources.list.d/debian.sources", "http://deb.debian.org/debian", ("bookworm",), ("main",)),
    AptSourceLine(
        "/etc/apt/sources.list.d/debian.sources",
        "http://security.debian.org/debian-security",
        ("bookworm-security",),
        ("main",),
    ),
)


# --------------------------------------------------------------------------- building contexts


def release(version: str, family: str = "debian") -> Release:
    found = family_releases(family).find(version)
    assert found is not None
    return found


def major(family: str = "debian", current: str = "12", to: str = "13") -> Target:
    return Target(family, release(current, family), release(to, family), Level.MAJOR)


def service_pack(point: str | None = None) -> Target:
    return Target("debian", release("12"), release("12"), Level.SERVICE_PACK, point)


def interim_fix(*names: str) -> Target:
    return Target("debian", release("12"), release("12"), Level.INTERIM_FIX, None, names)


def dpkg_status(*packages: tuple[str, str, str]) -> bytes:
    """A dpkg status file of (name, version, Status) paragraphs."""
    paragraphs = [
        f"Package: {name}\nStatus: {status}\nArchitecture: amd64\nVersion: {version}\nDescription: {name}\n"
        for name, version, status in packages
    ]
    return "\n".join(paragraphs).encode()


def host(
    *,
    packages: dict[str, str] | None = None,
    status: bytes | None = None,
    sources: tuple[AptSourceLine, ...] = OFFICIAL,
    filesystems: tuple[tuple[str, int], ...] = (("/", 100 * GIB),),
    record: str | None = None,
    reboot: tuple[str, ...] | None = None,
    **base: Any,
) -> UpgradeFacts:
    installed = packages if packages is not None else {"nginx": "1.22.1-9+deb12u2", "openssl": "3.0.17-1~deb12u2"}
    if status is None:
        status = dpkg_status(*((name, version, "install ok installed") for name, version in installed.items()))
    fields: dict[str, Any] = {"host": "web1", "hostname": "web1", "os": DEBIAN_12, "root_fs": "btrfs", **base}
    return UpgradeFacts(
        base=Facts(packages=installed, **fields),
        point_release="12.15",
        dpkg_status=status,
        sources=sources,
        filesystems=tuple(Filesystem(mount, free) for mount, free in filesystems),
        reboot_required=reboot is not None,
        reboot_packages=reboot or (),
        record=record,
    )


def context(**changes: Any) -> CheckContext:
    """A clean Debian 12 -> 13 context; ``changes`` replace its fields."""
    values: dict[str, Any] = {
        "facts": host(),
        "target": major(),
        "roles": (RoleInfo("nginx", "FOSSP-WDSNG", None, ("nginx",)),),
        "events": (),
        "prediction": Prediction(upgraded=(("nginx", "1.22.1-9+deb12u2", "1.26.3-3"),), download_bytes=200 * 2**20),
        "today": TODAY,
    }
    values.update(changes)
    return CheckContext(**values)


def event(
    kind: EventKind, package: str, installed: str = "1.0-1", target: str | None = "2.0-1", **more: Any
) -> PackageEvent:
    return PackageEvent(kind, package, installed, target, **more)


def result(ctx: CheckContext, name: str) -> tuple[CheckOutcome, Entry | None]:
    outcomes, entries = run_checks(ctx, STAMP)
    [outcome] = [o for o in outcomes if o.name == name]
    found = [e for e in entries if e.actor == f"fossp.{name}"]
    assert len(found) <= 1
    return outcome, (found[0] if found else None)


def status(ctx: CheckContext, name: str) -> CheckStatus:
    return result(ctx, name)[0].status


def entry(ctx: CheckContext, name: str) -> Entry:
    found = result(ctx, name)[1]
    assert found is not None, f"{name} gave no entry"
    return found


PASSED, NA, ACTION, INHIBITOR, ERROR = (
    CheckStatus.PASSED,
    CheckStatus.NOT_APPLICABLE,
    CheckStatus.NEEDS_ACTION,
    CheckStatus.INHIBITOR,
    CheckStatus.ERROR,
)
PG_EVENT = event(
    EventKind.MAJOR_VERSION, "postgresql-15", "15.18-0+deb12u1", "17.6-0+deb13u1", old_major="15", new_major="17"
)


def _migrations() -> tuple[PlannedMigration, ...]:
    from fossp.upgrade.facts import PgCluster

    facts = UpgradeFacts(base=Facts(host="db1"), pg_clusters=(PgCluster("15", "main", 5432, "online"),))
    return tuple(plan_migrations({"postgresql"}, "debian", [PG_EVENT], facts))


# --------------------------------------------------------------------------- the table

UNFINISHED = UpgradeRecord(
    run_id="20261202-0930-ab12",
    target="debian 13 (trixie)",
    level="major",
    to="13",
    step="packages",
    started="2026-12-02T09:30:00Z",
    updated="2026-12-02T09:41:00Z",
)
HELD = host(
    status=dpkg_status(
        ("nginx", "1.22.1-9+deb12u2", "install ok installed"),
        ("openssl", "3.0.17-1~deb12u2", "hold ok installed"),
        ("old-thing", "1.0", "deinstall ok config-files"),
    )
)
VENDOR = AptSourceLine(
    "/etc/apt/sources.list.d/vendor.list", "https://apt.vendor.example/debian", ("bookworm",), ("main",)
)
RENAMED = event(EventKind.RENAMED, "libldap-2.5-0", "2.5.13+dfsg-5", "2.6.10+dfsg-1", replacements=("libldap2",))
ISC = host(packages={"isc-dhcp-server": "4.4.3-P1-2"})
NGINX_OK = ConfigCheck(
    "nginx", ("nginx", "-t"), True, "nginx: configuration file /etc/nginx/nginx.conf test is successful"
)
BIND_BAD = ConfigCheck(
    "bind",
    ("named-checkconf", "/etc/bind/named.conf"),
    False,
    "/etc/bind/named.conf.options:12: option 'dnssec-enable' no longer exists",
)
ARCHIVE_12 = (
    ReleaseInfo("stable", "bookworm", "12.12", "Sat, 06 Sep 2025 10:00:00 UTC"),
    ReleaseInfo("stable-security", "bookworm-security", "12", "Mon, 01 Dec 2025 10:00:00 UTC"),
    ReleaseInfo("stable-updates", "bookworm-updates", "", "Mon, 01 Dec 2025 10:00:00 UTC"),
)


Case = tuple[Callable[[], CheckContext], str, CheckStatus]

CASES: dict[str, Case] = {
    # the host
    "clean host: no unfinished work": (context, "host.unfinished-work", PASSED),
    "dpkg interrupted": (
        lambda: context(facts=host(dpkg_interrupted=True)),
        "host.unfinished-work",
        INHIBITOR,
    ),
    "a FOSSP run holds the lock": (
        lambda: context(facts=host(lock_owner="run 20261202-0900 on controller1")),
        "host.unfinished-work",
        INHIBITOR,
    ),
    "a package manager runs": (
        lambda: context(facts=host(package_managers=[(4242, "unattended-upgr")])),
        "host.unfinished-work",
        INHIBITOR,
    ),
    "no upgrade record": (context, "host.upgrade-in-progress", PASSED),
    "an unfinished upgrade record": (
        lambda: context(facts=host(record=UNFINISHED.model_dump_json())),
        "host.upgrade-in-progress",
        INHIBITOR,
    ),
    "a finished upgrade record": (
        lambda: context(facts=host(record=UNFINISHED.model_copy(update={"finished": True}).model_dump_json())),
        "host.upgrade-in-progress",
        PASSED,
    ),
    "a damaged upgrade record is no record": (
        lambda: context(facts=host(record="{not json")),
        "host.upgrade-in-progress",
        PASSED,
    ),
    "no reboot pending": (context, "host.reboot-pending", PASSED),
    "reboot pending": (
        lambda: context(facts=host(reboot=("linux-image-6.1.0-40-amd64",))),
        "host.reboot-pending",
        ACTION,
    ),
    # file systems
    "BTRFS root": (context, "filesystem.rollback", PASSED),
    "not BTRFS, rollback wanted": (
        lambda: context(facts=host(root_fs="ext2/ext3"), snapshot_capable=False),
        "filesystem.rollback",
        INHIBITOR,
    ),
    "not BTRFS, --no-rollback": (
        lambda: context(facts=host(root_fs="ext2/ext3"), snapshot_capable=False, rollback=False),
        "filesystem.rollback",
        ACTION,
    ),
    "enough space": (context, "filesystem.space", PASSED),
    "too little space": (
        lambda: context(
            facts=host(filesystems=(("/", 300 * 2**20),)),
            prediction=Prediction(download_bytes=400 * 2**20, installed_size_delta_kib=200 * 1024),
        ),
        "filesystem.space",
        INHIBITOR,
    ),
    "space counted on the file system of /var/cache/apt": (
        lambda: context(facts=host(filesystems=(("/", 100 * GIB), ("/var", 100 * 2**20)))),
        "filesystem.space",
        INHIBITOR,
    ),
    "no prediction: space not judged": (lambda: context(prediction=None), "filesystem.space", NA),
    "no prediction (Fedora): apt not judged": (lambda: context(prediction=None), "packages.resolvable", NA),
    "a separate /var without room for the download": (
        lambda: context(
            facts=host(filesystems=(("/", 100 * GIB), ("/var", 200 * 2**20))),
            prediction=Prediction(download_bytes=400 * 2**20),
        ),
        "filesystem.space",
        INHIBITOR,
    ),
    # packages and sources
    "prediction worked": (context, "packages.resolvable", PASSED),
    "prediction failed": (
        lambda: context(
            prediction=None, prediction_error="E: Unable to correct problems, you have held broken packages."
        ),
        "packages.resolvable",
        INHIBITOR,
    ),
    "kept back in a major release": (
        lambda: context(prediction=Prediction(kept_back=("libfoo1",))),
        "packages.resolvable",
        INHIBITOR,
    ),
    "kept back in a service pack": (
        lambda: context(target=service_pack(), prediction=Prediction(kept_back=("libfoo1",))),
        "packages.resolvable",
        ACTION,
    ),
    "nothing held": (context, "packages.held", PASSED),
    "held package, major release": (lambda: context(facts=HELD), "packages.held", INHIBITOR),
    "held package, service pack": (lambda: context(facts=HELD, target=service_pack()), "packages.held", ACTION),
    "no foreign package": (context, "packages.foreign", PASSED),
    "foreign package": (
        lambda: context(events=(event(EventKind.FOREIGN, "acme-agent", "3.1", None),)),
        "packages.foreign",
        ACTION,
    ),
    "only the Debian archive": (context, "repositories.third-party", PASSED),
    "FOSSP's local repository": (
        lambda: context(
            facts=host(
                sources=(AptSourceLine("/etc/apt/sources.list.d/fossp-lab.list", "file:/srv/fossp-repo", ("./",), ()),)
            )
        ),
        "repositories.third-party",
        PASSED,
    ),
    "a third-party source": (
        lambda: context(facts=host(sources=(*OFFICIAL, VENDOR))),
        "repositories.third-party",
        ACTION,
    ),
    "nothing removed": (context, "packages.removed", PASSED),
    "a package removed": (
        lambda: context(events=(event(EventKind.REMOVED, "ifupdown-extra", target=None),)),
        "packages.removed",
        ACTION,
    ),
    "only old libraries removed": (
        lambda: context(events=(event(EventKind.REMOVED, "libicu72", target=None),)),
        "packages.removed",
        PASSED,
    ),
    "removed is for major releases": (lambda: context(target=service_pack()), "packages.removed", NA),
    "a transitional rename": (
        lambda: context(events=(RENAMED,)),
        "packages.replaced",
        PASSED,
    ),
    "replaced is for major releases": (lambda: context(target=service_pack()), "packages.replaced", NA),
    "a new major version of a program": (
        lambda: context(
            events=(event(EventKind.MAJOR_VERSION, "python3.11", "3.11.2-6", None, old_major="3.11", new_major="3.13"),)
        ),
        "packages.major-versions",
        PASSED,
    ),
    # roles
    "no migration": (context, "roles.migrations", PASSED),
    "postgresql migration": (lambda: context(migrations=_migrations()), "roles.migrations", ACTION),
    "no ISC DHCP": (context, "roles.isc-dhcp", PASSED),
    "ISC DHCP installed": (lambda: context(facts=ISC), "roles.isc-dhcp", ACTION),
    "ISC DHCP gone from the target": (
        lambda: context(facts=ISC, events=(event(EventKind.REMOVED, "isc-dhcp-server", "4.4.3-P1-2", None),)),
        "roles.isc-dhcp",
        INHIBITOR,
    ),
    "Fedora dhcp-server installed": (
        lambda: context(facts=host(packages={"dhcp-server": "12:4.4.3-13.fc40"}), target=major("fedora", "40", "41")),
        "roles.isc-dhcp",
        ACTION,
    ),
    "roles supported": (context, "roles.support-end", PASSED),
    "support ends in the future": (
        lambda: context(roles=(RoleInfo("nginx", "FOSSP-WDSNG", date(2027, 1, 1), ("nginx",)),)),
        "roles.support-end",
        PASSED,
    ),
    "a role past its support end": (
        lambda: context(roles=(RoleInfo("isc-dhcp", "FOSSP-NESDH", date(2026, 1, 1), ("isc-dhcp-server",)),)),
        "roles.support-end",
        ACTION,
    ),
    "no config checks": (context, "roles.config", NA),
    "config accepted": (lambda: context(config_checks=(NGINX_OK,)), "roles.config", PASSED),
    "config refused": (lambda: context(config_checks=(NGINX_OK, BIND_BAD)), "roles.config", INHIBITOR),
    "config check skipped": (
        lambda: context(config_checks=(ConfigCheck("nginx", ("nginx", "-t"), False, "", "no scratch root"),)),
        "roles.config",
        ACTION,
    ),
    # the level
    "major release reboots": (context, "level.reboot", PASSED),
    "service pack: no reboot": (lambda: context(target=service_pack()), "level.reboot", NA),
    "interim fix: no reboot": (lambda: context(target=interim_fix("openssl")), "level.reboot", NA),
    "no point asked": (lambda: context(target=service_pack(), archive=ARCHIVE_12), "level.point-release", PASSED),
    "served point release": (
        lambda: context(target=service_pack("12.12"), archive=ARCHIVE_12),
        "level.point-release",
        PASSED,
    ),
    "point release beyond the archive's": (
        lambda: context(target=service_pack("12.13"), archive=ARCHIVE_12),
        "level.point-release",
        INHIBITOR,
    ),
    "point release 12.10 beyond 12.9 (compared as numbers)": (
        lambda: context(target=service_pack("12.10"), archive=(ReleaseInfo("bookworm", "bookworm", "12.9", ""),)),
        "level.point-release",
        INHIBITOR,
    ),
    "pre-upgrade: no dist files check": (context, "after.config-files", NA),
}


@pytest.mark.parametrize(("build", "name", "expected"), CASES.values(), ids=CASES.keys())
def test_given_these_facts_the_check_concludes(
    build: Callable[[], CheckContext], name: str, expected: CheckStatus
) -> None:
    outcome, found = result(build(), name)
    assert outcome.status is expected, outcome.message
    assert outcome.key == check_key(name)
    if expected in (ACTION, INHIBITOR):
        assert found is not None and found.status is expected
        assert ("inhibitor" in found.groups) is (expected is INHIBITOR)
        assert outcome.message == found.summary
    if expected is NA:
        assert found is None


# --------------------------------------------------------------------------- what the entries say


def test_unfinished_work_names_every_problem() -> None:
    ctx = context(facts=host(dpkg_interrupted=True, lock_owner="run r7 on c1", package_managers=[(99, "dpkg")]))
    found = entry(ctx, "host.unfinished-work")
    assert "dpkg stopped midway" in found.summary
    assert "dpkg (pid 99)" in found.summary
    assert "run r7 on c1" in found.summary
    assert found.severity is Severity.HIGH


def test_an_unfinished_upgrade_names_its_run_and_step() -> None:
    found = entry(context(facts=host(record=UNFINISHED.model_dump_json(indent=2))), "host.upgrade-in-progress")
    assert "20261202-0930-ab12" in found.summary
    assert "'packages'" in found.summary
    assert "fossp upgrade restore" in str(found.detail.remediations[0].context)


def test_a_pending_reboot_names_its_packages() -> None:
    found = entry(context(facts=host(reboot=("linux-image-6.1.0-40-amd64", "libc6"))), "host.reboot-pending")
    assert "linux-image-6.1.0-40-amd64, libc6" in found.summary
    assert [r.title for r in found.detail.related_resources] == ["linux-image-6.1.0-40-amd64", "libc6"]


def test_no_btrfs_root_names_the_file_system_and_the_way_out() -> None:
    found = entry(context(facts=host(root_fs="xfs"), snapshot_capable=False), "filesystem.rollback")
    assert "the root file system is xfs" in found.summary
    assert "--no-rollback" in str(found.detail.remediations[0].context)


def test_too_little_space_says_how_much() -> None:
    ctx = context(facts=host(filesystems=(("/", 300 * 2**20),)), prediction=Prediction(download_bytes=400 * 2**20))
    found = entry(ctx, "filesystem.space")
    assert found.summary.startswith("/: 300 MiB free, about ")
    needed = int(found.summary.split("about ")[1].split(" MiB")[0])
    assert needed > 3 * 400  # the download, the unpacked files beside the snapshot's, and a margin


def test_a_full_var_is_too_little_space_even_when_root_has_room() -> None:
    ctx = context(facts=host(filesystems=(("/", 100 * GIB), ("/var", 0))))
    assert status(ctx, "filesystem.space") is INHIBITOR


def test_a_failed_prediction_quotes_apt() -> None:
    found = entry(context(prediction=None, prediction_error="E: Broken packages"), "packages.resolvable")
    assert found.summary.endswith("failed: E: Broken packages")
    assert found.severity is Severity.HIGH


def test_held_packages_are_named_with_the_command_to_unhold_them() -> None:
    found = entry(context(facts=HELD), "packages.held")
    assert "openssl" in found.summary and "nginx" not in found.summary and "old-thing" not in found.summary
    assert [(r.type, r.context) for r in found.detail.remediations] == [("command", ["apt-mark", "unhold", "openssl"])]
    assert found.severity is Severity.HIGH
    assert entry(context(facts=HELD, target=service_pack()), "packages.held").severity is Severity.MEDIUM


def test_a_foreign_role_package_weighs_more() -> None:
    ctx = context(events=(event(EventKind.FOREIGN, "nginx", "1.27.0-1~bookworm", None),))
    assert entry(ctx, "packages.foreign").severity is Severity.MEDIUM
    ctx = context(events=(event(EventKind.FOREIGN, "acme-agent", "3.1", None),))
    assert entry(ctx, "packages.foreign").severity is Severity.LOW


@pytest.mark.parametrize(
    "uri",
    [
        "http://deb.debian.org/debian",
        "https://deb.debian.org/debian-security",
        "http://security.debian.org/debian-security",
        "http://ftp.de.debian.org/debian",
        "file:/srv/fossp-repo",
        "file:/srv/fossp-suites/debian-13",
    ],
)
def test_the_family_archive_and_fossp_s_local_repositories_are_not_third_party(uri: str) -> None:
    source = AptSourceLine("/etc/apt/sources.list", uri, ("bookworm",), ("main",))
    assert status(context(facts=host(sources=(source,))), "repositories.third-party") is PASSED


def test_a_third_party_source_is_named_with_its_file() -> None:
    found = entry(context(facts=host(sources=(*OFFICIAL, VENDOR))), "repositories.third-party")
    assert "https://apt.vendor.example/debian" in found.summary
    assert "deb.debian.org" not in found.summary
    assert [(r.scheme, r.title) for r in found.detail.related_resources] == [
        ("file", "/etc/apt/sources.list.d/vendor.list")
    ]
    assert found.severity is Severity.MEDIUM
    assert entry(
        context(facts=host(sources=(VENDOR,)), target=service_pack()), "repositories.third-party"
    ).severity is (Severity.LOW)


@pytest.mark.parametrize("uri", ["http://deb.debian.org.mirror.example/debian", "https://apt.example.com/debian.org/"])
def test_a_host_that_only_contains_an_official_name_is_third_party(uri: str) -> None:
    source = AptSourceLine("/etc/apt/sources.list.d/x.list", uri, ("bookworm",), ("main",))
    assert status(context(facts=host(sources=(source,))), "repositories.third-party") is ACTION


def test_a_removed_role_package_is_high_and_named() -> None:
    roles = (RoleInfo("isc-dhcp", "FOSSP-NESDH", None, ("isc-dhcp-server",)),)
    events = (
        event(EventKind.REMOVED, "isc-dhcp-server", target=None),
        event(EventKind.REMOVED, "ifupdown-extra", target=None),
    )
    found = entry(context(roles=roles, events=events), "packages.removed")
    assert found.severity is Severity.HIGH
    assert "Role packages among them: isc-dhcp-server." in found.summary
    assert found.when == "after"
    assert not found.inhibitor
    plain = entry(context(events=events[1:]), "packages.removed")
    assert plain.severity is Severity.LOW


def test_renamed_and_replaced_packages_are_information() -> None:
    events = (RENAMED, event(EventKind.REPLACED, "redis-server", replacements=("valkey-server",)))
    outcome, found = result(context(events=events), "packages.replaced")
    assert outcome.status is PASSED
    assert found is not None
    assert found.severity is Severity.INFO
    assert found.when == "none"
    assert "libldap-2.5-0 -> libldap2 (renamed)" in found.summary
    assert "redis-server -> valkey-server (replaced)" in found.summary


def test_a_migrated_role_s_major_version_is_not_repeated_as_information() -> None:
    ctx = context(events=(PG_EVENT,), migrations=_migrations())
    assert result(ctx, "packages.major-versions")[1] is None
    assert result(context(events=(PG_EVENT,)), "packages.major-versions")[1] is not None


def test_a_library_s_major_version_is_not_listed() -> None:
    ctx = context(events=(event(EventKind.MAJOR_VERSION, "libicu72", old_major="72", new_major="76"),))
    assert result(ctx, "packages.major-versions")[1] is None


def test_the_postgresql_migration_shows_its_commands_after_the_upgrade() -> None:
    found = entry(context(migrations=_migrations()), "roles.migrations")
    assert found.status is ACTION
    assert found.when == "after"
    assert found.severity is Severity.MEDIUM
    assert "postgresql 15 -> 17" in found.summary
    commands = [r.context for r in found.detail.remediations if r.type == "command"]
    assert commands == [["pg_upgradecluster", "15", "main", "-m", "upgrade", "--link"]]
    assert [(r.scheme, r.title) for r in found.detail.related_resources] == [("role", "postgresql")]
    assert found.detail.external[0].url.startswith("https://manpages.debian.org/")


def test_after_the_upgrade_the_migration_entry_shows_the_clean_up() -> None:
    found = entry(context(migrations=_migrations(), phase="post-upgrade"), "roles.migrations")
    assert found.summary.startswith("Migrated: postgresql 15 -> 17.")
    assert [r.context for r in found.detail.remediations] == [
        ["pg_dropcluster", "15", "main"],
        ["apt-get", "purge", "postgresql-15", "postgresql-client-15"],
    ]


def test_isc_dhcp_points_to_kea() -> None:
    found = entry(context(facts=ISC), "roles.isc-dhcp")
    assert "Kea" in found.summary
    assert found.severity is Severity.MEDIUM
    gone = entry(
        context(facts=ISC, events=(event(EventKind.REMOVED, "isc-dhcp-server", target=None),)), "roles.isc-dhcp"
    )
    assert gone.severity is Severity.HIGH
    assert "no longer ships it" in gone.summary


def test_isc_dhcp_names_the_catalog_s_kea_role(catalog: Any) -> None:
    assert f"(role {catalog.role('kea').id})" in entry(context(facts=ISC), "roles.isc-dhcp").summary


def test_roles_past_support_end_are_named_with_their_dates() -> None:
    roles = (
        RoleInfo("isc-dhcp", "FOSSP-NESDH", date(2026, 1, 1)),
        RoleInfo("nginx", "FOSSP-WDSNG", None),
        RoleInfo("bind", "FOSSP-NESBI", TODAY),  # ends today: not past yet
    )
    found = entry(context(roles=roles), "roles.support-end")
    assert found.summary == "Deployed roles past their support end: isc-dhcp (FOSSP-NESDH, 2026-01-01)."


def test_a_refused_config_quotes_the_checker() -> None:
    found = entry(context(config_checks=(NGINX_OK, BIND_BAD)), "roles.config")
    assert "option 'dnssec-enable' no longer exists" in found.summary
    assert "named-checkconf /etc/bind/named.conf" in found.summary
    assert "nginx" not in found.summary
    assert [(r.scheme, r.title) for r in found.detail.related_resources] == [("role", "bind")]


def test_the_reboot_entry_is_information_after_the_upgrade() -> None:
    found = entry(context(), "level.reboot")
    assert (found.severity, found.when, found.status) == (Severity.INFO, "after", PASSED)


def test_a_point_release_too_far_says_what_is_served() -> None:
    found = entry(context(target=service_pack("12.13"), archive=ARCHIVE_12), "level.point-release")
    assert found.summary == (
        "12.13 is not what the archive serves (12.12): a service pack brings the newest point release."
    )
    older = entry(context(target=service_pack("12.11"), archive=ARCHIVE_12), "level.point-release")
    assert older.inhibitor  # FOSSP cannot stop at an older point release either


def test_post_upgrade_dist_files_are_listed() -> None:
    files = ("/etc/nginx/nginx.conf.dpkg-dist",)
    found = entry(context(phase="post-upgrade", dist_files=files), "after.config-files")
    assert found.status is ACTION
    assert [r.title for r in found.detail.related_resources] == list(files)


# --------------------------------------------------------------------------- running them


def test_run_checks_gives_every_registered_check_one_outcome_in_order() -> None:
    outcomes, _ = run_checks(context(), STAMP)
    assert [o.name for o in outcomes] == [c.name for c in CHECKS]
    assert len(CHECKS) >= 19


def test_a_clean_host_has_no_finding_beyond_information() -> None:
    outcomes, entries = run_checks(context(), STAMP)
    assert {o.status for o in outcomes} <= {PASSED, NA}
    assert [e.actor for e in entries] == ["fossp.level.reboot"]


def test_a_check_that_raises_is_an_error_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: CheckContext) -> None:
        raise RuntimeError("index missing")

    index = next(n for n, c in enumerate(CHECKS) if c.name == "packages.held")
    broken = list(CHECKS)
    broken[index] = dataclasses.replace(CHECKS[index], run=boom)
    monkeypatch.setattr(checks, "CHECKS", broken)
    outcomes, entries = run_checks(context(facts=host(dpkg_interrupted=True)), STAMP)
    by_name = {o.name: o for o in outcomes}
    assert len(outcomes) == len(CHECKS)
    assert by_name["packages.held"].status is ERROR
    assert by_name["packages.held"].message == "the check failed: RuntimeError: index missing"
    assert by_name["host.unfinished-work"].status is INHIBITOR  # before it
    assert by_name["level.reboot"].status is PASSED  # after it
    [error] = [e for e in entries if e.actor == "fossp.packages.held"]
    assert error.groups[0] == "error"
    assert error.status is ERROR


def test_entries_carry_the_hostname_stamp_actor_and_a_content_id() -> None:
    found = entry(context(facts=HELD), "packages.held")
    assert found.hostname == "web1"
    assert found.time_stamp == STAMP
    assert found.actor == "fossp.packages.held"
    assert found.key == check_key("packages.held")
    assert len(found.id) == 64
    again = entry(context(facts=HELD), "packages.held")
    assert again.id == found.id  # the same content, the same id
    assert entry(context(facts=HELD, target=service_pack()), "packages.held").id != found.id


def test_every_check_name_and_key_is_unique() -> None:
    names = [c.name for c in CHECKS]
    keys = [check_key(name) for name in names]
    assert len(set(names)) == len(names)
    assert len(set(keys)) == len(keys)
    assert len({c.title for c in CHECKS}) == len(CHECKS)


def test_check_keys_are_stable() -> None:
    """Tools match entries on the key: a renamed check breaks them, so a rename must be deliberate."""
    assert check_key("packages.held") == "bc082679ca04a8459f1b1ba34ce1ea0629964afa"
    assert check_key("filesystem.rollback") == "badf54defabc249106f6bfc6391695dc9abda7ef"
    assert check_key("roles.migrations") == "bd8f6a2e8c75502e517f53fc588413c79e1ce460"
    registered = {c.name for c in CHECKS}
    assert {"packages.held", "filesystem.rollback", "roles.migrations"} <= registered


def test_every_check_says_when_its_action_belongs() -> None:
    for item in CHECKS:
        assert item.when in ("before", "after", "none"), item.name
        assert item.topics, item.name
        assert "." in item.name, item.name


def test_upgrade_notes_are_shown_in_full_and_do_not_block() -> None:
    from fossp.upgrade.news import NewsItem

    note = NewsItem("bind9", "1:9.20.5-1", "Mon, 06 Jan 2025", "Zone transfers are now denied by default.")
    ctx = context(news=(note,))
    found = entry(ctx, "packages.news")
    assert found.severity is Severity.INFO and status(ctx, "packages.news") is CheckStatus.PASSED
    assert "bind9 1:9.20.5-1" in found.summary
    assert [r.context for r in found.detail.remediations] == [f"bind9 1:9.20.5-1: {note.text}"]
    assert result(context(), "packages.news")[1] is None  # no notes, no entry
    failed = context(news_error="apt-get download failed for bind9")
    assert status(failed, "packages.news") is CheckStatus.NEEDS_ACTION
    assert status(context(target=service_pack()), "packages.news") is CheckStatus.NOT_APPLICABLE


def test_notes_are_read_for_the_roles_their_siblings_and_the_platform() -> None:
    from fossp.upgrade.model import ArchiveIndex, PackageRecord
    from fossp.upgrade.service import news_packages

    def record(name: str, source: str) -> PackageRecord:
        return PackageRecord(name, "2.0-1", source, "2.0-1", "trixie")

    index = ArchiveIndex(
        "debian-13",
        {r.name: r for r in (record("nginx", "nginx"), record("nginx-common", "nginx"), record("curl", "curl"))},
        (),
        "now",
    )
    installed = {"nginx": "1.22", "nginx-common": "1.22", "curl": "7.88", "openssh-server": "1:9.2p1-2"}
    chosen = news_packages((RoleInfo("nginx", "FOSSP-WDSNG", None, ("nginx",)),), host(packages=installed), index)
    assert chosen == {"nginx": "1.22", "nginx-common": "1.22", "openssh-server": "1:9.2p1-2"}


def test_a_btrfs_host_that_cannot_be_restored_is_inhibited_with_the_reason() -> None:
    why = "runs on subvolume 256 (@rootfs) but the default subvolume is 5"
    ctx = context(snapshot_capable=False, rollback_problem=why)
    found = entry(ctx, "filesystem.rollback")
    assert found.inhibitor and why in found.summary


def test_configuration_files_beside_name_which_version_is_in_place() -> None:
    files = ("/etc/nginx/nginx.conf.dpkg-dist", "/etc/bind/named.conf.options.dpkg-old")
    found = entry(context(phase="post-upgrade", dist_files=files), "after.config-files")
    assert "your changes were kept, the new versions are beside them: /etc/nginx/nginx.conf.dpkg-dist" in (
        found.summary.lower()
    )
    assert "yours are beside them: /etc/bind/named.conf.options.dpkg-old" in found.summary


def test_after_the_upgrade_only_removed_packages_still_installed_are_named() -> None:
    events = (event(EventKind.REMOVED, "gone-lib", target=None), event(EventKind.REMOVED, "oldtool", target=None))
    after = context(phase="post-upgrade", events=events, facts=host(packages={"oldtool": "1.0-1"}))
    found = entry(after, "packages.removed")
    assert "oldtool" in found.summary and "gone-lib" not in found.summary
