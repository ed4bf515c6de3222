"""Snapshots of a BTRFS root: facts, create, list, delete, diff and cleanup.

Layout (snapper's, so `snapper list` shows FOSSP's snapshots and FOSSP shows snapper's):
``/.snapshots`` is a subvolume; snapshot N is the read-only subvolume
``/.snapshots/N/snapshot`` with its metadata in ``/.snapshots/N/info.xml`` (type
single|pre|post, pre_num, date in UTC, description, cleanup algorithm, userdata; FOSSP
puts ``fossp_run=<run id>`` and ``important=yes`` there, as snapper does).

On a host with snapper and a config for ``/`` snapshots are made with ``snapper create``;
elsewhere with ``btrfs subvolume snapshot -r`` and an info.xml FOSSP writes. Everything
FOSSP needs to know about a host's snapshots comes from ONE read-only script
(:data:`FACTS_SCRIPT`) and a pure parser (:func:`parse_snapshot_facts`); values reach
scripts only as positional arguments, never pasted into them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from fossp.errors import BadInput, error_data
from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import parse_packages, split_sections

SNAPSHOTS_DIR = "/.snapshots"
#: The lab's restart (``fossp lab restart``) turns the snapshot named here into the new root.
NEXT_ROOT_FILE = f"{SNAPSHOTS_DIR}/fossp-next-root"
Kind = Literal["single", "pre", "post"]
KINDS: tuple[str, ...] = ("single", "pre", "post")
CLEANUPS: tuple[str, ...] = ("", "number", "timeline", "empty-pre-post")
#: A snapshot is refused (the change it would bracket does not start) below this much free space.
MIN_FREE_BYTES = 512 * 1024 * 1024
MIN_FREE_FRACTION = 0.02
#: Userdata values snapper accepts (``key=value,key=value``): no comma, no '='.
_USERDATA_VALUE = re.compile(r"^[A-Za-z0-9._:+@/-]{0,200}$")

FACTS_SCRIPT = r"""
m() { printf '\n@@fossp:%s@@\n' "$1"; }
m rootfs; stat -f -c %T /
m space; stat -f -c '%S %b %a' /
m container
[ -f /run/systemd/container ] && printf 'file %s\n' "$(cat /run/systemd/container)"
tr '\0' '\n' < /proc/1/environ 2>/dev/null | sed -n 's/^container=/env /p'
command -v systemd-detect-virt >/dev/null && printf 'detect %s\n' "$(systemd-detect-virt --container 2>/dev/null)"
if [ "$(stat -f -c %T /)" = btrfs ]; then
  m snapper; command -v snapper
  for c in /etc/snapper/configs/*; do
    [ -f "$c" ] && grep -qx 'SUBVOLUME="/"' "$c" && { m snapper_config; printf '%s\n' "${c##*/}"; cat "$c"; }
  done
  m rootid; btrfs inspect-internal rootid / 2>&1
  m default; btrfs subvolume get-default / 2>&1
  m rootpath; btrfs subvolume show / 2>&1 | head -n 1
  m uuid; findmnt -n -o UUID / 2>/dev/null
  m subvolumes; btrfs subvolume list -o / 2>&1
  [ -d /.snapshots ] && { m snapshot_subvolumes; btrfs subvolume list -o /.snapshots 2>&1; }
  for d in /.snapshots/*; do
    n=${d##*/}
    case "$n" in *[!0-9]*|'') continue;; esac
    m snapshot; printf '%s %s\n' "$n" "$([ -d "$d/snapshot" ] && echo present || echo missing)"
    cat "$d/info.xml" 2>/dev/null
  done
  m next_root; cat /.snapshots/fossp-next-root 2>/dev/null
