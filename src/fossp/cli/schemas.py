"""JSON Schemas of the documents `--json` prints, made from fossp.cli.documents: one file
per command (roles-list.json for `fossp roles list --json`, ...) and error.json for the
error document any command prints under --json. They are committed in
fossp/data/schemas (installed with the package); a test regenerates them and compares.

    python -m fossp.cli.schemas src/fossp/data/schemas
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fossp.catalog.loader import DATA_DIR
from fossp.cli.documents import COMMANDS, Document, ErrorDocument
from fossp.cli.generated import write_generated

SCHEMAS_DIR = DATA_DIR / "schemas"
ERROR_SCHEMA = "error.json"


def file_name(command: str) -> str:
    """The schema file of a command (its words joined by spaces)."""
    return command.replace(" ", "-") + ".json"


def schema(model: type[Document], title: str) -> dict[str, Any]:
    """The model's JSON Schema (as the document is printed: aliases, serialised values)."""
    generated = model.model_json_schema(mode="serialization", by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **generated, "title": title}


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every command with --json and for the error document."""
    made = {file_name(command): schema(model, f"fossp {command} --json") for command, model in COMMANDS.items()}
    made[ERROR_SCHEMA] = schema(ErrorDocument, "fossp --json: an error")
    return made


def text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    """Write every schema into ``folder``, removing those of commands gone."""
    return write_generated(folder, ((name, text(data)) for name, data in schemas().items()), "*.json")


if __name__ == "__main__":
    print(f"wrote {len(write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else SCHEMAS_DIR)))} schemas")
