"""Every `--json` answer a test gets is checked against its command's published JSON
Schema (fossp/data/schemas): the one place that holds each command to its documented
shape, called by the CLI helpers (tests.conftest.run_fossp, tests.cli.inprocess.fossp),
so the e2e tests check the lab commands' documents too."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from fossp.cli.main import wants_json
from fossp.cli.schemas import ERROR_SCHEMA, SCHEMAS_DIR, file_name

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    """RFC 3339: a date, 'T', a time and a zone (Z or an offset)."""
    if not isinstance(value, str):
        return True
    return "T" in value and datetime.fromisoformat(value).tzinfo is not None


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS_DIR / name).read_text())
    return Draft202012Validator(schema, format_checker=FORMATS)


def command_of(args: tuple[str, ...]) -> str:
    """The command the words of ``args`` name (`gate actions add`), options skipped."""
    from fossp.cli.main import command

    node, words = command(), []
    for arg in args:
        subs = getattr(node, "commands", None)
        if not subs or arg not in subs:
            if arg.startswith("-") or not subs:
                continue
            break
        node, words = subs[arg], [*words, arg]
    return " ".join(words)


def check_document(args: tuple[str, ...], stdout: str) -> dict[str, Any] | None:
    """The JSON document on ``stdout`` after ``fossp ARGS``, validated against the schema
    of its command (or the error schema); None when ARGS asked for no JSON or nothing came."""
    if not wants_json(args) or not stdout.strip():
        return None
    document: dict[str, Any] = json.loads(stdout)
    name = ERROR_SCHEMA if "error" in document else file_name(command_of(args))
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, f"fossp {' '.join(args)}: not as {name} says: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:5]
    )
    return document
