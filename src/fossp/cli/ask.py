"""Asking a person for the settings no default is safe for (a DHCP subnet, a realm, a password).

A profile must never be saved with a guessed site value. At a terminal FOSSP asks, with
the setting's description and an example, checks the answer against the setting's type
and asks again when it does not fit; a secret is typed hidden, twice. In a script there
is nobody to ask, so the run is refused with one line naming every such setting and the
``--set`` that gives it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from fossp.errors import BadInput

if TYPE_CHECKING:
    from fossp.catalog.schema import Role, Setting


def interactive() -> bool:
    """Whether a person can answer: the prompts go to stderr and the answers come from stdin."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def how_to_give(role: Role, setting: Setting) -> str:
    """The --set that gives ``setting``: a secret by reference, so it stays out of `ps`."""
    if setting.secret:
        return f"--set '{role.name}.{setting.name}={{from_env: VAR}}'"
    example = setting.example if setting.example is not None else "VALUE"
    if isinstance(example, list):
        example = "[" + ",".join(str(item) for item in example) + "]"
    return f"--set {role.name}.{setting.name}={example}"


def refuse(missing: list[tuple[Role, Setting]]) -> BadInput:
    """The one line a script gets when settings with no safe default are missing."""
    names = ", ".join(f"{role.name}.{setting.name}" for role, setting in missing)
    first_role, first = missing[0]
    one = len(missing) == 1
    return BadInput(
        f"--save: {names} {'has' if one else 'have'} no safe default and no terminal to ask on: "
        f"give {'it' if one else 'each'} as --set ROLE.SETTING=VALUE (e.g. {how_to_give(first_role, first)})"
    )


def ask(missing: list[tuple[Role, Setting]]) -> dict[str, dict[str, Any]]:
    """Role ID -> setting -> the value the person typed, each checked against its setting."""
    answers: dict[str, dict[str, Any]] = {}
    for role, setting in missing:
        answers.setdefault(role.id, {})[setting.name] = ask_one(role, setting)
    return answers


def ask_one(role: Role, setting: Setting) -> Any:
    import click

    example = f"; e.g. {_shown(setting.example)}" if setting.example is not None else ""
    hidden = " (typed hidden)" if setting.secret else ""
    text = f"{role.name}.{setting.name}: {setting.description.strip()}{example}{hidden}"
    try:
        return click.prompt(
            text,
            hide_input=setting.secret,
            confirmation_prompt=setting.secret,
            value_proc=lambda typed: _checked(setting, typed),
            err=True,
        )
    except click.exceptions.Abort:
        raise BadInput(f"{role.name}.{setting.name}: no answer given; {how_to_give(role, setting)} gives it") from None


def _checked(setting: Setting, typed: str) -> Any:
    """The typed text as the setting's value, or a UsageError that makes click ask again."""
    import click

    try:
        return setting.check(_parsed(setting, typed))
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _parsed(setting: Setting, typed: str) -> Any:
    """Text as typed -> the setting's kind of value: a list as "a, b" (or [a, b]); a number
    or true/false as YAML reads it; any other setting, a secret above all, as typed."""
    import yaml

    from fossp.catalog.schema import SettingType

    text = typed.strip()
    if setting.type is SettingType.LIST:
        return [item.strip() for item in text.strip("[]").split(",") if item.strip()]
    if setting.type in (SettingType.INTEGER, SettingType.PORT, SettingType.BOOLEAN):
        try:
            return yaml.safe_load(text)
        except (yaml.YAMLError, ValueError):
            return text
    return typed if setting.secret else text


def _shown(example: Any) -> str:
    return ", ".join(str(item) for item in example) if isinstance(example, list) else str(example)
