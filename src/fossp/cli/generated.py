"""Files generated from the code and committed (the JSON Schemas, the man pages)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def write_generated(folder: Path, files: Iterable[tuple[str, str]], pattern: str) -> list[Path]:
    """Write each (name, text) into ``folder`` (made if missing) and remove the files
    matching ``pattern`` that were not written: those of commands gone."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files:
        target = folder / name
        target.write_text(text)
        written.append(target)
    for stale in set(folder.glob(pattern)) - set(written):
        stale.unlink()
    return written
