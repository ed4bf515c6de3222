"""Man pages made from the commands' own help: one page per command (fossp(1),
fossp-deploy(1), fossp-roles-list(1), ...), so `man fossp-deploy` says what `fossp deploy
-h` says. The pages are committed under man/ and installed with the package
(share/man/man1); a test regenerates them and compares.

    python -m fossp.cli.manpages man/
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from fossp import __version__
from fossp.catalog.loader import DATA_DIR
from fossp.errors import EXIT_FINDING

ENVIRONMENT = DATA_DIR / "environment.yaml"
EXIT_STATUS = (
    ("0", "success"),
    (str(EXIT_FINDING), "a finding: a failed check, a conflict, a failed host"),
    ("2", "bad input or an error; nothing was changed"),
)


def environment() -> list[dict[str, str]]:
    """The FOSSP_* variables the program reads, with their meaning."""
    entries: list[dict[str, str]] = yaml.safe_load(ENVIRONMENT.read_text())
    return entries


def roff(text: str) -> str:
    """Text as roff reads it literally: backslashes and hyphens escaped, no line starting a request."""
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in escaped.splitlines())


def pages(command: Any, path: tuple[str, ...] = ("fossp",), parent: Any = None) -> Iterator[tuple[str, str]]:
    """(file name, page) for ``command`` and every command under it."""
    context = command.context_class(command, info_name=path[-1], parent=parent, **command.context_settings)
    yield "-".join(path) + ".1", _page(command, context, path)
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from pages(sub, (*path, name), context)


def _page(command: Any, context: Any, path: tuple[str, ...]) -> str:
    title = "-".join(path)
    summary = command.get_short_help_str(limit=200)
    lines = [
        f'.TH "{title.upper()}" "1" "" "fossp {__version__}" "FOSSP Manual"',
        ".SH NAME",
        f"{roff(title)} \\- {roff(summary)}",
        ".SH SYNOPSIS",
        f".B {roff(' '.join(path))}",
        roff(" ".join(command.collect_usage_pieces(context))),
        ".SH DESCRIPTION",
        *_paragraphs(command.help or ""),
    ]
    records = [record for param in command.get_params(context) if (record := param.get_help_record(context))]
    if records:
        lines.append(".SH OPTIONS")
        for names, help_text in records:
            lines += [".TP", f".B {roff(names)}", roff(" ".join(help_text.split()))]
    subcommands = [(name, sub) for name, sub in getattr(command, "commands", {}).items() if not sub.hidden]
    if subcommands:
        lines.append(".SH COMMANDS")
        for name, sub in subcommands:
            lines += [".TP", f".B {roff(name)}", roff(sub.get_short_help_str(limit=200)) + f" See {title}\\-{name}(1)."]
    if len(path) == 1:
        lines += _root_sections()
    else:
        lines += [".SH SEE ALSO", "fossp(1)"]
    return "\n".join(lines) + "\n"


def _paragraphs(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        lines += [".PP", roff(" ".join(paragraph.split()))]
    return lines


def _root_sections() -> list[str]:
    lines = [".SH EXIT STATUS"]
    for code, meaning in EXIT_STATUS:
        lines += [".TP", f".B {code}", roff(meaning)]
    lines.append(".SH ENVIRONMENT")
    for variable in environment():
        lines += [".TP", f".B {roff(variable['name'])}", roff(variable["meaning"])]
    lines += [".SH FILES", ".TP", ".B /etc/fossp", "Inventory, site roles and recipes."]
    lines += [".TP", ".B /var/lib/fossp", "The stage gate database, the lab, generated secrets."]
    return lines


def write_pages(folder: Path) -> list[Path]:
    """Write every page into ``folder``, removing pages of commands gone."""
    from fossp.cli.generated import write_generated
    from fossp.cli.main import command

    return write_generated(folder, pages(command()), "*.1")


if __name__ == "__main__":
    print(f"wrote {len(write_pages(Path(sys.argv[1] if len(sys.argv) > 1 else 'man')))} man pages")
