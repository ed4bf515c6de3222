"""A release's archive metadata on the controller: apt in FOSSP's own folders, cached.

Each SuiteSpec gets ``ARCHIVE_ROOT/<key>/`` with its own sources.list, lists/, cache/,
archives/ and state/status (empty). apt runs with ``APT_CONFIG`` naming a FOSSP apt.conf
that skips the controller's /etc/apt/apt.conf.d (whose update hooks, pins and
compressed-lists settings would leak in; only its proxy settings are carried over) and
with every folder passed as ``-o``, so nothing under /var/lib/apt or /var/cache/apt is
read or written. A host's dpkg status goes to a private temporary folder per run.

The parsed index is cached beside the lists (index.pickle, plain tuples), keyed by the
lists' names, sizes and mtimes: an ``apt-get update`` that fetched nothing new keeps it.

Measured on the development controller (2 CPUs, deb.debian.org; the second figure with
other test suites running), Debian 13 main + trixie-updates + trixie-security, 68,946
packages (Debian 12: 63,681):

- first ``apt-get update``: 2-3 s (10 MB); again with nothing new: 1-2.5 s;
- index build from the lists (python-debian): 7-8 s, 13-16 s loaded; once per list change;
- cached ``ensure_index``: 0.2-0.3 s each, bookworm and trixie together 0.4-0.6 s;
- ``simulate`` of the lab base (139 packages, 127 upgraded): full-upgrade 3-6 s (apt's
  resolver), upgrade 1.5-3.7 s, ``("libc6",)`` 1-2 s.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import os
import pickle
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from debian import deb822
from debian.debian_support import Version

from fossp.errors import BadInput, FosspError
from fossp.upgrade.model import ArchiveIndex, PackageRecord, Prediction, ReleaseInfo, SuiteSpec

ARCHIVE_ROOT = Path("/var/cache/fossp/archive")
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
APT_HELPER = Path("/usr/lib/apt/apt-helper")
UPDATE_TIMEOUT = 900.0
SIMULATE_TIMEOUT = 300.0
DOWNLOAD_TIMEOUT = 3600.0
CACHE_FORMAT = 1
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,99}$")
COMPRESSED = (".lz4", ".zst", ".gz", ".xz", ".bz2", ".lzma")
FIELDS = [
    "Package",
    "Version",
    "Source",
    "Depends",
    "Pre-Depends",
    "Provides",
    "Replaces",
    "Conflicts",
    "Breaks",
    "Size",
    "Installed-Size",
    "Section",
    "Priority",
    "Description",
]

Action = Literal["full-upgrade", "upgrade"] | tuple[str, ...]
Report = Callable[[str], None]


class ArchiveError(FosspError):
    """apt on the controller could not fetch or read a release's archive metadata."""

    code = "archive_failed"


@dataclass(frozen=True)
class ArchiveDirs:
    """The FOSSP-owned folders of one SuiteSpec."""

    root: Path

    @property
    def sources_list(self) -> Path:
        return self.root / "sources.list"

    @property
    def apt_conf(self) -> Path:
        return self.root / "apt.conf"

    @property
    def empty(self) -> Path:
        return self.root / "empty.d"

    @property
    def lists(self) -> Path:
        return self.root / "lists"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def archives(self) -> Path:
        return self.root / "archives"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def status(self) -> Path:
        return self.state / "status"

    @property
    def stamp(self) -> Path:
        return self.root / "updated"

    @property
    def index_cache(self) -> Path:
        return self.root / "index.pickle"


