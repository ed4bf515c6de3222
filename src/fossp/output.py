"""Output helpers: readable rich tables by default, JSON for scripts.

Everything printed here has secret settings masked (fossp.secrets): JSON, tables and
console lines alike, so no command can show one by accident.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any

from fossp.secrets import active, redact

if TYPE_CHECKING:
    from rich.console import Console


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> str:
    """JSON text; with secrets in play the data is masked as plain JSON values (so an
    escaped secret is caught too)."""
    if active():
        data = redact(json.loads(json.dumps(data, default=_default)))
    return json.dumps(data, indent=2, default=_default, ensure_ascii=False)


def print_json(data: Any) -> None:
    sys.stdout.write(dumps(data) + "\n")


@cache
def _masking_console() -> type[Console]:
    """A Console that masks secrets in the text it is given, before wrapping can split one."""
    from rich.console import Console

    class MaskingConsole(Console):
        def print(self, *objects: Any, **options: Any) -> None:
            super().print(*(redact(o) if isinstance(o, str) else o for o in objects), **options)

    return MaskingConsole


def console(stderr: bool = False) -> Console:
    """Emoji codes off: data such as ``ocf:heartbeat:IPaddr2`` must print as it is."""
    return _masking_console()(stderr=stderr, highlight=False, soft_wrap=False, emoji=False)


def plain(value: object) -> str:
    """``value`` as text for a line that has markup of its own: its brackets print as they are."""
    from rich.markup import escape

    return escape(str(value))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a simple table; cells are data, rendered with str() (no markup, no emoji)."""
    from rich.table import Table
    from rich.text import Text

    tbl = Table(title=redact(title), show_lines=False, header_style="bold")
    for column in columns:
        tbl.add_column(column, overflow="fold")
    for row in rows:
        tbl.add_row(*(Text("" if cell is None else redact(str(cell))) for cell in row))
    console().print(tbl)


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``render`` for the human view."""
    if as_json:
        print_json(data)
    else:
        render()
