"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temp dir, free port.

Runs as the ``postgres`` user when the tests run as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def available() -> bool:
    return (BIN / "initdb").exists() and (BIN / "pg_ctl").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_owner(owner: str | None) -> dict[str, object]:
    return {"user": owner, "group": pwd.getpwnam(owner).pw_gid} if owner else {}


@contextmanager
def server() -> Iterator[str]:
    """Start a server; yield the URL of its admin database; stop and delete it after."""
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="fossp-pg-"))
    data = root / "data"
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120, **_as_owner(owner)}
    try:
        subprocess.run([BIN / "initdb", "-D", data, "-U", "fossp", "-A", "trust", "--no-sync"], **run)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run([BIN / "pg_ctl", "-D", data, "-o", options, "-l", root / "log", "-w", "start"], **run)
        yield f"postgresql://fossp@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([BIN / "pg_ctl", "-D", data, "-m", "immediate", "stop"], **{**run, "check": False})
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(admin_url: str, name: str) -> str:
    """Create an empty database ``name`` on the server; return its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
