"""The validated catalog kept on disk between runs: parsing and validating the YAML was a
third of a catalog command's start-up.

One file, ``catalog-KEY.pickle``, in ``FOSSP_CACHE_DIR`` (default /var/cache/fossp for
root, ``$XDG_CACHE_HOME/fossp`` or ~/.cache/fossp otherwise). KEY hashes every input: the
content of each data file and site role file (or why it cannot be read), the validating
code and the versions of FOSSP, Python and pydantic; so any change is a new key and the
catalog is loaded from the files again. The cache only ever saves time: a missing,
corrupt or foreign file is ignored, and one that cannot be written is not written.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from fossp import __version__
from fossp.files import UnreadableFile, read_bytes

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog

#: The code whose rules a cached catalog passed.
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


def cache_key(files: Iterable[Path]) -> str:
    """The hash of the catalog's inputs (see the module's docstring)."""
    from pydantic.version import VERSION

    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0{VERSION}".encode())
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


def cached_catalog(key: str) -> Catalog | None:
    """The catalog stored under ``key``, or None (none, unreadable, corrupt, not this user's)."""
    from fossp.catalog.loader import Catalog

    path = cache_dir() / f"catalog-{key}.pickle"
    try:
        with open(path, "rb") as handle:
            if not (_own(os.fstat(handle.fileno())) and _own(os.stat(path.parent))):
                return None
            found = pickle.load(handle)
    except Exception:  # whatever is wrong with the file, the data files answer
        return None
    return found if isinstance(found, Catalog) else None


def store_catalog(key: str, catalog: Catalog) -> None:
    """Keep ``catalog`` under ``key`` (written whole, then renamed) in place of older ones."""
    folder = cache_dir()
    name = f"catalog-{key}.pickle"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".catalog-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                pickle.dump(catalog, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, folder / name)
        finally:
            Path(temporary).unlink(missing_ok=True)
        for older in folder.glob("catalog-*.pickle"):
            if older.name != name:
                older.unlink(missing_ok=True)
    except OSError:
        pass  # an unwritable cache costs the next run time, never this command