def archive_dirs(spec: SuiteSpec) -> ArchiveDirs:
    """The folder of ``spec`` under ARCHIVE_ROOT (read at call time, so tests can move it)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", spec.key):
        raise BadInput(f"suite key {spec.key!r}: use lower-case letters, digits, '.', '+' and '-'")
    return ArchiveDirs(ARCHIVE_ROOT / spec.key)


def sources_list_text(spec: SuiteSpec, keyring: Path = KEYRING) -> str:
    """One-line-style sources: one ``deb`` line per suite, signed by the Debian keyring."""
    lines = [f"# written by FOSSP for {spec.key}; apt runs on the controller read only this file"]
    for source in spec.sources:
        for suite in source.suites:
            options = f"[arch={spec.architecture} signed-by={keyring}]"
            lines.append(f"deb {options} {source.uri} {suite} {' '.join(source.components)}")
    return "\n".join(lines) + "\n"


def _prepare(spec: SuiteSpec) -> ArchiveDirs:
    """Create the folders and write sources.list and apt.conf when they differ."""
    if not KEYRING.exists():
        raise ArchiveError(f"{KEYRING} is missing; install it with `apt-get install debian-archive-keyring`")
    dirs = archive_dirs(spec)
    for folder in (dirs.empty, dirs.lists / "partial", dirs.cache, dirs.archives / "partial", dirs.state):
        folder.mkdir(parents=True, exist_ok=True)
    _write_if_changed(dirs.sources_list, sources_list_text(spec))
    conf = f'Dir::Etc::main "/dev/null";\nDir::Etc::parts "{dirs.empty}";\n'
    _write_if_changed(dirs.apt_conf, "// FOSSP: ignore the controller's own apt configuration\n" + conf)
    if not dirs.status.exists():
        dirs.status.touch()
    return dirs


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".{path.name}.new")
        tmp.write_text(text)
        tmp.replace(path)


def apt_options(spec: SuiteSpec, dirs: ArchiveDirs, status: Path, archives: Path | None = None) -> list[str]:
    """The ``-o`` options that confine apt to ``dirs`` (and ``status``, ``archives``)."""
    state = status.parent
    settings = {
        "Dir::Etc::SourceList": dirs.sources_list,
        "Dir::Etc::SourceParts": dirs.empty,
        "Dir::Etc::Preferences": "/dev/null",
        "Dir::Etc::PreferencesParts": dirs.empty,
        "Dir::State": state,
        "Dir::State::Lists": dirs.lists,
        "Dir::State::status": status,
        "Dir::State::extended_states": state / "extended_states",
        "Dir::Cache": dirs.cache,
        "Dir::Cache::archives": archives or dirs.archives,
        "Dir::Log": state,
        "APT::Architecture": spec.architecture,
        "APT::Architectures": spec.architecture,
        "Acquire::Languages": "none",
        "Debug::NoLocking": "true",
        "APT::Sandbox::User": "root",
    }
    options = [item for key, value in settings.items() for item in ("-o", f"{key}={value}")]
    return options + [item for proxy in controller_proxies() for item in ("-o", proxy)]


_proxies: list[str] | None = None


def controller_proxies() -> list[str]:
    """The controller's apt proxy settings: the only part of its apt configuration kept."""
    global _proxies
    if _proxies is None:
        try:
            dump = subprocess.run(
                ["apt-config", "dump"], capture_output=True, text=True, timeout=30, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            dump = ""
        pattern = re.compile(r'^(Acquire::(?:https?|ftp)::Proxy(?:::[^ ]+)?) "(.*)";$')
        _proxies = [f"{m[1]}={m[2]}" for line in dump.splitlines() if (m := pattern.match(line))]
    return _proxies


def _run(argv: Sequence[str | Path], what: str, dirs: ArchiveDirs, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run apt (argv only, no shell) with FOSSP's apt.conf; timeouts and a missing tool raise."""
    args = [str(arg) for arg in argv]
    env = {**os.environ, "APT_CONFIG": str(dirs.apt_conf), "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except FileNotFoundError as error:
        raise ArchiveError(f"{what}: {args[0]} not found (install apt and apt-utils)") from error
    except subprocess.TimeoutExpired as error:
        raise ArchiveError(f"{what}: `{args[0]} {args[-1]}` timed out after {timeout:.0f} s") from error


def apt_error(result: subprocess.CompletedProcess[str]) -> str:
    """apt's own reason: the first ``E:`` line, with the first failed fetch (it names the suite)."""
    lines = (result.stderr + "\n" + result.stdout).splitlines()
    errors = [line[3:].strip() for line in lines if line.startswith("E:")]
    fetches = [line[3:].strip() for line in lines if line.startswith(("W:", "E:")) and "Failed to fetch" in line]
    parts = list(dict.fromkeys(fetches[:1] + errors[:1]))
    if parts:
        return "; ".join(parts)
    tail = result.stderr.strip().splitlines()
    return tail[-1] if tail else f"exit {result.returncode}"


def _suites(spec: SuiteSpec) -> str:
    return ", ".join(f"{suite} at {source.uri}" for source in spec.sources for suite in source.suites)


@contextmanager
def _locked(dirs: ArchiveDirs, shared: bool = False) -> Iterator[None]:
    """apt's own locks are off: one update or index build per SuiteSpec at a time (exclusive),
    and no update while apt reads the lists for a host (shared)."""
    with (dirs.root / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stale(dirs: ArchiveDirs, max_age: float) -> bool:
    """Update when never done, too old, or the sources changed since the last update."""
    if not dirs.stamp.exists() or not any(dirs.lists.glob("*_Packages*")):
        return True
    if dirs.stamp.read_text() != dirs.sources_list.read_text():
        return True
    return time.time() - dirs.stamp.stat().st_mtime > max_age


def _update(spec: SuiteSpec, dirs: ArchiveDirs, report: Report) -> None:
    report(f"fetching the {spec.key} package lists ({_suites(spec)})")
    argv = ["apt-get", "-q", *apt_options(spec, dirs, dirs.status), "update"]
    result = _run(argv, f"apt-get update for {spec.key}", dirs, UPDATE_TIMEOUT)
    if result.returncode != 0 or "Failed to fetch" in result.stderr:
        raise ArchiveError(f"apt-get update for {spec.key} ({_suites(spec)}): {apt_error(result)}")
    tmp = dirs.stamp.with_name(".updated.new")
    tmp.write_text(dirs.sources_list.read_text())
    tmp.replace(dirs.stamp)


def ensure_index(
    spec: SuiteSpec, *, max_age: float = 86400.0, refresh: bool = False, report: Report = lambda s: None
) -> ArchiveIndex:
    """The archive index of ``spec``, running ``apt-get update`` only when the lists are stale."""
    dirs = _prepare(spec)
    with _locked(dirs):
        if refresh or _stale(dirs, max_age):
            _update(spec, dirs, report)
        targets = list_targets(spec, dirs)
        signature = _signature(targets)
        fetched_at = datetime.fromtimestamp(dirs.stamp.stat().st_mtime, UTC).isoformat(timespec="seconds")
        index = _load_cache(dirs, spec, signature, fetched_at)
        if index is None:
            report(f"indexing the {spec.key} package lists")
            index = build_index(spec.key, targets, fetched_at)
            _save_cache(dirs, index, signature)
        return index


@dataclass(frozen=True)
class ListTarget:
    """One Packages list apt fetched, with what its Release file says."""

    path: Path  # the file on disk (possibly compressed)
    release_file: Path | None  # InRelease or Release beside it
    suite: str  # as in sources.list: trixie, trixie-security
    codename: str
    archive_suite: str  # the Release "Suite": stable, oldstable-security
    version: str
    origin: str
    label: str


def list_targets(spec: SuiteSpec, dirs: ArchiveDirs) -> list[ListTarget]:
    """The Packages lists on disk, found through ``apt-get indextargets`` (no file-name guessing)."""
    argv = ["apt-get", *apt_options(spec, dirs, dirs.status), "indextargets", "Identifier: Packages"]
    result = _run(argv, f"apt-get indextargets for {spec.key}", dirs, SIMULATE_TIMEOUT)
    if result.returncode != 0:
        raise ArchiveError(f"list the {spec.key} package lists: {apt_error(result)}")
    targets = []
    for para in deb822.Deb822.iter_paragraphs(result.stdout.splitlines(), use_apt_pkg=False):
        path = _existing(Path(para["Filename"]))
        if path is None:
            continue
        prefix = para["Filename"][: -len(para["MetaKey"].replace("/", "_"))]
        release = next((p for n in ("InRelease", "Release") if (p := Path(prefix + n)).exists()), None)
        targets.append(
            ListTarget(
                path=path,
                release_file=release,
                suite=para.get("Release", ""),
                codename=para.get("Codename", ""),
                archive_suite=para.get("Suite", ""),
                version=para.get("Version", ""),
                origin=para.get("Origin", ""),
                label=para.get("Label", ""),
            )
        )
    if not targets:
        raise ArchiveError(f"no package lists for {spec.key} in {dirs.lists}; run with refresh")
    return targets


def _existing(path: Path) -> Path | None:
    """The list as stored: plain, or compressed when apt was told to keep it so."""
    return next((p for ext in ("", *COMPRESSED) if (p := Path(str(path) + ext)).exists()), None)


def _signature(targets: list[ListTarget]) -> list[list[Any]]:
    files = [t.path for t in targets] + [t.release_file for t in targets if t.release_file]
    return [[p.name, (s := p.stat()).st_size, s.st_mtime_ns] for p in sorted(set(files))]


def read_list(path: Path) -> str:
    """A list file's text; apt-helper decompresses whatever compression apt kept."""
    if path.suffix not in COMPRESSED:
        return path.read_text(errors="replace")
    result = subprocess.run(
        [str(APT_HELPER), "cat-file", str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        raise ArchiveError(f"read {path}: {result.stderr.strip() or f'apt-helper exit {result.returncode}'}")
    return result.stdout


def build_index(key: str, targets: list[ListTarget], fetched_at: str) -> ArchiveIndex:
    """Parse every list, keeping the newest version of each package name."""
    packages: dict[str, PackageRecord] = {}
    with _gc_paused():
        for target in targets:
            add_packages(packages, read_list(target.path), target.suite)
    return ArchiveIndex(key=key, packages=packages, releases=_releases(targets), fetched_at=fetched_at)


def add_packages(packages: dict[str, PackageRecord], text: str, suite: str) -> dict[str, PackageRecord]:
    """Add the stanzas of a Packages file to ``packages`` where newer than what is there."""
    for para in deb822.Deb822.iter_paragraphs(text, fields=FIELDS, use_apt_pkg=False):
        record = package_record(para, suite)
        old = packages.get(record.name)
        if old is None or Version(record.version) > Version(old.version):
            packages[record.name] = record
    return packages


def _releases(targets: list[ListTarget]) -> tuple[ReleaseInfo, ...]:
    seen: dict[str, ReleaseInfo] = {}
    for t in targets:
        if t.suite not in seen:
            date = _release_date(t.release_file)
            seen[t.suite] = ReleaseInfo(t.suite, t.codename, t.version, date, t.origin, t.label)
    return tuple(seen.values())


def _release_date(path: Path | None) -> str:
    if path is None:
        return ""
    with path.open(errors="replace") as handle:
        for line in handle:
            if line.startswith("Date:"):
                return line[5:].strip()
            if line.startswith(("MD5Sum:", "SHA256:")):
                break
    return ""


def relation_names(value: str) -> tuple[str, ...]:
    """Package names of a relation field, versions, architectures and alternatives dropped."""
    names = []
    for part in value.replace("|", ",").split(","):
        name = part.strip().split(" ", 1)[0].split("(", 1)[0].split(":", 1)[0].split("[", 1)[0]
        if name:
            names.append(name)
    return tuple(dict.fromkeys(names))


def _alternatives(value: str) -> tuple[str, ...]:
    return tuple(" ".join(part.split()) for part in value.split(",") if part.strip())


def package_record(para: Any, suite: str) -> PackageRecord:
    """A PackageRecord from one Packages stanza (a deb822 paragraph or a plain mapping)."""
    name = para["Package"]
    version = para["Version"]
    source, _, source_version = para.get("Source", name).partition(" ")
    return PackageRecord(
        name=name,
        version=version,
        source=source or name,
        source_version=source_version.strip("() ") or version,
        suite=suite,
        depends=_alternatives(para.get("Depends", "")),
        pre_depends=_alternatives(para.get("Pre-Depends", "")),
        provides=relation_names(para.get("Provides", "")),
        replaces=relation_names(para.get("Replaces", "")),
        conflicts=relation_names(para.get("Conflicts", "") + "," + para.get("Breaks", "")),
        size=_int(para.get("Size", "")),
        installed_size=_int(para.get("Installed-Size", "")),
        section=para.get("Section", ""),
        priority=para.get("Priority", ""),
        summary=para.get("Description", "").split("\n", 1)[0].strip(),
    )


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Make ~70,000 records without collection passes, then keep the collector off them.

    Without this the collector runs dozens of times while the records are made, and every
    later full collection in the process walks them all again (0.3 s each). Garbage is
    collected first so that freezing keeps nothing that is already unreachable.
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


_RECORD_FIELDS = [f.name for f in fields(PackageRecord)]


def _load_cache(dirs: ArchiveDirs, spec: SuiteSpec, signature: list[list[Any]], fetched_at: str) -> ArchiveIndex | None:
    """The cached index when it was built from exactly these lists (and this model), else None.

    The cache is a pickle of plain tuples (twice as fast as JSON to load), so it is read only
    when owned by us and writable by no one else.
    """
    try:
        with dirs.index_cache.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.geteuid() or info.st_mode & 0o022:
                return None
            header = pickle.load(handle)
            if header != _cache_header(spec.key, signature):
                return None
            with _gc_paused():
                releases, rows = pickle.load(handle)
                packages = {row[0]: _record(row) for row in rows}
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
        return None
    return ArchiveIndex(key=spec.key, packages=packages, releases=tuple(releases), fetched_at=fetched_at)


def _cache_header(key: str, signature: list[list[Any]]) -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "key": key, "fields": _RECORD_FIELDS, "lists": signature}


def _record(row: tuple[Any, ...]) -> PackageRecord:
    """A record from its cached row, filled the way pickle fills a dataclass (fields checked above)."""
    record = object.__new__(PackageRecord)
    record.__dict__.update(zip(_RECORD_FIELDS, row, strict=True))
    return record


def _save_cache(dirs: ArchiveDirs, index: ArchiveIndex, signature: list[list[Any]]) -> None:
    tmp = dirs.index_cache.with_name(".index.pickle.new")
    with tmp.open("wb") as handle:
        os.fchmod(handle.fileno(), 0o644)
        pickle.dump(_cache_header(index.key, signature), handle, protocol=pickle.HIGHEST_PROTOCOL)
        body = (list(index.releases), _shared_rows(index))
        pickle.dump(body, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(dirs.index_cache)


def _shared_rows(index: ArchiveIndex) -> list[tuple[Any, ...]]:
    """Rows whose equal values are one object: pickle then stores and loads each once."""
    shared: dict[Any, Any] = {}
    return [tuple(shared.setdefault(value, value) for value in astuple(r)) for r in index.packages.values()]


# --- the host's dpkg status and apt's simulation -------------------------------------------------

STATUS_FIELDS = ("Version", "Source", "Installed-Size", "Status", "Description", "Architecture")


def parse_dpkg_status(text: str) -> dict[str, dict[str, str]]:
    """The installed packages of a dpkg status file: name -> the fields upgrade checks need.

    ``Source`` is the source package name only (the binary's name when absent) and
    ``Description`` its first line. Packages removed but not purged are left out.
    """
    packages: dict[str, dict[str, str]] = {}
    for para in deb822.Deb822.iter_paragraphs(text.splitlines(), fields=["Package", *STATUS_FIELDS], use_apt_pkg=False):
        status = para.get("Status", "").split()
        if "Package" not in para or status[-1:] != ["installed"]:
            continue
        name = para["Package"]
        entry = {field: para.get(field, "") for field in STATUS_FIELDS}
        entry["Source"] = entry["Source"].split(" ", 1)[0] or name
        entry["Description"] = entry["Description"].split("\n", 1)[0].strip()
        key = name if name not in packages else f"{name}:{entry['Architecture']}"
        packages[key] = entry
    return packages


_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+)")
_REMOVE = re.compile(r"^(?:Remv|Purg) (\S+)")
_KEPT = "The following packages have been kept back:"


def parse_simulation(text: str, index: ArchiveIndex | None, status: dict[str, dict[str, str]]) -> Prediction:
    """What ``apt-get -s`` output says will happen (pure: no apt, no files).

    ``Inst`` lines with ``[old]`` are upgrades, without are new packages; ``Remv`` and
    ``Purg`` lines are removals. Sizes need the target ``index``: without it both are 0.
    """
    upgraded: list[tuple[str, str, str]] = []
    installed: list[tuple[str, str]] = []
    removed: list[str] = []
    for line in text.splitlines():
        if match := _INST.match(line):
            name, old, new = match.groups()
            if old is None:
                installed.append((name, new))
            else:
                upgraded.append((name, old, new))
        elif match := _REMOVE.match(line):
            removed.append(match[1])
    removed = list(dict.fromkeys(removed))
    fetched = [name for name, *_ in upgraded] + [name for name, _ in installed]
    download, delta = _sizes(fetched, removed, index, status)
    return Prediction(
        upgraded=tuple(upgraded),
        installed=tuple(installed),
        removed=tuple(removed),
        kept_back=tuple(_kept_back(text)),
        download_bytes=download,
        installed_size_delta_kib=delta,
    )


def _kept_back(text: str) -> list[str]:
    """The indented names after apt's "kept back" heading."""
    names: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.strip() == _KEPT:
            for item in lines:
                if not item.startswith(" "):
                    break
                names.extend(item.split())
    return names


def _sizes(
    fetched: list[str], removed: list[str], index: ArchiveIndex | None, status: dict[str, dict[str, str]]
) -> tuple[int, int]:
    """Bytes to download and the Installed-Size change (KiB), from the index and the status."""
    if index is None:
        return 0, 0

    def current(name: str) -> int:
        return _int(status.get(name, {}).get("Installed-Size", ""))

    download = delta = 0
    for name in fetched:
        record = index.packages.get(name.split(":", 1)[0])
        if record is not None:
            download += record.size
            delta += record.installed_size - current(name)
    delta -= sum(current(name) for name in removed)
    return download, delta


def action_args(action: Action) -> list[str]:
    """apt-get's command for an action: a full upgrade, a safe upgrade, or named packages only."""
    if action == "full-upgrade":
        return ["full-upgrade"]
    if action == "upgrade":
        return ["upgrade", "--with-new-pkgs"]
    if isinstance(action, tuple) and action:
        for name in action:
            if not PACKAGE_RE.fullmatch(name):
                raise BadInput(f"package name {name!r}: not a Debian package name")
        return ["install", "--only-upgrade", *action]
    raise BadInput(f"upgrade action {action!r}: use 'full-upgrade', 'upgrade' or package names")


@contextmanager
def _host_status(dpkg_status: bytes) -> Iterator[Path]:
    """The host's dpkg status in a private folder (0700), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="fossp-apt-") as folder:
        path = Path(folder) / "status"
        path.write_bytes(dpkg_status)
        yield path


def _apt_on_host(
    spec: SuiteSpec, dpkg_status: bytes, argv: list[str], what: str, timeout: float, archives: Path | None = None
) -> str:
    """Run apt-get against the host's status and ``spec``'s lists; its stdout, or ArchiveError."""
    dirs = _prepare(spec)
    with _locked(dirs, shared=True), _host_status(dpkg_status) as status:
        options = apt_options(spec, dirs, status, archives)
        # The package cache depends on the status file: never write it back for a host.
        options += ["-o", "Dir::Cache::pkgcache="]
        result = _run(["apt-get", "-q", *options, *argv], what, dirs, timeout)
    if result.returncode != 0:
        raise ArchiveError(f"{what} ({_suites(spec)}): {apt_error(result)}")
    return result.stdout


def simulate(
    spec: SuiteSpec,
    dpkg_status: bytes,
    action: Action = "full-upgrade",
    *,
    index: ArchiveIndex | None = None,
) -> Prediction:
    """What ``action`` would do on a host with this dpkg status, asked of apt on the controller.

    ``index`` saves the ensure_index call when the caller has it already.
    """
    if index is None:
        index = ensure_index(spec)
    cached = _simulation_cache(spec, dpkg_status, action, index)
    try:
        text = cached.read_text()
    except OSError:
        what = f"simulate {_action_label(action)} to {spec.key}"
        text = _apt_on_host(spec, dpkg_status, ["-s", *action_args(action)], what, SIMULATE_TIMEOUT)
        _keep_simulation(cached, text)
    return parse_simulation(text, index, parse_dpkg_status(dpkg_status.decode("utf-8", "replace")))


#: Simulations kept per release: apt's resolver is most of a check's time, and an unchanged
#: host against unchanged lists gives the same answer.
SIMULATIONS_KEPT = 200


def _simulation_cache(spec: SuiteSpec, dpkg_status: bytes, action: Action, index: ArchiveIndex) -> Path:
    key = hashlib.sha256(repr((dpkg_status, action, index.fetched_at, spec)).encode()).hexdigest()
    return archive_dirs(spec).root / "simulations" / f"{key}.txt"


def _keep_simulation(path: Path, text: str) -> None:
    """Best effort: a cache that cannot be written only costs the next check apt's time."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(text)
        temporary.replace(path)
        kept = sorted(path.parent.glob("*.txt"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-SIMULATIONS_KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        return


def simulation_text(spec: SuiteSpec, dpkg_status: bytes, action: Action = "full-upgrade") -> str:
    """apt's raw simulation output (for recording and for showing the user apt's own words)."""
    ensure_index(spec)
    what = f"simulate {_action_label(action)} to {spec.key}"
    return _apt_on_host(spec, dpkg_status, ["-s", *action_args(action)], what, SIMULATE_TIMEOUT)


def _action_label(action: Action) -> str:
    return action if isinstance(action, str) else "an upgrade of " + " ".join(action)


# --- downloading an upgrade's packages into a flat repository ------------------------------------


def deb_filename(name: str, version: str, architecture: str) -> str:
    """The name apt gives a downloaded .deb: '%', '_' and ':' (epochs) quoted as %25, %5f, %3a."""
    parts = (name, version, architecture)
    return "_".join(p.replace("%", "%25").replace("_", "%5f").replace(":", "%3a") for p in parts) + ".deb"


def download(spec: SuiteSpec, dpkg_status: bytes, action: Action, dest: Path) -> list[Path]:
    """Fetch exactly the .debs ``action`` needs into the flat folder ``dest`` and index it.

    .debs already in ``dest`` are not fetched again. The Packages and Release files are
    replaced only after every .deb is there, so a failed download leaves the previous
    index as it was. ``dest`` must hold one suite only (apt-ftparchive walks subfolders).
    """
    index = ensure_index(spec)
    dest.mkdir(parents=True, exist_ok=True)
    prediction = simulate(spec, dpkg_status, action, index=index)
    what = f"download {_action_label(action)} from {spec.key}"
    argv = ["-y", "--download-only", *action_args(action)]
    # Hosts upgrading at once share ``dest``: one download and index rewrite at a time, so
    # nobody's partial files are swept and no host reads a Packages newer than its Release.
    with (dest.parent / f".{dest.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        (dest / "partial").mkdir(exist_ok=True)
        _apt_on_host(spec, dpkg_status, argv, what, DOWNLOAD_TIMEOUT, archives=dest)
        debs = _downloaded(prediction, dest)
        for stray in (dest / "partial").iterdir():  # a failed run's leftovers: apt-ftparchive would read them
            if stray.is_file():
                stray.unlink()
        write_flat_index(dest)
    return debs


def _downloaded(prediction: Prediction, dest: Path) -> list[Path]:
    """The .debs of the prediction in ``dest``; ArchiveError naming any apt did not leave there."""
    wanted = [(n, new) for n, _, new in prediction.upgraded] + list(prediction.installed)
    found: list[Path] = []
    missing: list[str] = []
    for name, version in wanted:
        stem = deb_filename(name.split(":", 1)[0], version, "").removesuffix("_.deb")
        matches = sorted(dest.glob(f"{glob_escape(stem)}_*.deb"))
        if matches:
            found.append(matches[0])
        else:
            missing.append(f"{name} {version}")
    if missing:
        raise ArchiveError(f"download into {dest}: apt left no .deb for {', '.join(missing[:5])}")
    return sorted(found)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


_FTPARCHIVE = {
    "Packages": ["apt-ftparchive", "packages", "."],
    # Release hashes Packages only (by default it would also list the previous Release)
    "Release": [
        "apt-ftparchive",
        "-o",
        "APT::FTPArchive::Release::Default-Patterns=false",
        "-o",
        "APT::FTPArchive::Release::Patterns::=Packages",
        "release",
        ".",
    ],
}


def write_flat_index(dest: Path) -> None:
    """Packages, then Release over it, each written beside and renamed into place."""
    for name, argv in _FTPARCHIVE.items():
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, cwd=dest)
        except FileNotFoundError as error:
            raise ArchiveError("apt-ftparchive not found; install it with `apt-get install apt-utils`") from error
        except subprocess.TimeoutExpired as error:
            raise ArchiveError(f"index {dest}: `{' '.join(argv)}` timed out") from error
        if result.returncode != 0:
            raise ArchiveError(f"index {dest}: `{' '.join(argv)}` failed: {apt_error(result)}")
        tmp = dest / f".{name}.new"
        tmp.write_text(result.stdout)
        tmp.replace(dest / name)
