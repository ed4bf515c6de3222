"""Options shared by every command group."""

from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def new_app(help_text: str) -> typer.Typer:
    """A command group with the project's conventions (no completion noise, plain errors)."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
