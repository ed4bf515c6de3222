"""The report's contract: three prepared hosts, their JSON compared with reviewed golden files.

The golden files in ``golden/`` are the reviewed contract of ``fossp upgrade check --json``:
Leapp's entry fields plus FOSSP's ``status`` and ``when``, every check's outcome, the target
and the prediction. Regenerate them with ``FOSSP_UPDATE_GOLDEN=1`` and read the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from fossp.catalog.schema import Family
from fossp.engine.state import HostState, Instance, InstanceState
from fossp.errors import error_data
from fossp.hosts.facts import Facts, OsRelease
from fossp.lifecycle.version import Level
from fossp.upgrade import checks
from fossp.upgrade.checks import CheckContext
from fossp.upgrade.facts import AptSourceLine, Filesystem, PgCluster, UpgradeFacts
from fossp.upgrade.html import render_html
from fossp.upgrade.migrations import plan_migrations
from fossp.upgrade.model import ConfigCheck, EventKind, PackageEvent, Prediction, ReleaseInfo
from fossp.upgrade.releases import Target, family_releases
from fossp.upgrade.report import SEVERITY_RANK, Report, Severity
from fossp.upgrade.service import Collected, build_report, deployed_roles

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FOSSP_UPDATE_GOLDEN") == "1"
RUN_ID = "20261202-1000-golden"
TODAY = date(2026, 12, 2)
MIB = 2**20

LEAPP_ENTRY_KEYS = {
    "title",
    "summary",
    "severity",
    "audience",
    "key",
    "groups",
    "detail",
    "hostname",
    "timeStamp",
    "actor",
    "id",
}
LEAPP_DETAIL_KEYS = {"remediations", "external", "related_resources"}


# --------------------------------------------------------------------------- the three hosts

INSTALLED = {
    "base-files": "12.4+deb12u11",
    "bind9": "1:9.18.33-1~deb12u2",
    "bind9-dnsutils": "1:9.18.33-1~deb12u2",
    "nginx": "1.22.1-9+deb12u2",
    "openssl": "3.0.17-1~deb12u2",
    "pkg-config": "1.8.1-1",
    "postgresql": "15+248",
    "postgresql-15": "15.14-0+deb12u1",
    "postgresql-client": "15+248",
    "postgresql-client-15": "15.14-0+deb12u1",
}
ROLES = {"FOSSP-DASPO": "postgresql", "FOSSP-WDSNG": "nginx", "FOSSP-NESBI": "bind"}
SOURCES = (
    AptSourceLine(
        "/etc/apt/sources.list.d/debian.sources",
        "http://deb.debian.org/debian",
        ("bookworm", "bookworm-updates"),
        ("main",),
    ),
    AptSourceLine(
        "/etc/apt/sources.list.d/debian.sources",
        "http://deb.debian.org/debian-security",
        ("bookworm-security",),
        ("main",),
    ),
)


def state_json() -> str:
    instances = {
        role_id: Instance(
            role_id=role_id,
            role_name=name,
            state=InstanceState.RUNNING,
            created="2026-11-30T08:00:00Z",
            updated="2026-11-30T08:00:00Z",
        )
        for role_id, name in ROLES.items()
    }
    return HostState(instances=instances).model_dump_json()


def status_file(held: tuple[str, ...] = ()) -> bytes:
    paragraphs = [
        f"Package: {name}\nStatus: {'hold' if name in held else 'install'} ok installed\n"
        f"Architecture: amd64\nVersion: {version}\nDescription: {name}\n"
        for name, version in INSTALLED.items()
    ]
    return "\n".join(paragraphs).encode()


def upgrade_facts(*, root_fs: str = "btrfs", held: tuple[str, ...] = (), point: str = "12.11") -> UpgradeFacts:
    base = Facts(
        host="db1",
        hostname="db1.example.org",
        os=OsRelease(id="debian", version_id="12", pretty_name="Debian GNU/Linux 12 (bookworm)", family=Family.DEBIAN),
        package_manager="apt",
        packages=INSTALLED,
        root_fs=root_fs,
        state_json=state_json(),
        seconds=0.42,
    )
    return UpgradeFacts(
        base=base,
        point_release=point,
        dpkg_status=status_file(held),
        sources=SOURCES,
        filesystems=(Filesystem("/", 40 * 2**30),),
        pg_clusters=(PgCluster("15", "main", 5432, "online"),),
        seconds=0.17,
    )


def release(version: str) -> Any:
    found = family_releases("debian").find(version)
    assert found is not None
    return found


MAJOR_EVENTS = (
    PackageEvent(EventKind.UPGRADED, "bind9", "1:9.18.33-1~deb12u2", "1:9.20.11-4", source="debian-13"),
    PackageEvent(EventKind.UPGRADED, "nginx", "1.22.1-9+deb12u2", "1.26.3-3+deb13u1", source="debian-13"),
    PackageEvent(EventKind.UPGRADED, "openssl", "3.0.17-1~deb12u2", "3.5.1-1", source="debian-13"),
    PackageEvent(
        EventKind.MAJOR_VERSION,
        "postgresql-15",
        "15.14-0+deb12u1",
        None,
        replacements=("postgresql-17",),
        old_major="15",
        new_major="17",
        evidence="postgresql (trixie) Depends: postgresql-17",
        source="debian-13",
    ),
    PackageEvent(
        EventKind.MAJOR_VERSION,
        "postgresql-client-15",
        "15.14-0+deb12u1",
        None,
        replacements=("postgresql-client-17",),
        old_major="15",
        new_major="17",
        source="debian-13",
    ),
    PackageEvent(
        EventKind.RENAMED,
        "pkg-config",
        "1.8.1-1",
        "1.8.1-4",
        replacements=("pkgconf",),
        evidence="pkg-config (trixie) is transitional: Depends: pkgconf",
        source="debian-13",
    ),
)
MAJOR_PREDICTION = Prediction(
    upgraded=(
        ("bind9", "1:9.18.33-1~deb12u2", "1:9.20.11-4"),
        ("nginx", "1.22.1-9+deb12u2", "1.26.3-3+deb13u1"),
        ("openssl", "3.0.17-1~deb12u2", "3.5.1-1"),
        ("pkg-config", "1.8.1-1", "1.8.1-4"),
        ("postgresql", "15+248", "17+278"),
    ),
    installed=(("pkgconf", "1.8.1-4"), ("postgresql-17", "17.6-0+deb13u1"), ("postgresql-client-17", "17.6-0+deb13u1")),
    download_bytes=312 * MIB,
    installed_size_delta_kib=180_000,
)
TRIXIE = (ReleaseInfo("stable", "trixie", "13.2", "Sat, 15 Nov 2025 10:00:00 UTC", "Debian", "Debian"),)
BOOKWORM = (
    ReleaseInfo("oldstable", "bookworm", "12.12", "Sat, 06 Sep 2025 10:00:00 UTC", "Debian", "Debian"),
    ReleaseInfo(
        "oldstable-security", "bookworm-security", "12", "Mon, 01 Dec 2025 10:00:00 UTC", "Debian", "Debian-Security"
    ),
)
NGINX_OK = ConfigCheck(
    "nginx", ("nginx", "-t"), True, "nginx: configuration file /etc/nginx/nginx.conf test is successful"
)
BIND_OK = ConfigCheck("bind", ("named-checkconf", "/etc/bind/named.conf"), True, "")
NGINX_REFUSED = ConfigCheck(
    "nginx",
    ("nginx", "-t"),
    False,
    'nginx: [emerg] unknown directive "ssl" in /etc/nginx/sites-enabled/default:7\n'
    "nginx: configuration file /etc/nginx/nginx.conf test failed\n",
)


def major_context(facts: UpgradeFacts, config: tuple[ConfigCheck, ...], snapshot_capable: bool) -> CheckContext:
    roles = deployed_roles(facts)
    migrations = plan_migrations({r.name for r in roles}, "debian", list(MAJOR_EVENTS), facts)
    return CheckContext(
        facts=facts,
        target=Target("debian", release("12"), release("13"), Level.MAJOR),
        roles=roles,
        events=MAJOR_EVENTS,
        prediction=MAJOR_PREDICTION,
        migrations=tuple(migrations),
        config_checks=config,
        archive=TRIXIE,
        snapshot_capable=snapshot_capable,
        today=TODAY,
    )


def clean_major() -> Collected:
    """(a) PostgreSQL 15, nginx and BIND on Debian 12.11, checked for 13: nothing inhibits."""
    return Collected(major_context(upgrade_facts(), (NGINX_OK, BIND_OK), True), "full-upgrade", None)


def inhibited_major() -> Collected:
    """(b) the same host with openssl held, an nginx config trixie refuses, and an ext4 root."""
    facts = upgrade_facts(root_fs="ext2/ext3", held=("openssl",))
    return Collected(major_context(facts, (NGINX_REFUSED, BIND_OK), False), "full-upgrade", None)


def service_pack() -> Collected:
    """(c) 12.11 to the newest point release: two upgrades and nothing to do."""
    events = (
        PackageEvent(EventKind.UPGRADED, "openssl", "3.0.17-1~deb12u2", "3.0.17-1~deb12u3", source="debian-12"),
        PackageEvent(EventKind.UPGRADED, "base-files", "12.4+deb12u11", "12.4+deb12u12", source="debian-12"),
    )
    prediction = Prediction(
        upgraded=(
            ("base-files", "12.4+deb12u11", "12.4+deb12u12"),
            ("openssl", "3.0.17-1~deb12u2", "3.0.17-1~deb12u3"),
        ),
        download_bytes=3 * MIB,
        installed_size_delta_kib=2,
    )
    facts = upgrade_facts()
    ctx = CheckContext(
        facts=facts,
        target=Target("debian", release("12"), release("12"), Level.SERVICE_PACK),
        roles=deployed_roles(facts),
        events=events,
        prediction=prediction,
        archive=BOOKWORM,
        today=TODAY,
    )
    return Collected(ctx, "upgrade", None)


HOSTS = {"major-clean": clean_major, "major-inhibited": inhibited_major, "service-pack": service_pack}


def report_of(name: str) -> Report:
    return build_report(HOSTS[name](), "db1", run_id=RUN_ID)


def json_of(name: str) -> dict[str, Any]:
    """The report as `fossp upgrade check --json` prints it."""
    data: dict[str, Any] = report_of(name).as_json()
    return data


def normalised(data: dict[str, Any]) -> dict[str, Any]:
    """The report without what changes from run to run: times, durations and the content ids."""
    data = json.loads(json.dumps(data))
    data["generated_at"] = "<generated_at>"
    data["facts_seconds"] = "<seconds>"
    data["checks_seconds"] = "<seconds>"
    for entry in data["entries"]:
        entry["timeStamp"] = "<timeStamp>"
        entry["id"] = "<id>"
    return data


# --------------------------------------------------------------------------- the golden files


@pytest.mark.parametrize("name", list(HOSTS))
def test_the_report_matches_its_reviewed_golden_file(name: str) -> None:
    got = normalised(json_of(name))
    path = GOLDEN / f"{name}.json"
    text = json.dumps(got, indent=2, sort_keys=True) + "\n"
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with FOSSP_UPDATE_GOLDEN=1, then review it"
    assert json.loads(path.read_text()) == got, f"{name}: the report changed; review it, then FOSSP_UPDATE_GOLDEN=1"


def test_the_deployed_roles_come_from_the_state_and_the_catalog() -> None:
    roles = deployed_roles(upgrade_facts())
    assert [(r.name, r.role_id) for r in roles] == [
        ("bind", "FOSSP-NESBI"),
        ("nginx", "FOSSP-WDSNG"),
        ("postgresql", "FOSSP-DASPO"),
    ]
    assert dict((r.name, r.packages) for r in roles)["postgresql"] == ("postgresql", "postgresql-client")


# --------------------------------------------------------------------------- Leapp's shape


@pytest.mark.parametrize("name", list(HOSTS))
def test_entries_have_exactly_leapps_keys_plus_status_and_when(name: str) -> None:
    data = json_of(name)
    assert data["leapp_run_id"] == RUN_ID == data["run_id"]
    assert isinstance(data["entries"], list)
    assert bool(data["entries"]) is (name != "service-pack")  # a service pack with nothing to do has none
    for entry in data["entries"]:
        assert set(entry) == LEAPP_ENTRY_KEYS | {"status", "when"}, entry["title"]
        assert set(entry["detail"]) == LEAPP_DETAIL_KEYS
        assert entry["severity"] in {"info", "low", "medium", "high"}
        assert entry["audience"] == "sysadmin"
        assert entry["hostname"] == "db1.example.org"
        assert entry["actor"].startswith("fossp.")
        assert entry["when"] in ("before", "after", "none")
        assert entry["timeStamp"].endswith("Z")
        for remedy in entry["detail"]["remediations"]:
            assert set(remedy) == {"type", "context"}
            assert isinstance(remedy["context"], list if remedy["type"] == "command" else str)
        for link in entry["detail"]["external"]:
            assert set(link) == {"url", "title"}
        for resource in entry["detail"]["related_resources"]:
            assert set(resource) == {"scheme", "title"}
        flags = [g for g in entry["groups"] if g in ("inhibitor", "failure", "error")]
        assert ("inhibitor" in flags) is (entry["status"] == "inhibitor")


def test_entries_are_sorted_inhibitors_first_then_by_severity() -> None:
    entries = json_of("major-inhibited")["entries"]
    inhibitors = ["inhibitor" in e["groups"] for e in entries]
    assert inhibitors == sorted(inhibitors, reverse=True)
    assert sum(inhibitors) == 3
    for group in (True, False):
        ranks = [SEVERITY_RANK[Severity(e["severity"])] for e in entries if ("inhibitor" in e["groups"]) is group]
        assert ranks == sorted(ranks)
    assert entries[-1]["severity"] == "info"


def test_every_check_has_an_outcome_and_the_counts_add_up() -> None:
    data = json_of("major-clean")
    assert [c["name"] for c in data["checks"]] == [c.name for c in checks.CHECKS]
    assert sum(data["counts"].values()) == len(checks.CHECKS)


def test_exit_codes_for_clean_inhibited_and_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert report_of("major-clean").exit_code() == 0
    assert report_of("service-pack").exit_code() == 0
    inhibited = report_of("major-inhibited")
    assert inhibited.inhibited and inhibited.exit_code() == 1

    def boom(ctx: CheckContext) -> None:
        raise OSError("no archive index")

    broken = [dataclasses.replace(c, run=boom) if c.name == "packages.held" else c for c in checks.CHECKS]
    monkeypatch.setattr(checks, "CHECKS", broken)
    assert report_of("major-clean").exit_code() == 2
    assert report_of("major-inhibited").exit_code() == 2  # an error outranks an inhibitor


def test_the_inhibited_report_names_its_three_inhibitors() -> None:
    data = json_of("major-inhibited")
    inhibiting = {c["name"] for c in data["checks"] if c["status"] == "inhibitor"}
    assert inhibiting == {"filesystem.rollback", "packages.held", "roles.config"}
    config = next(e for e in data["entries"] if e["actor"] == "fossp.roles.config")
    assert 'unknown directive "ssl"' in config["summary"]


def test_the_clean_major_report_carries_the_migration_and_the_rename() -> None:
    data = json_of("major-clean")
    migration = next(e for e in data["entries"] if e["actor"] == "fossp.roles.migrations")
    assert migration["when"] == "after"
    assert migration["detail"]["remediations"] == [
        {"type": "command", "context": ["pg_upgradecluster", "15", "main", "-m", "upgrade", "--link"]}
    ]
    assert data["prediction"]["migrations"][0]["from"] == "15"
    renamed = next(e for e in data["entries"] if e["actor"] == "fossp.packages.replaced")
    assert "pkg-config -> pkgconf (renamed)" in renamed["summary"]
    assert data["target"]["installed"] == "12.11"


# --------------------------------------------------------------------------- the HTML page


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.title = ""
        self.entries: list[list[str]] = []  # class lists of div.entry, in order
        self.external: list[tuple[str, dict[str, str | None]]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag not in ("meta", "br", "hr", "img", "link", "input"):
            self.stack.append(tag)
        classes = (values.get("class") or "").split()
        if tag == "div" and "entry" in classes:
            self.entries.append(classes)
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.external.append((tag, values))
        for attr in ("src", "href"):
            value = values.get(attr) or ""
            if attr == "src" and value.startswith(("http://", "https://", "//")):
                self.problems.append(f"{tag} {attr}={value}")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "title":
            self.title += data


def test_the_html_page_is_well_formed_and_self_contained() -> None:
    report = report_of("major-inhibited")
    refused = error_data("web9: ssh: connection refused", "web9", "unreachable")
    page = render_html(RUN_ID, [report], [{"host": "web9", "error": refused}])
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert page.startswith("<!doctype html>")
    assert parser.title.strip() == f"FOSSP upgrade report {RUN_ID}"
    assert parser.problems == []
    assert parser.stack == []  # every element closed
    assert parser.external == []  # no script, stylesheet link or frame
    host_entries = parser.entries[1:]  # the first is web9's "not checked"
    assert len(host_entries) == len(report.entries)
    flags = ["inhibitor" in classes for classes in host_entries]
    assert flags == sorted(flags, reverse=True) and sum(flags) == 3
    assert "web9: ssh: connection refused" in page
    assert "The upgrade is inhibited" in page


def test_the_html_page_escapes_what_the_host_says() -> None:
    bad = ConfigCheck("nginx", ("nginx", "-t"), False, '<script src="https://evil.example/x.js"></script>')
    collected = Collected(major_context(upgrade_facts(), (bad,), True), "full-upgrade", None)
    page = render_html(RUN_ID, [build_report(collected, "db1", run_id=RUN_ID)], [])
    parser = _Page()
    parser.feed(page)
    assert parser.external == [] and parser.problems == []
    assert "&lt;script" in page


def test_the_golden_status_file_is_a_dpkg_status() -> None:
    """Guard the fixture: the held package is what parse_dpkg_status sees as held."""
    from fossp.upgrade.archive import parse_dpkg_status

    status = parse_dpkg_status(status_file(("openssl",)).decode())
    assert status["openssl"]["Status"] == "hold ok installed"
    assert len(status) == len(INSTALLED)
