"""Connectors: run argv lists and move files on a host, locally, over SSH or in a root folder.

Every command is an argv list. Over SSH it crosses as ``shlex.join(argv)``, so a value is
always one quoted word and never shell syntax; file contents and scripts travel as stdin
or SFTP data. One connector serves a host for a whole run (one SSH connection).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fossp.errors import Finding

if TYPE_CHECKING:
    import asyncssh

    from fossp.hosts.inventory import HostSpec


class HostError(Finding):
    """A problem on one host (unreachable, refused, a failing command): that host fails."""


@dataclass(frozen=True)
class Result:
    """What a command did: its argv, exit status and output."""

    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def describe(self) -> str:
        """The command and its output, for error messages and the ledger."""
        output = (self.stderr.strip() or self.stdout.strip())[-2000:]
        return f"`{shlex.join(self.argv)}` exited {self.exit_status}: {output}"


class Connector(ABC):
    """Runs commands and reads/writes files on one host."""

    name: str
    address: str
    #: Folder that stands for ``/`` (an offline root), or None for a live host.
    root: str | None = None

    @abstractmethod
    async def run(self, argv: list[str], stdin: bytes | None = None) -> Result:
        """Run ``argv`` with optional stdin data and return its result (never raises on exit)."""

    @abstractmethod
    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        """Write ``data`` to ``path`` atomically (temporary file, then rename).

        ``owner`` is ``user:group`` by name (empty: the writer's own).
        """

    async def close(self) -> None:  # noqa: B027 - only SSH has something to release
        """Release the connection (nothing to do for local connectors)."""

    def path(self, path: str) -> str:
        """``path`` as commands on the connector's machine name it (see RootConnector)."""
        return path

    async def check(self, argv: list[str], stdin: bytes | None = None) -> Result:
        """Run ``argv``; a non-zero exit raises HostError with the command's output."""
        result = await self.run(argv, stdin)
        if not result.ok:
            raise HostError(f"{self.name}: {result.describe()}")
        return result


async def _run_local(argv: list[str], stdin: bytes | None, env: dict[str, str] | None) -> Result:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate(stdin)
    return Result(tuple(argv), process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))


def _write_local(path: Path, data: bytes, mode: int, owner: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.fossp-tmp")
    temporary.write_bytes(data)
    os.chmod(temporary, mode)
    if owner:
        user, _, group = owner.partition(":")
        shutil.chown(temporary, user, group or None)
    temporary.replace(path)


class LocalConnector(Connector):
    """This machine: subprocesses and direct file access."""

    def __init__(self, name: str = "local") -> None:
        self.name = name
        self.address = "127.0.0.1"

    async def run(self, argv: list[str], stdin: bytes | None = None) -> Result:
        return await _run_local(argv, stdin, None)

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        _write_local(Path(path), data, mode, owner)


class RootConnector(Connector):
    """An offline root folder (an image being built): files land under the folder.

    Commands run on this machine; package backends and ``systemctl`` add their own
    ``--installroot``/``--root`` options from :attr:`root`, so nothing runs inside the root.
    """

    root: str

    def __init__(self, root: str, name: str | None = None) -> None:
        self.root = str(Path(root).resolve())
        self.name = name or f"root:{self.root}"
        self.address = ""

    def path(self, path: str) -> str:
        """The controller's path for ``path`` inside the root (never escapes it)."""
        relative = PurePosixPath(os.path.normpath("/" + path.lstrip("/"))).relative_to("/")
        return str(Path(self.root) / relative)

    async def run(self, argv: list[str], stdin: bytes | None = None) -> Result:
        return await _run_local(argv, stdin, None)

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        """Owners are not set: user names inside the root need not exist on this machine."""
        _write_local(Path(self.path(path)), data, mode, "")


class SshConnector(Connector):
    """One asyncssh connection for the whole run; host keys are checked against known_hosts.

    With ``become`` a non-root login runs every command through ``sudo -n`` (never a
    password prompt: a sudoer without NOPASSWD fails at once with sudo's message).
    """

    def __init__(self, name: str, connection: asyncssh.SSHClientConnection, address: str, become: bool = False) -> None:
        self.name = name
        self.address = address
        self._connection = connection
        self._prefix = ["sudo", "-n", "--"] if become else []

    @classmethod
    async def open(cls, host: HostSpec, timeout: float = 15.0) -> SshConnector:
        """Connect and authenticate; every failure becomes one HostError naming the host."""
        import asyncssh

        options: dict[str, Any] = {
            "port": host.port,
            "username": host.user,
            "connect_timeout": timeout,
            # curve25519 costs a quarter of OpenSSH's default sntrup761 on small machines.
            "kex_algs": ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256"],
        }
        if host.known_hosts:  # otherwise asyncssh's default, ~/.ssh/known_hosts
            options["known_hosts"] = host.known_hosts
        if host.key:
            options["client_keys"] = [host.key]
        try:
            connection = await asyncssh.connect(host.address, **options)
        except asyncssh.HostKeyNotVerifiable as error:
            raise HostError(f"{host.name}: host key not verified ({error.reason}); add it to known_hosts") from None
        except asyncssh.PermissionDenied:
            raise HostError(f"{host.name}: SSH login as {host.user} refused (key not accepted)") from None
        except (OSError, asyncssh.Error, TimeoutError) as error:
            reason = getattr(error, "reason", None) or str(error) or type(error).__name__
            raise HostError(f"{host.name}: cannot reach {host.address}:{host.port}: {reason}") from None
        return cls(host.name, connection, host.address, host.become)

    async def run(self, argv: list[str], stdin: bytes | None = None) -> Result:
        import asyncssh

        try:
            completed = await self._connection.run(shlex.join(self._prefix + argv), input=stdin, encoding=None)
        except (OSError, asyncssh.Error) as error:
            raise HostError(f"{self.name}: connection lost: {error}") from None
        out = completed.stdout if isinstance(completed.stdout, bytes) else b""
        err = completed.stderr if isinstance(completed.stderr, bytes) else b""
        status = completed.exit_status if completed.exit_status is not None else 255
        return Result(tuple(argv), status, out.decode(errors="replace"), err.decode(errors="replace"))

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        """Content travels as stdin data to a fixed script; path and owner are arguments."""
        await self.check(["sh", "-c", WRITE_SCRIPT, "fossp-write", path, f"{mode:o}", owner], stdin=data)

    async def close(self) -> None:
        self._connection.close()
        await self._connection.wait_closed()


#: Atomic write on the host: data from stdin into a temporary file, then rename.
WRITE_SCRIPT = (
    'mkdir -p -- "$(dirname -- "$1")" && cat > "$1.fossp-tmp" && chmod "$2" "$1.fossp-tmp"'
    ' && { [ -z "$3" ] || chown "$3" "$1.fossp-tmp"; } && mv -f -- "$1.fossp-tmp" "$1"'
)


async def open_connector(host: HostSpec) -> Connector:
    """The connector a host's inventory entry asks for."""
    if host.connection == "local":
        return LocalConnector(host.name)
    if host.connection == "root":
        return RootConnector(host.address, host.name)
    return await SshConnector.open(host)
