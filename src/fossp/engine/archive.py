"""Backups on the controller: a command's standard output on the host (a data folder's tar,
a database dump) streamed into a file here as it comes, never held in memory whole."""

from __future__ import annotations

import os
from pathlib import Path

from fossp.hosts.connector import Connector, Result


async def save_output(connector: Connector, argv: list[str], destination: Path, timeout: float) -> Result:
    """Run ``argv`` on the host, its stdout into ``destination`` (created 0600, never an
    existing file); the result carries stderr only."""
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as sink:
        return await connector.run_to_file(argv, sink, timeout)
