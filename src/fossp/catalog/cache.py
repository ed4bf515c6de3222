"""The validated catalog (and what is derived from it, such as recommend's lexicon) kept
on disk between runs: parsing and validating the YAML was a third of a catalog command's
start-up, stemming the vocabulary a fifth of `fossp recommend`'s.

One file per kind, ``NAME-KEY.pickle`` (``catalog-KEY.pickle``), in ``FOSSP_CACHE_DIR``
(default /var/cache/fossp for root, ``$XDG_CACHE_HOME/fossp`` or ~/.cache/fossp
otherwise). KEY hashes every input: the content of each file it is made from (data files,
site role files, the code that checks them; or why one cannot be read), any data given,
and the versions of FOSSP, Python and pydantic; so any change is a new key and the value
is made from the files again. The cache only ever saves time: a missing, corrupt or
foreign file is ignored, and one that cannot be written is not written.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from fossp import __version__
from fossp.files import UnreadableFile, read_bytes

T = TypeVar("T")
#: The code whose rules every cached value passed (the catalog's schema and loader).
CODE = tuple(Path(__file__).with_name(name) for name in ("schema.py", "loader.py", "cache.py"))
ROOT_CACHE = Path("/var/cache/fossp")


def cache_dir() -> Path:
    """Where FOSSP keeps its cached catalog."""
    named = os.environ.get("FOSSP_CACHE_DIR")
    if named:
        return Path(named)
    if os.geteuid() == 0:
        return ROOT_CACHE
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "fossp"


def cached(name: str, kind: type[T], files: Iterable[Path], make: Callable[[], T], data: str = "") -> T:
    """The value made by ``make`` from ``files`` (and ``data``): from the cache while they
    are unchanged, else made and stored."""
    key = cache_key(files, data)
    found = load_cached(name, key)
    if isinstance(found, kind):
        return found
    made = make()
    store(name, key, made)
    return made


def cache_key(files: Iterable[Path], data: str = "") -> str:
    """The hash of a cached value's inputs (see the module's docstring)."""
    from pydantic.version import VERSION

    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0{VERSION}\0{data}".encode())
    for path in (*CODE, *files):
        digest.update(f"\0{path}\0".encode())
        try:
            digest.update(hashlib.sha256(read_bytes(path)).digest())
        except UnreadableFile as error:  # the catalog skips it and says why: so does the key
            digest.update(error.reason.encode())
    return digest.hexdigest()


def _own(info: os.stat_result) -> bool:
    """Only a file of this user that no one else can change is unpickled."""
    return info.st_uid == os.geteuid() and not info.st_mode & 0o022


def load_cached(name: str, key: str) -> Any:
    """What is stored as ``name`` under ``key``, or None (none, unreadable, corrupt, not this user's)."""
    path = cache_dir() / f"{name}-{key}.pickle"
    try:
        with open(path, "rb") as handle:
            if not (_own(os.fstat(handle.fileno())) and _own(os.stat(path.parent))):
                return None
            return pickle.load(handle)
    except Exception:  # whatever is wrong with the file, the data files answer
        return None


def store(name: str, key: str, value: object) -> None:
    """Keep ``value`` as ``name`` under ``key`` (written whole, then renamed) in place of older ones."""
    folder = cache_dir()
    stored = f"{name}-{key}.pickle"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, folder / stored)
        finally:
            Path(temporary).unlink(missing_ok=True)
        for older in folder.glob(f"{name}-*.pickle"):
            if older.name != stored:
                older.unlink(missing_ok=True)
    except OSError:
        pass  # an unwritable cache costs the next run time, never this command
