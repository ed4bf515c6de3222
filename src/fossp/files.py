"""Reading a file the user named: one safe reader, so every bad file is one clear line.

Every profile, inventory, role file, recipe, template and secret file goes through
:func:`read_text`. It refuses what is not a regular file before opening it (a FIFO would
block forever, a device never ends), bounds the size, and decodes UTF-8 strictly, naming
the line of a byte that is not UTF-8 or a NUL byte.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fossp.errors import BadInput

MAX_BYTES = 16 * 1024 * 1024
_KINDS = {
    stat.S_IFDIR: "is a folder, not a file",
    stat.S_IFIFO: "is a FIFO, not a regular file",
    stat.S_IFSOCK: "is a socket, not a regular file",
    stat.S_IFCHR: "is a device, not a regular file",
    stat.S_IFBLK: "is a device, not a regular file",
}


class UnreadableFile(BadInput):
    """A file that cannot be read as text: ``reason`` says why, without the path."""

    code = "unreadable_file"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}", where=str(path))
        self.path = path
        self.reason = reason


def _not_regular(mode: int) -> str | None:
    """Why a file of ``mode`` is refused (None: a regular file)."""
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "is not a regular file")


def read_bytes(path: Path) -> bytes:
    """The bytes of the regular file at ``path`` (symbolic links followed), or UnreadableFile."""
    try:
        refused = _not_regular(os.stat(path).st_mode)
        if refused:
            raise UnreadableFile(path, refused)
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise UnreadableFile(path, f"cannot read it: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        refused = _not_regular(os.fstat(descriptor).st_mode)  # what was opened, had it changed since
        if refused:
            raise UnreadableFile(path, refused)
        try:
            data = handle.read(MAX_BYTES + 1)
        except OSError as error:
            raise UnreadableFile(path, f"cannot read it: {error.strerror}") from None
    if len(data) > MAX_BYTES:
        raise UnreadableFile(path, f"is larger than {MAX_BYTES >> 20} MiB")
    return data


def decode(data: bytes, path: Path) -> str:
    """``data`` as UTF-8 text (a byte order mark dropped); anything else names its line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(path, "is UTF-16 text; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, byte = data.count(b"\n", 0, error.start) + 1, data[error.start]
        raise UnreadableFile(path, f"line {line}: not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8") from None
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        raise UnreadableFile(path, f"line {line}: a NUL byte; not a text file")
    return text


def read_text(path: Path) -> str:
    """The UTF-8 text of the regular file at ``path``; any problem is one UnreadableFile line."""
    return decode(read_bytes(path), path)
