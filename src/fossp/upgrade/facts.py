"""Upgrade facts: what the checks need from a host beyond the deploy facts, in ONE round trip.

A fixed script (no user value pasted into it) prints each fact behind a marker; each
section has a pure parser, so the checks are tested on recorded facts.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field

from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import Facts, split_sections

UPGRADE_RECORD = "/var/lib/fossp/upgrade.json"

UPGRADE_SCRIPT = r"""
m() { printf '\n@@fossp:%s@@\n' "$1"; }
m debian_version; cat /etc/debian_version 2>/dev/null
m dpkg_status; [ -f /var/lib/dpkg/status ] && base64 -w0 /var/lib/dpkg/status
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && { m source; printf '%s\n' "$f"; cat "$f"; }
done
m space; df -P -B1 / /var /var/cache/apt 2>/dev/null
m reboot; [ -e /run/reboot-required ] && { echo required; cat /run/reboot-required.pkgs 2>/dev/null; }
m pg_clusters; command -v pg_lsclusters >/dev/null && pg_lsclusters --no-header 2>/dev/null
m record; cat /var/lib/fossp/upgrade.json 2>/dev/null
m end
"""


@dataclass(frozen=True)
class AptSourceLine:
    """One enabled apt source as the host has it (one-line or deb822 format)."""

    file: str
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


@dataclass(frozen=True)
class Filesystem:
    mount: str
    available: int  # bytes


@dataclass(frozen=True)
class PgCluster:
    version: str
    name: str
    port: int
    status: str  # online, down


@dataclass(frozen=True)
class UpgradeFacts:
    """The host as the upgrade checks see it; ``base`` are its deploy facts."""

    base: Facts
    point_release: str = ""  # /etc/debian_version: 12.15
    dpkg_status: bytes = b""
    sources: tuple[AptSourceLine, ...] = ()
    source_files: dict[str, str] = field(default_factory=dict)
    filesystems: tuple[Filesystem, ...] = ()
    reboot_required: bool = False
    reboot_packages: tuple[str, ...] = ()
    pg_clusters: tuple[PgCluster, ...] = ()
    record: str | None = None
    seconds: float = 0.0

    @property
    def installed_release(self) -> str:
        return self.point_release or self.base.os.version_id

    def available(self, path: str) -> int | None:
        """Free bytes of the file system holding ``path`` (the longest mount prefix)."""
        mounts = [f for f in self.filesystems if path == f.mount or path.startswith(f.mount.rstrip("/") + "/")]
        return max(mounts, key=lambda f: len(f.mount)).available if mounts else None


def parse_one_line_sources(file: str, text: str) -> list[AptSourceLine]:
    """``deb [options] URI SUITE [COMPONENT...]`` lines (deb-src and comments skipped)."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.split(maxsplit=1)[:1] != ["deb"]:
            continue
        line = re.sub(r"\[[^]]*\]", " ", line[3:])
        fields = line.split()
        if len(fields) >= 2:
            found.append(AptSourceLine(file, fields[0], (fields[1],), tuple(fields[2:])))
    return found


def parse_deb822_sources(file: str, text: str) -> list[AptSourceLine]:
    """deb822 ``.sources`` stanzas with ``Types: deb`` and not ``Enabled: no``."""
    found = []
    for stanza in re.split(r"\n\s*\n", text):
        values: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1].isspace() and key:
                values[key] += " " + line.strip()
                continue
            key, sep, value = line.partition(":")
            if sep:
                key = key.strip().lower()
                values[key] = value.strip()
        if "deb" not in values.get("types", "").split() or values.get("enabled", "yes").lower() == "no":
            continue
        for uri in values.get("uris", "").split():
            found.append(
                AptSourceLine(
                    file, uri, tuple(values.get("suites", "").split()), tuple(values.get("components", "").split())
                )
            )
    return found


def parse_sources(bodies: list[str]) -> tuple[list[AptSourceLine], dict[str, str]]:
    sources: list[AptSourceLine] = []
    files: dict[str, str] = {}
    for body in bodies:
        name, _, text = body.partition("\n")
        files[name] = text
        parse = parse_deb822_sources if name.endswith(".sources") else parse_one_line_sources
        sources += parse(name, text)
    return sources, files


def parse_df(text: str) -> list[Filesystem]:
    seen: dict[str, Filesystem] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 6 and fields[3].isdigit():
            seen[fields[5]] = Filesystem(fields[5], int(fields[3]))
    return list(seen.values())


def parse_pg_clusters(text: str) -> list[PgCluster]:
    """``pg_lsclusters --no-header``: VERSION CLUSTER PORT STATUS OWNER DATA LOG."""
    clusters = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2].isdigit():
            clusters.append(PgCluster(fields[0], fields[1], int(fields[2]), fields[3]))
    return clusters


def parse_upgrade_facts(base: Facts, output: str) -> UpgradeFacts:
    sections = split_sections(output)
    if "end" not in sections:
        raise HostError(f"{base.host}: upgrade facts were cut short (no end marker)")

    def one(name: str) -> str:
        return sections.get(name, [""])[0]

    sources, files = parse_sources(sections.get("source", []))
    reboot = one("reboot").splitlines()
    return UpgradeFacts(
        base=base,
        point_release=one("debian_version").strip(),
        dpkg_status=base64.b64decode(one("dpkg_status").strip() or b""),
        sources=tuple(sources),
        source_files=files,
        filesystems=tuple(parse_df(one("space"))),
        reboot_required=bool(reboot and reboot[0] == "required"),
        reboot_packages=tuple(line.strip() for line in reboot[1:] if line.strip()),
        pg_clusters=tuple(parse_pg_clusters(one("pg_clusters"))),
        record=one("record").strip() or None,
    )


async def gather_upgrade_facts(connector: Connector, base: Facts) -> UpgradeFacts:
    started = time.perf_counter()
    result = await connector.run(["sh", "-s"], stdin=UPGRADE_SCRIPT.encode(), timeout=connector.timeouts.facts)
    facts = parse_upgrade_facts(base, result.stdout)
    return UpgradeFacts(**{**facts.__dict__, "seconds": time.perf_counter() - started})
