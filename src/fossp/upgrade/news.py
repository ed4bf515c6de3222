"""Upgrade notes: the NEWS.Debian entries of the target release's packages (what apt-listchanges shows).

A package's ``/usr/share/doc/<pkg>/NEWS.Debian.gz`` is written in changelog format and
holds what its maintainers want an administrator to read before upgrading. An entry is
shown when its version is newer than the installed one. :func:`parse_news` reads such a
file (pure); :func:`fetch_news` gets the files of the target release's packages on the
controller, with apt confined to FOSSP's folders exactly as :mod:`fossp.upgrade.archive`
runs it:

- ``archive.ensure_index`` says each package's candidate version; only packages whose
  candidate is newer than the installed version are looked at;
- ``apt-get download name=version`` (argv, the archive's own ``-o`` options, its apt.conf)
  fetches the .debs into ``<archive>/archives/news/``; apt verifies them against the
  signed lists and moves them there only when complete;
- ``dpkg-deb --fsys-tarfile`` is read as a stream by :mod:`tarfile` (no shell, nothing
  written to disk), the NEWS file is gunzipped in Python and parsed;
- the parsed entries of each (package, version) are kept as JSON next to where the .deb
  was, and the .deb is deleted: a second call reads the JSON and downloads nothing.

The doc folder tried is the package's own, then its source package's. A doc folder that is
a symlink to another package's (``usr/share/doc/openssh-server -> openssh-client``) is
followed: that package's .deb is fetched too unless it is one of the packages asked about
(then its own notes are reported once, under its name).

A binary without NEWS of its own may have a sibling of the same source that carries it:
nginx's notes are in nginx-common, so callers pass the installed packages the roles'
packages pull in, not only the names in the catalog.

Measured on the development controller (2 CPUs, deb.debian.org; apt reported ~200 MB/s),
Debian 12 -> 13, bookworm's installed versions, an empty folder each time:

- postgresql-17 (new, 16.8 MB .deb, no NEWS), nginx, bind9 (17.7 MB): cold 2.1-3.1 s,
  of which ``ensure_index`` 0.4 s, the download 0.5 s and dpkg-deb through postgresql-17's
  data.tar 1.0 s; one note (bind9). With nginx-common too: 2.1 s, two notes;
- the lab test's eight bookworm packages and postgresql-17 (29 MB, openssh-client fetched for
  openssh-server's linked doc folder): cold 3.7-4.1 s, 18 notes from bind9, nginx-common,
  openssh-server, systemd and apt;
- warm (everything from the JSON cache, nothing downloaded): 0.40-0.48 s, nearly all of
  it ``ensure_index`` loading the cached archive index (6 s once while other suites used
  the archive: its lock and 2 busy CPUs); 1-6 ms when ``index`` is passed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import posixpath
import subprocess
import tarfile
import tempfile
import textwrap
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from debian.changelog import Changelog, topline
from debian.debian_support import Version

from fossp.errors import BadInput
from fossp.upgrade import archive
from fossp.upgrade.archive import ArchiveError
from fossp.upgrade.model import ArchiveIndex, PackageRecord, SuiteSpec

TEXT_LIMIT = 1500  # characters of one entry's text kept
NEWS_FORMAT = 1  # of the JSON cache files
NEWS_NAMES = ("NEWS.Debian.gz", "NEWS.Debian")
DOC = "usr/share/doc"
EXTRACT_TIMEOUT = 300.0
MAX_NEWS_BYTES = 4 << 20  # a NEWS file's size in the .deb, and once gunzipped
Report = Callable[[str], None]


@dataclass(frozen=True)
class NewsItem:
    """One NEWS.Debian entry: the package it is reported for, the entry's version and date, its text."""

    package: str
    version: str
    date: str  # as written in the entry's trailer (RFC 2822), "" when it has none
    text: str  # the entry's body, dedented, at most about TEXT_LIMIT characters


# --- parsing -------------------------------------------------------------------------------------


def parse_news(text: str, package: str, installed_version: str) -> list[NewsItem]:
    """The entries of a NEWS.Debian text newer than ``installed_version``, newest first.

    ``installed_version`` "" means not installed: every entry is kept. Malformed entries
    (no valid version, no text) are skipped, and so are lines outside any entry; the text
    never makes this raise. An installed version that is no Debian version raises BadInput.
    """
    since = _installed(package, installed_version)
    return [item for item in news_entries(text, package) if since is None or Version(item.version) > since]


def news_entries(text: str, package: str) -> list[NewsItem]:
    """Every well-formed entry of a NEWS.Debian text, newest first."""
    items = []
    with _quiet_changelog():
        for block in _blocks(text):
            item = _entry(block, package)
            if item is not None:
                items.append(item)
    items.sort(key=lambda item: Version(item.version), reverse=True)  # stable: equal versions keep file order
    return items


