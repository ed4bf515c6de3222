"""Role data migrations: which a host needs, from the package events and its facts, and their argv."""

from __future__ import annotations

from fossp.hosts.facts import Facts
from fossp.upgrade.facts import PgCluster, UpgradeFacts
from fossp.upgrade.migrations import plan_migrations
from fossp.upgrade.model import EventKind, PackageEvent
from fossp.upgrade.recorded import recorded_events

PG_15_TO_17 = PackageEvent(
    EventKind.MAJOR_VERSION,
    "postgresql-15",
    "15.18-0+deb12u1",
    "17.6-0+deb13u1",
    replacements=("postgresql-17",),
    old_major="15",
    new_major="17",
    evidence="postgresql depends on postgresql-17 in trixie",
)
PG_CLIENT_15_TO_17 = PackageEvent(
    EventKind.MAJOR_VERSION,
    "postgresql-client-15",
    "15.18-0+deb12u1",
    "17.6-0+deb13u1",
    ("postgresql-client-17",),
    "15",
    "17",
)
MARIADB_MAJOR = PackageEvent(EventKind.UPGRADED, "mariadb-server", "1:10.11.6-0+deb12u1", "1:11.8.3-0+deb13u1")


def facts(*clusters: tuple[str, str]) -> UpgradeFacts:
    found = tuple(PgCluster(version, name, 5432 + n, "online") for n, (version, name) in enumerate(clusters))
    return UpgradeFacts(base=Facts(host="db1"), pg_clusters=found)


TWO_CLUSTERS = facts(("15", "main"), ("15", "second"))


def test_postgresql_major_version_upgrades_every_old_cluster_with_link() -> None:
    [planned] = plan_migrations({"postgresql", "nginx"}, "debian", [PG_15_TO_17], TWO_CLUSTERS)
    assert (planned.role, planned.old, planned.new) == ("postgresql", "15", "17")
    assert planned.clusters == ("main", "second")
    assert planned.commands == (
        ("pg_upgradecluster", "15", "main", "-m", "upgrade", "--link"),
        ("pg_upgradecluster", "15", "second", "-m", "upgrade", "--link"),
    )
    assert planned.packages == ()
    assert planned.source.startswith("https://manpages.debian.org/trixie/postgresql-common/")


def test_postgresql_after_steps_drop_each_cluster_and_purge_once() -> None:
    [planned] = plan_migrations({"postgresql"}, "debian", [PG_15_TO_17], TWO_CLUSTERS)
    drops = [argv for argv in planned.after if argv[0] == "pg_dropcluster"]
    purges = [argv for argv in planned.after if argv[:2] == ("apt-get", "purge")]
    assert drops == [("pg_dropcluster", "15", "main"), ("pg_dropcluster", "15", "second")]
    assert purges == [("apt-get", "purge", "postgresql-15", "postgresql-client-15")]
    assert len(planned.after) == 3


def test_postgresql_old_packages_are_purged_after_every_cluster_is_dropped() -> None:
    [planned] = plan_migrations({"postgresql"}, "debian", [PG_15_TO_17], TWO_CLUSTERS)
    assert planned.after[-1] == ("apt-get", "purge", "postgresql-15", "postgresql-client-15")


def test_only_clusters_of_the_old_version_are_migrated() -> None:
    [planned] = plan_migrations(
        {"postgresql"}, "debian", [PG_15_TO_17], facts(("13", "legacy"), ("15", "main"), ("17", "fresh"))
    )
    assert planned.clusters == ("main",)
    assert planned.commands == (("pg_upgradecluster", "15", "main", "-m", "upgrade", "--link"),)


def test_the_client_event_alone_is_detected_the_same_way() -> None:
    """Any versioned postgresql-* package names the move; both events give one migration."""
    planned = plan_migrations({"postgresql"}, "debian", [PG_CLIENT_15_TO_17, PG_15_TO_17], TWO_CLUSTERS)
    assert [(m.role, m.old, m.new) for m in planned] == [("postgresql", "15", "17")]


def test_nothing_when_the_role_is_not_deployed() -> None:
    assert plan_migrations({"nginx", "bind"}, "debian", [PG_15_TO_17, MARIADB_MAJOR], TWO_CLUSTERS) == []
    assert plan_migrations(set(), "debian", [PG_15_TO_17], TWO_CLUSTERS) == []


