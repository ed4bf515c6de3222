"""Backups on the controller: a command's standard output on the host (a data folder's tar,
a database dump) streamed into a file here as it comes, never held in memory whole.

The connectors' ``run`` returns decoded text, which would damage a tar and hold a big
dump in memory, so this module runs the command itself: locally with the file as the
process's stdout, over SSH with the file as the channel's stdout (the connector's own
connection and ``sudo -n`` prefix).
"""

from __future__ import annotations

import asyncio
import os
import shlex
from pathlib import Path
from typing import BinaryIO

from fossp.hosts.connector import Connector, HostError, Result, SshConnector


async def save_output(connector: Connector, argv: list[str], destination: Path, timeout: float) -> Result:
    """Run ``argv`` on the host, its stdout into ``destination`` (created 0600, never an
    existing file); the result carries stderr only."""
    descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as sink:
        if isinstance(connector, SshConnector):
            return await _over_ssh(connector, argv, sink, timeout)
        return await _locally(connector, argv, sink, timeout)


async def _locally(connector: Connector, argv: list[str], sink: BinaryIO, timeout: float) -> Result:
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise HostError(f"{connector.name}: `{shlex.join(argv)}` did not finish within {timeout:g} s") from None
    return Result(tuple(argv), process.returncode or 0, "", err.decode(errors="replace"))


async def _over_ssh(connector: SshConnector, argv: list[str], sink: BinaryIO, timeout: float) -> Result:
    import asyncssh

    command = shlex.join(connector._prefix + argv)
    try:
        completed = await connector._connection.run(
            command, stdin=asyncssh.DEVNULL, stdout=sink, encoding=None, timeout=timeout
        )
    except asyncssh.TimeoutError:
        raise HostError(f"{connector.name}: `{shlex.join(argv)}` did not finish within {timeout:g} s") from None
    except (OSError, asyncssh.Error) as error:
        raise HostError(f"{connector.name}: connection lost: {getattr(error, 'reason', None) or error}") from None
    err = completed.stderr if isinstance(completed.stderr, bytes) else b""
    status = completed.exit_status if completed.exit_status is not None else 255
    return Result(tuple(argv), status, "", err.decode(errors="replace"))