def _installed(package: str, installed_version: str) -> Version | None:
    if not installed_version:
        return None
    try:
        return Version(installed_version)
    except ValueError as error:
        raise BadInput(f"{package}: installed version {installed_version!r} is not a Debian version") from error


def _blocks(text: str) -> list[list[str]]:
    """The lines of each entry: from one changelog heading to the next (lines before the first dropped).

    Splitting first means one broken entry cannot swallow the next, as it does when the whole
    file goes to a lenient Changelog parse.
    """
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if topline.match(line):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return blocks


def _entry(lines: list[str], package: str) -> NewsItem | None:
    """One entry parsed by python-debian (leniently: a missing trailer leaves the date empty)."""
    try:
        block = next(iter(Changelog(lines, strict=False, max_blocks=1)), None)
        if block is None or block.version is None:
            return None
        version = block.version.full_version
        if not block.version.upstream_version[:1].isdigit():
            return None
        body = [line for line in block.changes() if not line.startswith(" --")]  # a trailer apt could not read
        date = block.date or ""
    except Exception:  # python-debian on arbitrary text: any failure means a malformed entry, skipped
        return None
    text = textwrap.dedent("\n".join(body)).strip()
    if not text:
        return None
    return NewsItem(package=package, version=version, date=date.strip(), text=_trim(text))


def _trim(text: str, limit: int = TEXT_LIMIT) -> str:
    """At most ``limit`` characters, cut after a paragraph, a line or a word, and marked with "[...]"."""
    if len(text) <= limit:
        return text
    room = limit - len("\n[...]")
    cut = text.rfind("\n\n", 0, room)  # a paragraph's (a bullet's) end, if not too far back
    if cut < room * 2 // 3:
        cut = text.rfind("\n", 0, room)
    if cut < room // 2:
        cut = text.rfind(" ", 0, room)
    if cut <= 0:
        cut = room
    return text[:cut].rstrip() + "\n[...]"


class _Drop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextmanager
def _quiet_changelog() -> Iterator[None]:
    """python-debian logs a warning per odd line when lenient; the skipped entries are the answer."""
    logger = logging.getLogger("debian.changelog")
    drop = _Drop()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


# --- fetching the target release's NEWS files -----------------------------------------------------


@dataclass(frozen=True)
class CachedNews:
    """What one (package, version) .deb holds: its NEWS entries (all of them), or where its docs are."""

    package: str
    version: str
    path: str = ""  # the NEWS file in the .deb, "" when none
    doc_link: str = ""  # the package whose doc folder this one's links to, when it has no NEWS itself
    entries: tuple[NewsItem, ...] = ()


def news_folder(spec: SuiteSpec) -> Path:
    """Where the .debs are fetched to and the parsed NEWS kept: ``<archive>/archives/news``."""
    return archive.archive_dirs(spec).archives / "news"


def fetch_news(
    spec: SuiteSpec,
    packages: Mapping[str, str],
    report: Report = lambda s: None,
    *,
    index: ArchiveIndex | None = None,
    folder: Path | None = None,
) -> list[NewsItem]:
    """The NEWS.Debian entries the upgrade to ``spec`` brings for ``packages`` (name -> installed version).

    Per package, in the given order, newest entry first. Packages not in the target
    archive, or whose candidate there is not newer, yield nothing; so does a package
    without a NEWS file. ``index`` saves the ``ensure_index`` call when the caller has it;
    ``folder`` replaces :func:`news_folder`. A download that fails raises ArchiveError
    naming the packages (what was fetched before stays cached).
    """
    wanted = _requested(packages)
    if index is None:
        index = archive.ensure_index(spec, report=report)
    folder = folder or news_folder(spec)
    (folder / "partial").mkdir(parents=True, exist_ok=True)
    upgraded: dict[str, PackageRecord] = {}
    for name, since in wanted.items():
        record = index.packages.get(name)
        if record is not None and (since is None or Version(record.version) > since):
            upgraded[name] = record
    with _folder_lock(folder):
        cached = _ensure_cached(spec, folder, list(upgraded.values()), report)
        linked = {
            target: index.packages[target]
            for name in upgraded
            if (target := cached[name].doc_link) and target not in wanted and target in index.packages
        }
        if linked:
            cached.update(_ensure_cached(spec, folder, list(linked.values()), report))
    items: list[NewsItem] = []
    reported: set[str] = set()
    for name in upgraded:
        news, holder = cached[name], name
        if news.doc_link and not news.entries:
            if news.doc_link in wanted or news.doc_link not in cached:
                continue  # reported under its own name (when upgraded), or not in the target archive
            holder = news.doc_link
            news = cached[holder]
        if holder in reported:
            continue
        reported.add(holder)
        since = wanted[name]
        items.extend(
            NewsItem(name, item.version, item.date, item.text)
            for item in news.entries
            if since is None or Version(item.version) > since
        )
    return items


