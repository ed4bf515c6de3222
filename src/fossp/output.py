"""Output helpers: readable rich tables by default, JSON for scripts.

Everything printed here has secret settings masked (fossp.secrets): JSON, tables and
console lines alike, so no command can show one by accident.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any

from fossp.secrets import active, redact

if TYPE_CHECKING:
    from rich.console import Console


#: The version of every JSON document's shape (its ``schema_version``); raised when a
#: field is renamed, removed or changes meaning, never for an added field.
SCHEMA_VERSION = 1


def aware(moment: datetime) -> datetime:
    """``moment`` with its zone: a naive datetime (SQLite hands them back) was written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def timestamp(moment: datetime, timespec: str = "auto") -> str:
    """RFC 3339 text with a zone, as every JSON document gives a moment."""
    return aware(moment).isoformat(timespec=timespec)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any, indent: int | None = 2) -> str:
    """JSON text; with secrets in play the data is masked as plain JSON values (so an
    escaped secret is caught too)."""
    if active():
        data = redact(json.loads(json.dumps(data, default=_default)))
    return json.dumps(data, indent=indent, default=_default, ensure_ascii=False)


#: This run's output state: the table style --format chose, whether a document was printed.
_run: dict[str, Any] = {"style": None, "printed": False}


def new_run() -> None:
    """Forget the last run's state (tests run many commands in one process)."""
    _run.update(style=None, printed=False)


def print_json(data: Mapping[str, Any], one_line: bool = False) -> None:
    """One JSON document on stdout: an object that starts with its ``schema_version``
    (``one_line``: on one line, as a stream of documents such as --watch prints)."""
    sys.stdout.write(dumps({"schema_version": SCHEMA_VERSION, **data}, None if one_line else 2) + "\n")
    sys.stdout.flush()
    _run["printed"] = True


def printed() -> bool:
    """Whether this run printed its JSON document (which then holds what went wrong)."""
    return bool(_run["printed"])


def print_error(message: str, where: str | None, code: str) -> bool:
    """An error under ``--json``: the same document frame, with ``error`` instead of data;
    False (nothing printed) when the command already printed its document."""
    if _run["printed"]:
        return False
    from fossp.errors import error_data

    print_json({"error": error_data(message, where, code)})
    return True


@cache
def _masking_console() -> type[Console]:
    """A Console that masks secrets in the text it is given, before wrapping can split one."""
    from rich.console import Console

    class MaskingConsole(Console):
        def print(self, *objects: Any, **options: Any) -> None:
            super().print(*(redact(o) if isinstance(o, str) else o for o in objects), **options)

    return MaskingConsole


def console(stderr: bool = False) -> Console:
    """Emoji codes off: data such as ``ocf:heartbeat:IPaddr2`` must print as it is. Into
    a pipe or a file, lines are never wrapped (no hard breaks, no trailing spaces)."""
    stream = sys.stderr if stderr else sys.stdout
    return _masking_console()(stderr=stderr, highlight=False, soft_wrap=not stream.isatty(), emoji=False)


def plain(value: object) -> str:
    """``value`` as text for a line that has markup of its own: its brackets print as they are."""
    from rich.markup import escape

    return escape(str(value))


def choose_format(style: str | None) -> None:
    """The table style --format chose ("table" or "tsv"); None: drawn on a terminal only."""
    _run["style"] = style


def _tab_separated() -> bool:
    style = _run["style"]
    return style == "tsv" if style in ("table", "tsv") else not sys.stdout.isatty()


#: A free-text column is squeezed no narrower than this (or its longest word) before
#: its words fold.
FREE_TEXT_MIN_WIDTH = 8


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table; cells are data, rendered with str() (no markup, no emoji).

    On a terminal, a column of single words (IDs, names, states) never breaks; only
    columns of free text wrap. Into a pipe: tab-separated rows under a header line, no
    title, no box characters, nothing wrapped, so `grep`, `cut` and `awk` see whole rows.
    ``--format table`` or ``tsv`` chooses one whatever stdout is.
    """
    cells = [["" if cell is None else redact(str(cell)) for cell in row] for row in rows]
    if _tab_separated():
        for line in (list(columns), *cells):
            sys.stdout.write("\t".join(" ".join(cell.split()) for cell in line) + "\n")
        return
    from rich.box import SIMPLE_HEAD
    from rich.table import Table
    from rich.text import Text

    out = console()
    shapes = [_shape(column, [row[i] for row in cells if i < len(row)]) for i, column in enumerate(columns)]
    squeeze = sum(width + 3 for _, width in shapes) > out.width  # 3: padding and the gap between columns
    tbl = Table(title=redact(title), box=SIMPLE_HEAD, show_lines=False, header_style="bold", pad_edge=False)
    for column, (free_text, width) in zip(columns, shapes, strict=True):
        if not free_text:  # single words: never broken
            tbl.add_column(column, no_wrap=True, min_width=width)
        else:  # wraps between words, and within them only where the terminal is too narrow
            tbl.add_column(column, overflow="fold", min_width=None if squeeze else width)
    for row in cells:
        tbl.add_row(*(Text(cell) for cell in row))
    out.print(tbl)


def _shape(header: str, cells: list[str]) -> tuple[bool, int]:
    """(free text?, the width it asks): a column of single words asks for its widest cell,
    free text for its longest word, at most FREE_TEXT_MIN_WIDTH."""
    if any(" " in cell.strip() for cell in cells):
        return True, min(max((len(word) for cell in cells for word in cell.split()), default=1), FREE_TEXT_MIN_WIDTH)
    return False, max((len(cell) for cell in cells), default=0) or len(header)


def emit(data: Mapping[str, Any], as_json: bool, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``render`` for the human view."""
    if as_json:
        print_json(data)
    else:
        render()
