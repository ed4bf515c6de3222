"""Options shared by every command group."""

from enum import StrEnum
from typing import Annotated, Any

import typer


class OutputFormat(StrEnum):
    TABLE = "table"
    TSV = "tsv"
    JSON = "json"


def _format_chosen(ctx: typer.Context, value: OutputFormat | None) -> OutputFormat | None:
    """--format: tables drawn or tab-separated whatever stdout is; json is --json."""
    from fossp.output import choose_format

    choose_format(None if value is None else value.value)
    ctx.meta["fossp.format"] = value
    return value


def _json_chosen(ctx: typer.Context, value: bool) -> bool:
    return value or ctx.meta.get("fossp.format") is OutputFormat.JSON


JsonOption = Annotated[bool, typer.Option("--json", callback=_json_chosen, help="Print machine-readable JSON.")]
#: On a command that prints tables; read by its callback (before --json's, being eager).
FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        is_eager=True,
        callback=_format_chosen,
        help="table: drawn; tsv: tab-separated rows; json: as --json. Default: drawn on a terminal, else tsv.",
    ),
]


#: -h as well as --help, on every command.
CONTEXT = {"help_option_names": ["-h", "--help"]}


def new_app(help_text: str, completion: bool = False, group: type[Any] | None = None) -> typer.Typer:
    """A command group with the project's conventions: plain errors, -h, and shell
    completion offered once, on the top-level command (``completion``); ``group`` is the
    click group class (the root's builds its commands lazily)."""
    return typer.Typer(
        help=help_text,
        cls=group,
        no_args_is_help=True,
        add_completion=completion,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings=CONTEXT,
    )


def complete_role(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of a role argument: the catalog's role names and IDs that start
    with what was typed, each with its name or ID as the help."""
    from fossp.catalog import load_catalog

    typed = incomplete.lower()
    found = []
    for role in load_catalog().roles.values():
        if role.name.startswith(typed):
            found.append((role.name, role.id))
        if role.id.lower().startswith(typed):
            found.append((role.id, role.name))
    return found


def plain_metavars(command: Any) -> Any:
    """Help that names values as administrators read them (``--target TARGET``, ``ROLES...``,
    a required argument bare and an optional one in brackets) instead of typer's Python
    types (``<list[str]>``) and braces; choices keep their ``a|b`` list."""
    plain_params(command)
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)
    return command


def plain_params(command: Any) -> Any:
    """``command``'s own options and arguments named as plain_metavars says."""
    from typer.core import TyperArgument, TyperOption

    class NamedArgument(TyperArgument):
        def display_type_rich(self, ctx: Any) -> str | None:
            return None  # the metavar names it

        def _rich_display_name(self) -> str:
            return self.display_name_raw + ("..." if self.nargs != 1 else "")

        def _usage_display_name(self) -> str:
            name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
            return name + ("..." if self.nargs != 1 else "")

    for param in command.params:
        if isinstance(param, TyperOption) and not param.is_flag and param.metavar is None:
            if not param.type_descriptor.is_choice:
                param.metavar = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
        elif isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "value").rstrip("_").upper()
            param.__class__ = NamedArgument
    return command