def _requested(packages: Mapping[str, str]) -> dict[str, Version | None]:
    """Names (architecture qualifiers dropped, first one wins) checked before they go on apt's command line."""
    wanted: dict[str, Version | None] = {}
    for key, installed in packages.items():
        name = key.split(":", 1)[0]
        if not archive.PACKAGE_RE.fullmatch(name):
            raise BadInput(f"package name {key!r}: not a Debian package name")
        wanted.setdefault(name, _installed(name, installed))
    return wanted


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """One fetch per folder at a time: two report runs do not download the same .deb twice."""
    with (folder / "lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stem(name: str, version: str) -> str:
    return archive.deb_filename(name, version, "").removesuffix("_.deb")


def _cache_file(folder: Path, name: str, version: str) -> Path:
    return folder / f"{_stem(name, version)}.news.json"


def _deb(folder: Path, record: PackageRecord) -> Path | None:
    """The package's .deb in ``folder`` (any architecture), if apt left it there."""
    return next(iter(sorted(folder.glob(f"{archive.glob_escape(_stem(record.name, record.version))}_*.deb"))), None)


def _ensure_cached(
    spec: SuiteSpec, folder: Path, records: Sequence[PackageRecord], report: Report
) -> dict[str, CachedNews]:
    """The parsed NEWS of each record: from the JSON cache, else from its .deb (downloaded if need be)."""
    result: dict[str, CachedNews] = {}
    missing: list[PackageRecord] = []
    for record in records:
        news = load_cached(folder, record)
        if news is None:
            missing.append(record)
        else:
            result[record.name] = news
    fetch = [record for record in missing if _deb(folder, record) is None]
    reason = ""
    if fetch:
        megabytes = sum(record.size for record in fetch) / 1e6
        names = " ".join(record.name for record in fetch)
        plural = "s" if len(fetch) != 1 else ""
        what = f"downloading {len(fetch)} package{plural} from {spec.key} for their NEWS.Debian"
        report(f"{what} ({megabytes:.1f} MB): {names}")
        reason = _download(spec, folder, fetch)
    failed: list[str] = []
    for record in missing:
        deb = _deb(folder, record)
        if deb is None:
            failed.append(f"{record.name} {record.version}")
            continue
        news = read_deb(deb, record, report)
        save_cached(folder, news)
        deb.unlink()
        result[record.name] = news
    if failed:
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        raise ArchiveError(f"download {shown} from {spec.key} for NEWS.Debian: {reason or 'apt left no .deb'}")
    return result


def _download(spec: SuiteSpec, folder: Path, records: Sequence[PackageRecord]) -> str:
    """``apt-get download name=version ...`` into ``folder``; apt's reason when it failed, else ""."""
    dirs = archive.archive_dirs(spec)
    options = archive.apt_options(spec, dirs, dirs.status, archives=folder)
    argv = ["apt-get", "-q", *options, "download", *(f"{record.name}={record.version}" for record in records)]
    env = {**os.environ, "APT_CONFIG": str(dirs.apt_conf), "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    names = " ".join(record.name for record in records)
    with archive._locked(dirs, shared=True):  # no `apt-get update` while apt reads the lists
        try:
            result = subprocess.run(
                argv,
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=archive.DOWNLOAD_TIMEOUT,
                check=False,
            )
        except FileNotFoundError as error:
            raise ArchiveError(f"download {names} from {spec.key}: apt-get not found (install apt)") from error
        except subprocess.TimeoutExpired as error:
            raise ArchiveError(
                f"download {names} from {spec.key}: apt-get download timed out after {archive.DOWNLOAD_TIMEOUT:.0f} s"
            ) from error
    return "" if result.returncode == 0 else archive.apt_error(result)


def read_deb(deb: Path, record: PackageRecord, report: Report = lambda s: None) -> CachedNews:
    """The NEWS entries (all of them) in one .deb, or the package its doc folder links to."""
    files, links = doc_members(deb, f"read {record.name} {record.version}")
    path, doc_link = find_news(files, links, list(dict.fromkeys((record.name, record.source))))
    if not path:
        return CachedNews(record.name, record.version, doc_link=doc_link)
    data = files[path]
    if path.endswith(".gz"):
        try:
            data = _gunzip(data)
        except zlib.error as error:
            report(f"{record.name} {record.version}: /{path} is not gzip data ({error}); no notes from it")
            return CachedNews(record.name, record.version, path=path)
    text = data.decode("utf-8", "replace")
    return CachedNews(record.name, record.version, path=path, entries=tuple(news_entries(text, record.name)))


def _gunzip(data: bytes) -> bytes:
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    return inflate.decompress(data, MAX_NEWS_BYTES)


def find_news(files: Mapping[str, bytes], links: Mapping[str, str], folders: Sequence[str]) -> tuple[str, str]:
    """The path of the NEWS file under one of ``folders`` (symlinks followed), and else the package
    the first linked doc folder points to: ``("", "openssh-client")`` for openssh-server."""
    doc_link = ""
    for name in folders:
        folder = f"{DOC}/{name}"
        real = _follow(folder, links)
        for file_name in NEWS_NAMES:
            path = _follow(f"{real}/{file_name}", links)
            if path in files:
                return path, ""
        parent, target = posixpath.split(real)
        if real != folder and parent == DOC and not doc_link and archive.PACKAGE_RE.fullmatch(target):
            doc_link = target
    return "", doc_link


def _follow(path: str, links: Mapping[str, str]) -> str:
    """``path`` with its symlinks (as recorded from the .deb) resolved, a few hops at most."""
    for _ in range(8):
        target = links.get(path)
        if target is None:
            break
        joined = target.lstrip("/") if target.startswith("/") else posixpath.join(posixpath.dirname(path), target)
        path = posixpath.normpath(joined)
    return path


def doc_members(deb: Path, what: str) -> tuple[dict[str, bytes], dict[str, str]]:
    """NEWS files and symlinks under usr/share/doc/<pkg>/ of a .deb: ``dpkg-deb --fsys-tarfile`` as a stream.

    Returns (path -> content of regular NEWS files, path -> link target of symlinked doc
    folders and NEWS files), paths without the leading "./". A .deb dpkg-deb cannot read is
    deleted (the next call fetches it again) and raises ArchiveError.
    """
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    argv = ["dpkg-deb", "--fsys-tarfile", str(deb)]
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        except FileNotFoundError as error:
            raise ArchiveError(f"{what}: dpkg-deb not found (install dpkg)") from error
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            process.kill()

        timer = threading.Timer(EXTRACT_TIMEOUT, kill)
        timer.start()
        problem = ""
        stream: Any = process.stdout
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    _collect(tar, member, files, links)
            while stream.read(1 << 16):  # the end-of-archive padding: dpkg-deb exits 0 only when all is read
                pass
        except (tarfile.TarError, OSError, EOFError) as error:
            problem = str(error) or type(error).__name__
        finally:
            timer.cancel()
            stream.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if killed.is_set():
            raise ArchiveError(f"{what}: `dpkg-deb --fsys-tarfile {deb.name}` timed out after {EXTRACT_TIMEOUT:.0f} s")
        if process.returncode != 0 or problem:
            errors.seek(0)
            said = errors.read().decode("utf-8", "replace").strip().splitlines()
            deb.unlink(missing_ok=True)
            reason = said[-1] if said else problem or f"exit {process.returncode}"
            raise ArchiveError(f"{what}: `dpkg-deb --fsys-tarfile {deb.name}` failed: {reason}")
    return files, links


def _collect(tar: tarfile.TarFile, member: tarfile.TarInfo, files: dict[str, bytes], links: dict[str, str]) -> None:
    path = posixpath.normpath(member.name.lstrip("/"))
    parts = path.split("/")
    if parts[:3] != DOC.split("/") or len(parts) not in (4, 5):
        return
    if member.issym() and (len(parts) == 4 or parts[4] in NEWS_NAMES):
        links[path] = member.linkname
    elif len(parts) == 5 and parts[4] in NEWS_NAMES and member.isfile() and member.size <= MAX_NEWS_BYTES:
        handle = tar.extractfile(member)
        if handle is not None:
            files[path] = handle.read()


def load_cached(folder: Path, record: PackageRecord) -> CachedNews | None:
    """The parsed NEWS of this exact (package, version), or None when absent or unreadable."""
    try:
        data = json.loads(_cache_file(folder, record.name, record.version).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != NEWS_FORMAT:
        return None
    if data.get("package") != record.name or data.get("version") != record.version:
        return None
    try:
        entries = tuple(
            NewsItem(record.name, str(entry["version"]), str(entry["date"]), str(entry["text"]))
            for entry in data["entries"]
        )
        return CachedNews(record.name, record.version, str(data["path"]), str(data["doc_link"]), entries)
    except (KeyError, TypeError):
        return None


def save_cached(folder: Path, news: CachedNews) -> None:
    """Written beside and renamed into place: a reader sees the old file or the whole new one."""
    path = _cache_file(folder, news.package, news.version)
    body = {
        "format": NEWS_FORMAT,
        "package": news.package,
        "version": news.version,
        "path": news.path,
        "doc_link": news.doc_link,
        "entries": [{"version": e.version, "date": e.date, "text": e.text} for e in news.entries],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n")
    tmp.replace(path)
