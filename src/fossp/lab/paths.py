"""Where the lab keeps its state, and which host names it accepts."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fossp.errors import BadInput

DEFAULT_LAB_DIR = Path("/var/lib/fossp/lab")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")


def validate_name(name: str) -> str:
    """Host names become netns, file and host names: accept only a short, safe alphabet."""
    if not NAME_RE.fullmatch(name):
        raise BadInput(
            f"lab host name {name!r}: must match ^[a-z][a-z0-9-]{{0,14}}$ "
            "(lower-case letter first, then up to 14 letters, digits or '-')"
        )
    return name


def validate_names(names: list[str]) -> list[str]:
    """Validate all names before anything changes, and drop repeats keeping the order."""
    for name in names:
        validate_name(name)
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class LabPaths:
    """The lab's folders; FOSSP_LAB_DIR moves them (tests, several labs on one machine)."""

    root: Path

    @classmethod
    def current(cls) -> LabPaths:
        return cls(Path(os.environ.get("FOSSP_LAB_DIR") or DEFAULT_LAB_DIR))

    @property
    def pool_image(self) -> Path:
        return self.root / "pool.img"

    @property
    def pool(self) -> Path:
        return self.root / "pool"

    @property
    def base(self) -> Path:
        return self.pool / "base"

    @property
    def roots(self) -> Path:
        return self.pool / "roots"

    @property
    def hosts(self) -> Path:
        return self.root / "hosts"

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def suites(self) -> Path:
        """Other releases' flat repositories (upgrades); never inside ``repo``."""
        return self.root / "suites"

    @property
    def key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    def host_dir(self, name: str) -> Path:
        return self.hosts / name

    def host_root(self, name: str) -> Path:
        return self.roots / name

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise changes to shared lab state across processes and threads.

        flock belongs to an open file description, so each call opens the file anew
        and threads of one process exclude each other too.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
