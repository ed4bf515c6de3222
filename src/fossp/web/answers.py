"""The frame of every JSON answer of the web API: an object with ``schema_version`` first,
as the CLI's documents have it (fossp.cli.documents, docs/json.md), so one reader serves
`fossp ... --json` and /api/v1 alike; a list is a field of an object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import ConfigDict, Field

from fossp.cli.documents import Document
from fossp.output import SCHEMA_VERSION, dumps


class Answer(Document):
    """A document the API builds itself: its ``schema_version`` is filled in (and still
    required in the OpenAPI description of the answer)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
    schema_version: Literal[1] = Field(default=1, description=f"the shape version of the answer ({SCHEMA_VERSION})")


D = TypeVar("D", bound=Document)


def answer(model: type[D], data: Mapping[str, Any]) -> D:
    """A service's view as the document ``model``: its moments with their zone, as the CLI
    prints them (SQLite hands them back naive)."""
    return model.model_validate_json(dumps({"schema_version": SCHEMA_VERSION, **data}))