fi
m end
"""


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Snapshot:
    """One snapshot and its metadata (snapper's info.xml)."""

    number: int
    kind: str = "single"
    pre_number: int | None = None
    date: datetime | None = None
    description: str = ""
    cleanup: str = ""
    userdata: dict[str, str] = field(default_factory=dict)
    subvolume_id: int | None = None
    #: The snapshot's subvolume exists (a half-made or half-deleted one has only its folder).
    present: bool = True
    default: bool = False  # the file system's default subvolume (what the next boot mounts)
    running: bool = False  # the root the host runs on now (snapper's "active")
    problem: str | None = None  # why its metadata cannot be read

    @property
    def important(self) -> bool:
        return self.userdata.get("important") == "yes"

    @property
    def run_id(self) -> str | None:
        return self.userdata.get("fossp_run")

    def summary(self) -> dict[str, object]:
        """snake_case JSON for --json output."""
        return {
            "number": self.number,
            "type": self.kind,
            "pre_number": self.pre_number,
            "created_at": self.date.isoformat() if self.date else None,
            "description": self.description,
            "cleanup": self.cleanup,
            "userdata": self.userdata,
            "important": self.important,
            "run_id": self.run_id,
            "subvolume_id": self.subvolume_id,
            "present": self.present,
            "default": self.default,
            "running": self.running,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Subvolume:
    id: int
    path: str  # as the host names it ("/var/lib/postgresql")


@dataclass(frozen=True)
class SnapshotFacts:
    """What FOSSP knows about a host's root and its snapshots (one read-only round trip)."""

    host: str
    root_fs: str = ""
    snapper: bool = False  # the snapper command is installed
    snapper_config: str | None = None  # snapper's config for "/" ("root"), if any
    snapper_settings: dict[str, str] = field(default_factory=dict)
    container: str | None = None  # "fossp-lab", "lxc", ...; None on a machine that boots
    root_id: int | None = None  # subvolume the host runs on
    default_id: int | None = None  # default subvolume of the file system
    root_path: str = ""  # the root subvolume's path from the file system's top ("roots/h", "@", "/")
    fs_uuid: str = ""
    snapshots_subvolume: bool = False  # /.snapshots exists as a subvolume
    subvolumes: list[Subvolume] = field(default_factory=list)  # data subvolumes nested in /
    snapshots: list[Snapshot] = field(default_factory=list)
    size_bytes: int = 0
    free_bytes: int = 0
    next_root: int | None = None  # a restore waiting for `fossp lab restart`

    @property
    def btrfs(self) -> bool:
        return self.root_fs == "btrfs"

    @property
    def free_fraction(self) -> float:
        return self.free_bytes / self.size_bytes if self.size_bytes else 0.0

    @property
    def tool(self) -> str:
        """How FOSSP takes snapshots here."""
        return f"snapper (config {self.snapper_config})" if self.snapper_config else "btrfs"

    def snapshot(self, number: int) -> Snapshot | None:
        return next((s for s in self.snapshots if s.number == number), None)

    def summary(self) -> dict[str, object]:
        return {
            "host": self.host,
            "root_fs": self.root_fs,
            "btrfs": self.btrfs,
            "tool": self.tool if self.btrfs else None,
            "snapper_config": self.snapper_config,
            "container": self.container,
            "root_subvolume_id": self.root_id,
            "default_subvolume_id": self.default_id,
            "size_bytes": self.size_bytes,
            "free_bytes": self.free_bytes,
            "free_fraction": round(self.free_fraction, 4),
            "data_subvolumes": [s.path for s in self.subvolumes],
            "pending_restore": self.next_root,
            "snapshots": [s.summary() for s in self.snapshots],
        }


# --------------------------------------------------------------------------- parsers (pure)


def parse_info_xml(number: int, text: str) -> Snapshot:
    """Snapper's info.xml; a missing or broken one gives a snapshot with ``problem`` set."""
    if not text.strip():
        return Snapshot(number=number, problem="no info.xml")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        return Snapshot(number=number, problem=f"info.xml unreadable: {error}")

    def value(tag: str) -> str:
        return (root.findtext(tag) or "").strip()

    userdata = {
        (item.findtext("key") or "").strip(): (item.findtext("value") or "").strip()
        for item in root.findall("userdata")
    }
    kind = value("type") or "single"
    pre = value("pre_num")
    num = value("num")
    problem = None
    if num and num != str(number):
        problem = f"info.xml says number {num}"
    if kind not in KINDS:
        problem = f"unknown type {kind!r}"
    return Snapshot(
        number=number,
        kind=kind,
        pre_number=int(pre) if pre.isdigit() else None,
        date=_parse_date(value("date")),
        description=value("description"),
        cleanup=value("cleanup"),
        userdata={k: v for k, v in userdata.items() if k},
        problem=problem,
    )


def _parse_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def info_xml(snapshot: Snapshot) -> str:
    """info.xml as snapper writes it (values escaped by the XML writer)."""
    root = ET.Element("snapshot")
    ET.SubElement(root, "type").text = snapshot.kind
    ET.SubElement(root, "num").text = str(snapshot.number)
    if snapshot.pre_number is not None:
        ET.SubElement(root, "pre_num").text = str(snapshot.pre_number)
    date = snapshot.date or datetime.now(UTC)
    ET.SubElement(root, "date").text = date.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if snapshot.description:
        ET.SubElement(root, "description").text = snapshot.description
    if snapshot.cleanup:
        ET.SubElement(root, "cleanup").text = snapshot.cleanup
    for key, val in snapshot.userdata.items():
        item = ET.SubElement(root, "userdata")
        ET.SubElement(item, "key").text = key
        ET.SubElement(item, "value").text = val
    ET.indent(root)
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


_SUBVOLUME_LINE = re.compile(r"^ID (\d+) gen \d+ (?:cgen \d+ )?top level (\d+) (?:otime .* )?path (.+)$")
_SNAPSHOT_PATH = re.compile(r"(?:^|/)\.snapshots/(\d+)/snapshot$")


def parse_subvolume_list(text: str) -> list[tuple[int, str]]:
    """``btrfs subvolume list`` lines -> (id, path from the file system's top)."""
    found = []
    for line in text.splitlines():
        match = _SUBVOLUME_LINE.match(line.strip())
        if match:
            found.append((int(match.group(1)), match.group(3)))
    return found


def _host_path(path: str, root_path: str) -> str | None:
    """A path from the file system's top as the host sees it, or None if outside its root."""
    if root_path in ("", "/", "<FS_TREE>"):
        return "/" + path.lstrip("/")
    prefix = root_path.strip("/") + "/"
    return "/" + path[len(prefix) :] if path.startswith(prefix) else None


def parse_snapper_config(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip().strip('"')
    return values


def _first_int(text: str) -> int | None:
    match = re.search(r"\d+", text)
    return int(match.group()) if match else None


def parse_snapshot_facts(host: str, output: str) -> SnapshotFacts:
    """The facts script's whole output -> SnapshotFacts (pure: tests feed recorded output)."""
    sections = split_sections(output)
    if "end" not in sections:
        raise HostError(f"{host}: snapshot facts were cut short (no end marker); output: {output[-500:]!r}")

    def one(name: str) -> str:
        return sections.get(name, [""])[0].strip()

    size = free = 0
    space = one("space").split()
    if len(space) == 3 and all(part.isdigit() for part in space):
        block, blocks, available = (int(part) for part in space)
        size, free = block * blocks, block * available
    container = _container(one("container"))
    config_name, settings = None, {}
    if sections.get("snapper_config"):
        name, _, body = sections["snapper_config"][0].partition("\n")
        config_name, settings = name.strip(), parse_snapper_config(body)
    root_id = _first_int(one("rootid")) if one("rootid").isdigit() else None
    default_line = one("default")
    default_id = _first_int(default_line) if default_line.startswith("ID ") else None
    root_path = one("rootpath").splitlines()[0].strip() if one("rootpath") else ""
    snapshot_ids = {
        int(match.group(1)): found_id
        for found_id, path in parse_subvolume_list(one("snapshot_subvolumes"))
        if (match := _SNAPSHOT_PATH.search(path))
    }
    nested = parse_subvolume_list(one("subvolumes"))
    data: list[Subvolume] = []
    has_snapshots_subvolume = False
    for nested_id, path in nested:
        seen = _host_path(path, root_path)
        if seen is None:
            continue
        if seen == SNAPSHOTS_DIR:
            has_snapshots_subvolume = True
        elif not seen.startswith(SNAPSHOTS_DIR + "/"):
            data.append(Subvolume(nested_id, seen))
    snapshots = []
    for body in sections.get("snapshot", []):
        header, _, xml_text = body.partition("\n")
        number_text, _, presence = header.partition(" ")
        if not number_text.isdigit():
            continue
        number = int(number_text)
        snap = parse_info_xml(number, xml_text)
        subvolume_id = snapshot_ids.get(number)
        snapshots.append(
            replace(
                snap,
                present=presence.strip() == "present",
                subvolume_id=subvolume_id,
                default=subvolume_id is not None and subvolume_id == default_id,
                running=subvolume_id is not None and subvolume_id == root_id,
            )
        )
    pointer = one("next_root")
    return SnapshotFacts(
        host=host,
        root_fs=one("rootfs"),
        snapper=bool(one("snapper")),
        snapper_config=config_name if one("snapper") else None,
        snapper_settings=settings,
        container=container,
        root_id=root_id,
        default_id=default_id,
        root_path=root_path,
        fs_uuid=one("uuid"),
        snapshots_subvolume=has_snapshots_subvolume,
        subvolumes=sorted(data, key=lambda s: s.path),
        snapshots=sorted(snapshots, key=lambda s: s.number),
        size_bytes=size,
        free_bytes=free,
        next_root=int(pointer) if pointer.isdigit() else None,
    )


def _container(text: str) -> str | None:
    """/run/systemd/container, PID 1's ``container=`` or systemd-detect-virt: a container's name."""
    for line in text.splitlines():
        source, _, value = line.partition(" ")
        value = value.strip()
        if source in ("file", "env") and value:
            return value
        if source == "detect" and value and value != "none":
            return value
    return None


async def gather_snapshot_facts(connector: Connector) -> SnapshotFacts:
    """Run the read-only facts script once on a live host."""
    if connector.root is not None:
        raise BadInput(f"{connector.name}: snapshots need a live host, not an offline root folder")
    result = await connector.run(["sh", "-s"], stdin=FACTS_SCRIPT.encode())
    return parse_snapshot_facts(connector.name, result.stdout)


def require_btrfs(facts: SnapshotFacts) -> None:
    """Say up front that a host without a BTRFS root has no snapshots (exit 2)."""
    if not facts.btrfs:
        raise BadInput(
            f"{facts.host}: the root file system is {facts.root_fs or 'unknown'}, not BTRFS: no snapshots here; "
            "FOSSP's undo there is the ledger and the saved originals (`fossp decommission`)"
        )


def not_btrfs_note(facts: SnapshotFacts) -> str:
    return f"root is {facts.root_fs or 'unknown'}, not BTRFS: no snapshots (undo falls back to the ledger)"


# --------------------------------------------------------------------------- create


def _check_value(what: str, value: str) -> None:
    if not _USERDATA_VALUE.match(value):
        raise BadInput(f"{what} {value!r}: use letters, digits and . _ : + @ / - only (snapper userdata)")


def check_free_space(facts: SnapshotFacts, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse a snapshot (and the change it brackets) when the file system is nearly full.

    The floor is ``min_free_bytes`` or 2 % of the file system, whichever is more; 0 turns it off.
    """
    floor = max(min_free_bytes, int(facts.size_bytes * MIN_FREE_FRACTION)) if min_free_bytes else 0
    if facts.free_bytes < floor:
        raise HostError(
            f"{facts.host}: only {_size(facts.free_bytes)} free of {_size(facts.size_bytes)} on / "
            f"(FOSSP needs {_size(floor)} for a snapshot): no snapshot taken and the change does not start; "
            "free space first (`fossp snapshot cleanup`)"
        )


def _size(number: int) -> str:
    value = float(number)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{number} B"


_ALLOCATE_SCRIPT = r"""
S="$1"
if [ ! -d "$S" ]; then btrfs subvolume create "$S" >&2 || exit 1; chmod 750 "$S"; fi
n=$(ls "$S" | grep -E '^[0-9]+$' | sort -n | tail -n 1); n=$(( ${n:-0} + 1 ))
while ! mkdir "$S/$n" 2>/dev/null; do [ -d "$S" ] || exit 1; n=$((n + 1)); done
echo "$n"
"""

_SNAPSHOT_SCRIPT = r"""
if btrfs subvolume snapshot $3 "$1" "$2/snapshot" >&2; then exit 0; fi
rm -rf -- "$2"; exit 1
"""


async def take_snapshot(
    connector: Connector,
    kind: str,
    description: str,
    run_id: str,
    cleanup: str = "number",
    important: bool = False,
    pre_number: int | None = None,
    *,
    facts: SnapshotFacts | None = None,
    min_free_bytes: int = MIN_FREE_BYTES,
) -> Snapshot:
    """Take a read-only snapshot of ``/`` (snapper's if configured, else btrfs + info.xml).

    Refused before anything changes (BadInput: not BTRFS or a bad value; HostError: too
    little free space, or the snapshot command failed) -- the caller must then not start
    the change the snapshot brackets. ``facts`` may be passed to save the round trip.
    """
    return await _create(
        connector, kind, description, run_id, cleanup, important, pre_number, facts, min_free_bytes, writable_from=None
    )


async def snapshot_pair_post(
    connector: Connector, pre: Snapshot | int, description: str, run_id: str, important: bool = False
) -> Snapshot:
    """The ``post`` half, naming its ``pre`` (snapper pairs them in `snapper list`)."""
    number = pre.number if isinstance(pre, Snapshot) else pre
    return await take_snapshot(connector, "post", description, run_id, important=important, pre_number=number)


async def _create(
    connector: Connector,
    kind: str,
    description: str,
    run_id: str,
    cleanup: str,
    important: bool,
    pre_number: int | None,
    facts: SnapshotFacts | None,
    min_free_bytes: int,
    writable_from: int | None,
) -> Snapshot:
    if kind not in KINDS:
        raise BadInput(f"snapshot type {kind!r}: one of {', '.join(KINDS)}")
    if cleanup not in CLEANUPS:
        raise BadInput(f"cleanup algorithm {cleanup!r}: one of {', '.join(c or '(none)' for c in CLEANUPS)}")
    if (kind == "post") != (pre_number is not None):
        raise BadInput("a post snapshot names its pre snapshot (pre_number), and only a post one does")
    if "\n" in description or len(description) > 500:
        raise BadInput("a snapshot description is one line of at most 500 characters")
    _check_value("run id", run_id)
    facts = facts or await gather_snapshot_facts(connector)
    require_btrfs(facts)
    if pre_number is not None:
        pre = facts.snapshot(pre_number)
        if pre is None or pre.kind != "pre":
            raise BadInput(f"{facts.host}: snapshot {pre_number} is not a pre snapshot (see `fossp snapshot list`)")
    check_free_space(facts, min_free_bytes)
    userdata = {"fossp_run": run_id} if run_id else {}
    if important:
        userdata["important"] = "yes"
    if facts.snapper_config:
        number = await _snapper_create(
            connector, facts.snapper_config, kind, description, cleanup, userdata, pre_number, writable_from
        )
    else:
        number = await _btrfs_create(connector, kind, description, cleanup, userdata, pre_number, writable_from)
    return Snapshot(
        number=number,
        kind=kind,
        pre_number=pre_number,
        date=datetime.now(UTC).replace(microsecond=0),
        description=description,
        cleanup=cleanup,
        userdata=userdata,
    )


async def _snapper_create(
    connector: Connector,
    config: str,
    kind: str,
    description: str,
    cleanup: str,
    userdata: dict[str, str],
    pre_number: int | None,
    writable_from: int | None,
) -> int:
    argv = ["snapper", "-c", config, "create", "--type", kind, "--print-number", "--description", description]
    if cleanup:
        argv += ["--cleanup-algorithm", cleanup]
    if userdata:
        argv += ["--userdata", ",".join(f"{k}={v}" for k, v in userdata.items())]
    if pre_number is not None:
        argv += ["--pre-number", str(pre_number)]
    if writable_from is not None:
        argv += ["--read-write", "--from", str(writable_from)]
    result = await connector.run(argv)
    number = result.stdout.strip()
    if not result.ok or not number.isdigit():
        raise HostError(f"{connector.name}: snapshot not taken: {result.describe()}")
    return int(number)


async def _btrfs_create(
    connector: Connector,
    kind: str,
    description: str,
    cleanup: str,
    userdata: dict[str, str],
    pre_number: int | None,
    writable_from: int | None,
) -> int:
    allocated = await connector.run(["sh", "-c", _ALLOCATE_SCRIPT, "fossp-snapshot", SNAPSHOTS_DIR])
    text = allocated.stdout.strip()
    if not allocated.ok or not text.isdigit():
        raise HostError(f"{connector.name}: snapshot not taken: {allocated.describe()}")
    number = int(text)
    folder = f"{SNAPSHOTS_DIR}/{number}"
    meta = Snapshot(
        number=number,
        kind=kind,
        pre_number=pre_number,
        date=datetime.now(UTC),
        description=description,
        cleanup=cleanup,
        userdata=userdata,
    )
    try:
        await connector.write_file(f"{folder}/info.xml", info_xml(meta).encode(), 0o640)
    except HostError:
        await connector.run(["rm", "-rf", "--", folder])
        raise
    source = "/" if writable_from is None else f"{SNAPSHOTS_DIR}/{writable_from}/snapshot"
    result = await connector.run(
        ["sh", "-c", _SNAPSHOT_SCRIPT, "fossp-snapshot", source, folder, "" if writable_from is not None else "-r"]
    )
    if not result.ok:
        raise HostError(f"{connector.name}: snapshot not taken: {result.describe()}")
    return number


# --------------------------------------------------------------------------- list, delete


@dataclass
class DeleteOutcome:
    """What a delete or a cleanup did: deleted numbers, and the ones that failed (with why)."""

    host: str
    planned: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)  # why others stayed (cleanup)

    def summary(self) -> dict[str, object]:
        return {
            "host": self.host,
            "planned": self.planned,
            "deleted": self.deleted,
            "failed": [
                {"number": n, "error": error_data(e, f"{self.host}: snapshot {n}", "host_failed")}
                for n, e in self.failed.items()
            ],
            "kept": self.kept,
        }


def check_deletable(facts: SnapshotFacts, numbers: Iterable[int]) -> list[int]:
    """Numbers that may be deleted, in order; BadInput names an unknown, default or running one."""
    require_btrfs(facts)
    wanted = sorted(set(numbers))
    if not wanted:
        raise BadInput("name at least one snapshot number")
    if not facts.snapshots:
        raise BadInput(f"{facts.host}: has no snapshots")
    for number in wanted:
        snap = facts.snapshot(number)
        if snap is None:
            raise BadInput(f"{facts.host}: no snapshot {number} (see `fossp snapshot list`)")
        if snap.running or snap.default:
            what = "the running root" if snap.running else "the default subvolume (the next boot's root)"
            raise BadInput(f"{facts.host}: snapshot {number} is {what}; FOSSP never deletes it")
        if facts.next_root == number:
            raise BadInput(f"{facts.host}: snapshot {number} waits to become the root (`fossp lab restart`)")
    return wanted


#: An upgrade keeps read-only copies of the data subvolumes in N/data (see fossp.upgrade.run).
_DELETE_DATA_SCRIPT = r"""
for d in "$1"/data/*; do
  [ -d "$d" ] || continue
  btrfs property set -ts "$d" ro false >&2 2>/dev/null
  btrfs subvolume delete "$d" >&2 || exit 1
done
rm -rf -- "$1/data"
"""
_DELETE_SCRIPT = (
    _DELETE_DATA_SCRIPT
    + r"""
if [ -d "$1/snapshot" ]; then btrfs subvolume delete "$1/snapshot" >&2 || exit 1; fi
rm -rf -- "$1"
"""
)


async def _delete_one(connector: Connector, facts: SnapshotFacts, number: int) -> None:
    folder = f"{SNAPSHOTS_DIR}/{number}"
    if facts.snapper_config:
        script = _DELETE_DATA_SCRIPT + 'exec snapper -c "$2" delete "$3"\n'
        argv = ["sh", "-c", script, "fossp-delete", folder, facts.snapper_config, str(number)]
    else:
        argv = ["sh", "-c", _DELETE_SCRIPT, "fossp-delete", folder]
    result = await connector.run(argv)
    if not result.ok:
        raise HostError(f"{connector.name}: snapshot {number} not deleted: {result.describe()}")


async def delete_snapshots(
    connector: Connector, numbers: Iterable[int], *, facts: SnapshotFacts | None = None
) -> DeleteOutcome:
    """Delete snapshots; one that fails to delete is reported and the rest still go.

    Refused before anything changes (BadInput) when a number is unknown, or is the
    running root or the default subvolume.
    """
    facts = facts or await gather_snapshot_facts(connector)
    wanted = check_deletable(facts, numbers)
    outcome = DeleteOutcome(connector.name, planned=wanted)
    await _delete_all(connector, facts, wanted, outcome)
    return outcome


async def _delete_all(connector: Connector, facts: SnapshotFacts, numbers: list[int], outcome: DeleteOutcome) -> None:
    # A post before its pre: never a post left without its pre if a delete fails midway.
    for number in sorted(numbers, reverse=True):
        try:
            await _delete_one(connector, facts, number)
        except HostError as error:
            outcome.failed[number] = error.message
        else:
            outcome.deleted.append(number)
    outcome.deleted.sort()


# --------------------------------------------------------------------------- cleanup


@dataclass(frozen=True)
class Limits:
    """snapper's number and space cleanup settings (its defaults).

    ``number_limit`` and ``number_limit_important`` may be ranges ("2-10", as snapper
    allows): the upper bound is kept normally, the lower one when space runs short.
    """

    number_limit: str = "2-50"
    number_limit_important: str = "2-10"
    number_min_age: int = 1800  # seconds; a younger snapshot is never deleted
    space_limit: float = 0.5  # snapshots may use this fraction of the file system
    free_limit: float = 0.2  # this fraction of the file system should stay free

    @classmethod
    def from_snapper(cls, settings: dict[str, str]) -> Limits:
        """A snapper config's values (those it lacks keep FOSSP's defaults)."""
        base = cls()

        def number(key: str, default: float) -> float:
            try:
                return float(settings[key])
            except (KeyError, ValueError):
                return default

        return cls(
            number_limit=settings.get("NUMBER_LIMIT") or base.number_limit,
            number_limit_important=settings.get("NUMBER_LIMIT_IMPORTANT") or base.number_limit_important,
            number_min_age=int(number("NUMBER_MIN_AGE", base.number_min_age)),
            space_limit=number("SPACE_LIMIT", base.space_limit),
            free_limit=number("FREE_LIMIT", base.free_limit),
        )

    @staticmethod
    def bounds(value: str) -> tuple[int, int]:
        """ "50" -> (50, 50); "2-50" -> (2, 50)."""
        low, sep, high = value.partition("-")
        try:
            lower, upper = int(low), int(high if sep else low)
        except ValueError:
            raise BadInput(f"snapshot limit {value!r}: a number or a range like 2-10") from None
        if lower < 0 or upper < lower:
            raise BadInput(f"snapshot limit {value!r}: a number or a range like 2-10")
        return lower, upper


def _units(snapshots: Sequence[Snapshot]) -> list[list[Snapshot]]:
    """Singles alone, a pre with its post(s) together: what cleanup keeps or deletes as one."""
    by_number = {s.number: s for s in snapshots}
    posts: dict[int, list[Snapshot]] = {}
    for snap in snapshots:
        if snap.kind == "post" and snap.pre_number in by_number:
            posts.setdefault(snap.pre_number, []).append(snap)
    units = []
    for snap in snapshots:
        if snap.kind == "post" and snap.pre_number in by_number:
            continue
        units.append([snap, *posts.get(snap.number, [])])
    return units


def cleanup_plan(
    snapshots: Sequence[Snapshot],
    limits: Limits,
    free_fraction: float,
    now: datetime | None = None,
    snapshot_fraction: float | None = None,
    keep: Iterable[int] = (),
) -> list[int]:
    """Snapshot numbers that snapper's number cleanup would delete (PURE).

    Only snapshots whose cleanup algorithm is ``number`` are candidates; a pre/post pair
    counts once and goes as one; important ones are counted against their own limit;
    the youngest are kept; nothing younger than ``number_min_age`` goes, nor a unit
    holding the running root, the default subvolume or a broken snapshot. When free space
    is below ``free_limit``, or the snapshots use more than ``space_limit`` of the file
    system (``snapshot_fraction``, known where btrfs quotas are on), the lower bounds of
    the ranges apply instead of the upper ones, as snapper does. Units holding a number
    in ``keep`` (a restore's pending root) stay too.
    """
    kept_numbers = set(keep)
    now = now or datetime.now(UTC)
    low, high = Limits.bounds(limits.number_limit)
    low_important, high_important = Limits.bounds(limits.number_limit_important)
    short = free_fraction < limits.free_limit or (snapshot_fraction or 0.0) > limits.space_limit
    keep_plain, keep_important = (low, low_important) if short else (high, high_important)

    def candidate(unit: list[Snapshot]) -> bool:
        return all(s.cleanup == "number" and s.problem is None for s in unit)

    def protected(unit: list[Snapshot]) -> bool:
        old_enough = all(s.date is not None and (now - s.date).total_seconds() >= limits.number_min_age for s in unit)
        return not old_enough or any(s.running or s.default or s.number in kept_numbers for s in unit)

    units = [unit for unit in _units(sorted(snapshots, key=lambda s: s.number)) if candidate(unit)]
    plan: list[int] = []
    for important, limit in ((False, keep_plain), (True, keep_important)):
        group = [unit for unit in units if any(s.important for s in unit) == important]
        youngest_first = sorted(group, key=lambda unit: unit[0].number, reverse=True)
        for unit in youngest_first[limit:]:
            if not protected(unit):
                plan += [s.number for s in unit]
    return sorted(plan)


async def cleanup(
    connector: Connector, limits: Limits | None = None, now: datetime | None = None, dry_run: bool = False
) -> DeleteOutcome:
    """Apply :func:`cleanup_plan` on the host (limits: the snapper config's, else defaults).

    A snapshot that fails to delete is reported in ``failed``; the others still go.
    """
    facts = await gather_snapshot_facts(connector)
    require_btrfs(facts)
    limits = limits or Limits.from_snapper(facts.snapper_settings)
    pending = [facts.next_root] if facts.next_root is not None else []
    plan = cleanup_plan(facts.snapshots, limits, facts.free_fraction, now, keep=pending)
    outcome = DeleteOutcome(connector.name, planned=plan)
    broken = [s.number for s in facts.snapshots if s.problem]
    if broken:
        outcome.kept.append(f"left alone (metadata unreadable): {', '.join(map(str, broken))}")
    if not dry_run:
        await _delete_all(connector, facts, plan, outcome)
    return outcome


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class Entry:
    """One path in a tree: type (find's %y), mode, owner, size, mtime, link target."""

    kind: str
    mode: str
    owner: str
    size: int
    mtime: str
    link: str = ""


@dataclass
class PackageChanges:
    added: dict[str, str] = field(default_factory=dict)  # name -> version in b
    removed: dict[str, str] = field(default_factory=dict)  # name -> version in a
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (a, b)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def summary(self) -> dict[str, object]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": {name: {"from": a, "to": b} for name, (a, b) in self.changed.items()},
        }


@dataclass(frozen=True)
class FileChange:
    path: str
    change: Literal["added", "removed", "changed"]
    what: tuple[str, ...] = ()  # for "changed": content, mode, owner, type, link


@dataclass
class SnapshotDiff:
    host: str
    a: int
    b: int  # 0: the running system
    packages: PackageChanges = field(default_factory=PackageChanges)
    files: list[FileChange] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # nested subvolumes and mount points, not compared

    def summary(self) -> dict[str, object]:
        return {
            "host": self.host,
            "a": self.a,
            "b": self.b,
            "packages": self.packages.summary(),
            "files": [{"path": f.path, "change": f.change, "what": list(f.what)} for f in self.files],
            "skipped": self.skipped,
        }


def compare_packages(a: dict[str, str], b: dict[str, str]) -> PackageChanges:
    """Packages added, removed and changed from ``a`` to ``b`` (pure)."""
    return PackageChanges(
        added={name: b[name] for name in sorted(b.keys() - a.keys())},
        removed={name: a[name] for name in sorted(a.keys() - b.keys())},
        changed={name: (a[name], b[name]) for name in sorted(a.keys() & b.keys()) if a[name] != b[name]},
    )


def compare_trees(a: dict[str, Entry], b: dict[str, Entry], skip: Iterable[str] = ()) -> list[FileChange]:
    """Paths added, removed and changed from tree ``a`` to tree ``b`` (pure).

    Files compare by type, mode, owner, size, mtime and link target; directories by type,
    mode and owner only (their mtime moves whenever an entry inside does). Paths in
    ``skip`` and everything under them are left out (nested subvolumes, mount points).
    """
    skipped = tuple(sorted(set(skip)))

    def ignored(path: str) -> bool:
        return any(path == s or path.startswith(s.rstrip("/") + "/") for s in skipped)

    changes = []
    for path in sorted(a.keys() | b.keys()):
        if ignored(path):
            continue
        old, new = a.get(path), b.get(path)
        if old is None:
            changes.append(FileChange(path, "added"))
        elif new is None:
            changes.append(FileChange(path, "removed"))
        else:
            what = _differences(old, new)
            if what:
                changes.append(FileChange(path, "changed", what))
    return changes


def _differences(old: Entry, new: Entry) -> tuple[str, ...]:
    if old.kind != new.kind:
        return ("type",)
    what = []
    if old.kind == "f" and (old.size != new.size or old.mtime != new.mtime):
        what.append("content")
    if old.kind == "l" and old.link != new.link:
        what.append("link")
    if old.mode != new.mode:
        what.append("mode")
    if old.owner != new.owner:
        what.append("owner")
    return tuple(what)


def parse_tree(text: str, root: str) -> tuple[dict[str, Entry], set[str]]:
    """find's ``%D %y %m %u:%g %s %T@ %p\\0%l\\0`` records -> entries by host path.

    Entries on another device than the tree's top (mount points, nested subvolumes)
    are returned as the second value, to be skipped on both sides.
    """
    entries: dict[str, Entry] = {}
    foreign: set[str] = set()
    fields = text.split("\0")
    top_device: str | None = None
    prefix = root.rstrip("/")
    for header, link in zip(fields[0::2], fields[1::2], strict=False):
        parts = header.lstrip("\n").split(" ", 6)
        if len(parts) != 7:
            continue
        device, kind, mode, owner, size, mtime, path = parts
        if not path.startswith(prefix):
            continue
        host_path = path[len(prefix) :] or "/"
        if top_device is None:
            top_device = device
        if device != top_device:
            foreign.add(host_path)
            continue
        entries[host_path] = Entry(kind, mode, owner, int(size) if size.isdigit() else 0, mtime, link)
    return entries, foreign


#: Packages and a metadata listing of the trees of two snapshots (or the running system).
_DIFF_SCRIPT = r"""
m() { printf '\n@@fossp:%s@@\n' "$1"; }
A="$1"; B="$2"; shift 2
for side in a b; do
  if [ "$side" = a ]; then R="$A"; else R="$B"; fi
  m "packages_$side"
  if [ -d "$R/var/lib/dpkg/info" ] && command -v dpkg-query >/dev/null; then
    dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' 2>/dev/null
  elif command -v rpm >/dev/null; then
    rpm --root "${R:-/}" -qa --qf 'ii  %{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\n' 2>/dev/null
  fi
  m "files_$side"
  for p in "$@"; do
    [ -e "$R$p" ] || [ -L "$R$p" ] || continue
    find "$R$p" -xdev -printf '%D %y %m %u:%g %s %T@ %p\0%l\0' 2>/dev/null
  done
done
m end
"""


def _snapshot_root(number: int) -> str:
    return "" if number == 0 else f"{SNAPSHOTS_DIR}/{number}/snapshot"


def _check_paths(paths: Sequence[str]) -> list[str]:
    cleaned = []
    for path in paths:
        if not path.startswith("/") or "\0" in path or "/../" in f"{path}/":
            raise BadInput(f"path {path!r}: an absolute path inside the host")
        cleaned.append(path.rstrip("/") or "/")
    return cleaned or ["/"]


def _check_diffable(facts: SnapshotFacts, number: int) -> None:
    if number == 0:
        return
    snap = facts.snapshot(number)
    if snap is None:
        raise BadInput(f"{facts.host}: no snapshot {number} (see `fossp snapshot list`)")
    if not snap.present:
        raise BadInput(f"{facts.host}: snapshot {number} has no subvolume (half made or half deleted)")


async def diff_snapshots(
    connector: Connector,
    a: int,
    b: int = 0,
    paths: Sequence[str] = ("/",),
    *,
    facts: SnapshotFacts | None = None,
) -> SnapshotDiff:
    """Which packages and files differ from snapshot ``a`` to ``b`` (0: the running system).

    Files are compared by metadata (type, mode, owner, size, mtime, link target) under
    ``paths``; nested subvolumes (data, /.snapshots) and mount points are skipped.
    """
    facts = facts or await gather_snapshot_facts(connector)
    require_btrfs(facts)
    if not facts.snapshots:
        raise BadInput(f"{facts.host}: has no snapshots")
    for number in (a, b):
        _check_diffable(facts, number)
    wanted = _check_paths(paths)
    roots = (_snapshot_root(a), _snapshot_root(b))
    result = await connector.run(["sh", "-c", _DIFF_SCRIPT, "fossp-diff", *roots, *wanted])
    sections = split_sections(result.stdout)
    if "end" not in sections:
        raise HostError(f"{connector.name}: snapshot diff was cut short: {result.describe()}")
    tree_a, foreign_a = parse_tree(_raw_section(result.stdout, "files_a"), roots[0])
    tree_b, foreign_b = parse_tree(_raw_section(result.stdout, "files_b"), roots[1])
    skip = {SNAPSHOTS_DIR, *(s.path for s in facts.subvolumes), *foreign_a, *foreign_b}
    return SnapshotDiff(
        host=connector.name,
        a=a,
        b=b,
        packages=compare_packages(
            parse_packages(sections.get("packages_a", [""])[0]), parse_packages(sections.get("packages_b", [""])[0])
        ),
        files=compare_trees(tree_a, tree_b, skip),
        skipped=sorted(skip),
    )


def _raw_section(output: str, name: str) -> str:
    """A section's text with its NUL separators intact (split_sections strips newlines only)."""
    marker = f"\n@@fossp:{name}@@\n"
    start = output.find(marker)
    if start < 0:
        return ""
    start += len(marker)
    end = output.find("\n@@fossp:", start)
    return output[start : end if end >= 0 else len(output)]