def test_nothing_without_a_major_version_event() -> None:
    same_major = PackageEvent(EventKind.UPGRADED, "postgresql-15", "15.17-0+deb12u1", "15.18-0+deb12u1")
    assert plan_migrations({"postgresql"}, "debian", [same_major], TWO_CLUSTERS) == []
    assert plan_migrations({"postgresql"}, "debian", [], TWO_CLUSTERS) == []


def test_mariadb_version_move_is_read_from_the_versions() -> None:
    [planned] = plan_migrations({"mariadb"}, "debian", [MARIADB_MAJOR], facts())
    assert (planned.role, planned.old, planned.new) == ("mariadb", "10.11", "11.8")
    assert planned.commands == (("mariadb-upgrade",),)
    assert planned.after == ()
    assert planned.clusters == ()


def test_mariadb_within_a_series_needs_nothing() -> None:
    point = PackageEvent(EventKind.UPGRADED, "mariadb-server", "1:10.11.6-0+deb12u1", "1:10.11.14-0+deb12u1")
    gone = PackageEvent(EventKind.REMOVED, "mariadb-server", "1:10.11.6-0+deb12u1", None)
    assert plan_migrations({"mariadb"}, "debian", [point], facts()) == []
    assert plan_migrations({"mariadb"}, "debian", [gone], facts()) == []


def test_the_summary_is_what_the_report_shows() -> None:
    [planned] = plan_migrations({"postgresql"}, "debian", [PG_15_TO_17], facts(("15", "main")))
    assert planned.summary() == {
        "role": "postgresql",
        "from": "15",
        "to": "17",
        "packages": [],
        "commands": [["pg_upgradecluster", "15", "main", "-m", "upgrade", "--link"]],
        "after": [["pg_dropcluster", "15", "main"], ["apt-get", "purge", "postgresql-15", "postgresql-client-15"]],
        "source": planned.source,
    }


def test_a_cluster_name_is_one_argv_item_never_split_or_interpreted() -> None:
    [planned] = plan_migrations({"postgresql"}, "debian", [PG_15_TO_17], facts(("15", "a;b $(x)")))
    assert planned.commands == (("pg_upgradecluster", "15", "a;b $(x)", "-m", "upgrade", "--link"),)


# --------------------------------------------------------------------------- fedora


FEDORA_39 = {"postgresql-server": "15.6-1.fc39", "postgresql": "15.6-1.fc39", "mariadb-server": "3:10.5.22-1.fc39"}


def test_fedora_postgresql_uses_postgresql_setup_upgrade() -> None:
    events = recorded_events(FEDORA_39, "39", "40")
    planned = {m.role: m for m in plan_migrations({"postgresql"}, "fedora", events, facts())}
    assert list(planned) == ["postgresql"]
    pg = planned["postgresql"]
    assert (pg.old, pg.new) == ("15", "16")
    assert pg.packages == ("postgresql-upgrade",)
    assert pg.commands == (("postgresql-setup", "--upgrade"),)
    assert pg.after == (("rm", "-rf", "/var/lib/pgsql/data-old"),)
    assert pg.clusters == ()  # one data directory, no per-cluster steps
    assert pg.source.startswith("https://docs.fedoraproject.org/")


def test_fedora_mariadb_reads_the_recorded_series() -> None:
    events = recorded_events(FEDORA_39, "39", "40")
    [planned] = plan_migrations({"mariadb"}, "fedora", events, facts())
    assert (planned.role, planned.old, planned.new) == ("mariadb", "10.5", "10.11")
    assert planned.commands == (("mariadb-upgrade",),)


def test_fedora_without_a_recorded_move_needs_nothing() -> None:
    events = recorded_events(FEDORA_39, "40", "41")  # PostgreSQL and MariaDB stay put in 41
    assert plan_migrations({"postgresql", "mariadb"}, "fedora", events, facts()) == []


def test_the_family_picks_the_steps() -> None:
    [debian] = plan_migrations({"postgresql"}, "debian", [PG_15_TO_17], facts(("15", "main")))
    [fedora] = plan_migrations({"postgresql"}, "fedora", [PG_15_TO_17], facts(("15", "main")))
    assert debian.commands[0][0] == "pg_upgradecluster"
    assert fedora.commands == (("postgresql-setup", "--upgrade"),)
    assert plan_migrations({"postgresql"}, "suse", [PG_15_TO_17], facts(("15", "main"))) == []
