"""Connectors: run argv lists and move files on a host, locally, over SSH or in a root folder.

Every command is an argv list. Over SSH it crosses as ``shlex.join(argv)``, so a value is
always one quoted word and never shell syntax; file contents and scripts travel as stdin
or SFTP data. One connector serves a host for a whole run (one SSH connection).
Every command has a time bound (``Timeouts.command`` unless the caller gives one) and SSH
keepalives notice a dead peer, so a lost host fails its run instead of hanging it.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO

from fossp.errors import Finding
from fossp.hosts.timeouts import Timeouts

if TYPE_CHECKING:
    import asyncssh

    from fossp.hosts.inventory import HostSpec


class HostError(Finding):
    """A problem on one host (unreachable, refused, a failing command): that host fails."""

    code = "host_failed"
    where_leads = True  # NAME: why

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message, code=code)


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
    timeouts: Timeouts = Timeouts()

    async def run(self, argv: list[str], stdin: bytes | None = None, timeout: float | None = None) -> Result:
        """Run ``argv`` with optional stdin data and return its result (never raises on exit).

        A command that outlives ``timeout`` (default ``timeouts.command``) raises HostError.
        """
        return await self._execute(argv, stdin, timeout or self.timeouts.command, None)

    async def run_to_file(self, argv: list[str], sink: BinaryIO, timeout: float | None = None) -> Result:
        """Run ``argv`` with its standard output streamed into ``sink`` as it comes (a tar,
        a database dump: bytes kept intact, never held in memory whole); the result
        carries stderr only."""
        return await self._execute(argv, None, timeout or self.timeouts.command, sink)

    @abstractmethod
    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: BinaryIO | None) -> Result:
        """Run one command within ``timeout`` seconds (HostError past it); stdout into
        ``sink`` when given, else into the result."""

    @abstractmethod
    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        """Write ``data`` to ``path`` atomically (temporary file, then rename).

        ``owner`` is ``user:group`` by name (empty: the writer's own). The data reaches the
        disk (fsync) before the rename, so a crash leaves the old or the new file, whole.
        """

    async def close(self) -> None:  # noqa: B027 - only SSH has something to release
        """Release the connection (nothing to do for local connectors)."""

    def path(self, path: str) -> str:
        """``path`` as commands on the connector's machine name it (see RootConnector)."""
        return path

    async def check(self, argv: list[str], stdin: bytes | None = None, timeout: float | None = None) -> Result:
        """Run ``argv``; a non-zero exit raises HostError with the command's output."""
        result = await self.run(argv, stdin, timeout)
        if not result.ok:
            raise HostError(f"{self.name}: {result.describe()}")
        return result

    def _timed_out(self, argv: list[str], seconds: float) -> HostError:
        return HostError(f"{self.name}: `{shlex.join(argv)[:200]}` did not finish within {seconds:g} s")


class Answering(Connector):
    """A host's connector that answers commands already run -- batched into the facts
    round trip -- from their results, each once, and runs every other command (and any
    second run of one, such as a probe's retry) on the host."""

    def __init__(self, inner: Connector, answers: Iterable[Result]) -> None:
        self.inner = inner
        self.name, self.address, self.root, self.timeouts = inner.name, inner.address, inner.root, inner.timeouts
        self._answers: dict[tuple[str, ...], list[Result]] = {}
        for result in answers:
            self._answers.setdefault(result.argv, []).append(result)

    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: BinaryIO | None) -> Result:
        waiting = self._answers.get(tuple(argv)) if stdin is None and sink is None else None
        if waiting:
            return waiting.pop(0)
        return await self.inner._execute(argv, stdin, timeout, sink)

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        await self.inner.write_file(path, data, mode, owner)

    def path(self, path: str) -> str:
        return self.inner.path(path)


async def _run_local(
    argv: list[str], stdin: bytes | None, timeout: float, sink: BinaryIO | None = None
) -> Result | None:
    """Run a local process (stdout into ``sink`` if given); None when it outlived
    ``timeout`` (it is killed)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=sink if sink is not None else asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    text = out.decode(errors="replace") if out else ""
    return Result(tuple(argv), process.returncode or 0, text, err.decode(errors="replace"))


def _write_local(path: Path, data: bytes, mode: int, owner: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.fossp-tmp")  # the name WRITE_SCRIPT uses too
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(data)  # private until its mode is set: it may hold a secret
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)
    if owner:
        user, _, group = owner.partition(":")
        shutil.chown(temporary, user, group or None)
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class LocalConnector(Connector):
    """This machine: subprocesses and direct file access."""

    def __init__(self, name: str = "local", timeouts: Timeouts | None = None) -> None:
        self.name = name
        self.address = "127.0.0.1"
        self.timeouts = timeouts or Timeouts()

    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: BinaryIO | None) -> Result:
        result = await _run_local(argv, stdin, timeout, sink)
        if result is None:
            raise self._timed_out(argv, timeout)
        return result

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        _write_local(Path(path), data, mode, owner)


class RootConnector(LocalConnector):
    """An offline root folder (an image being built): files land under the folder.

    Commands run on this machine; package backends and ``systemctl`` add their own
    ``--installroot``/``--root`` options from :attr:`root`, so nothing runs inside the root.
    """

    root: str

    def __init__(self, root: str, name: str | None = None, timeouts: Timeouts | None = None) -> None:
        self.root = str(Path(root).resolve())
        self.name = name or f"root:{self.root}"
        self.address = ""
        self.timeouts = timeouts or Timeouts()

    def path(self, path: str) -> str:
        """The controller's path for ``path`` inside the root (never escapes it)."""
        relative = PurePosixPath(os.path.normpath("/" + path.lstrip("/"))).relative_to("/")
        return str(Path(self.root) / relative)

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        """Owners are not set: user names inside the root need not exist on this machine."""
        _write_local(Path(self.path(path)), data, mode, "")


def load_asyncssh() -> ModuleType:
    """asyncssh, imported without its look-up of liboqs: at import it asks
    ``ctypes.util.find_library`` twice, each running ldconfig and a compiler (100-150 ms of
    every run's start-up here), for post-quantum key exchanges FOSSP never offers (it
    asks for curve25519, see ``SshConnector.open``)."""
    if "asyncssh" in sys.modules:
        return sys.modules["asyncssh"]
    import ctypes.util

    find = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None if name in ("oqs", "liboqs") else find(name)
    try:
        import asyncssh
    finally:
        ctypes.util.find_library = find
    return asyncssh


_PARSED: dict[tuple[str, int, int], Any] = {}


def _parsed(host: str, path: str, parse: Callable[[str], Any]) -> Any:
    """A key or known_hosts file parsed once per run (by path, size and change time), not
    once per host: on a fleet, parsing the same private key for every connection cost
    an eighth of the controller's time."""
    import asyncssh

    try:
        info = os.stat(path)
        key = (path, info.st_size, info.st_mtime_ns)
        if key not in _PARSED:
            _PARSED[key] = parse(path)
    except (OSError, ValueError, asyncssh.Error) as error:
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or str(error)
        raise HostError(f"{host}: cannot read {path}: {reason}") from None
    return _PARSED[key]


class SshConnector(Connector):
    """One asyncssh connection for the whole run; host keys are checked against known_hosts.

    With ``become`` a non-root login runs every command through ``sudo -n`` (never a
    password prompt: a sudoer without NOPASSWD fails at once with sudo's message).
    """

    def __init__(
        self,
        name: str,
        connection: asyncssh.SSHClientConnection,
        address: str,
        become: bool = False,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self._connection = connection
        self._prefix = ["sudo", "-n", "--"] if become else []
        self.timeouts = timeouts or Timeouts()

    @classmethod
    async def open(cls, host: HostSpec, timeouts: Timeouts | None = None) -> SshConnector:
        """Connect and authenticate within ``timeouts.connect``; every failure becomes one
        HostError naming the host. Keepalives every ``timeouts.keepalive`` seconds notice a
        peer that went away (three unanswered close the connection)."""
        asyncssh = load_asyncssh()
        bounds = timeouts or Timeouts()
        options: dict[str, Any] = {
            "port": host.port,
            "username": host.user,
            "connect_timeout": bounds.connect,
            "keepalive_interval": bounds.keepalive,
            "keepalive_count_max": 3,
            # curve25519 costs a quarter of OpenSSH's default sntrup761 on small machines.
            "kex_algs": ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256"],
            "encryption_algs": ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"],
        }
        if host.known_hosts:  # otherwise asyncssh's default, ~/.ssh/known_hosts
            options["known_hosts"] = _parsed(host.name, host.known_hosts, asyncssh.read_known_hosts)
        if host.key:
            options["client_keys"] = _parsed(host.name, host.key, asyncssh.load_keypairs)
        try:
            connection = await asyncssh.connect(host.address, **options)
        except asyncssh.HostKeyNotVerifiable as error:
            raise HostError(f"{host.name}: host key not verified ({error.reason}); add it to known_hosts") from None
        except asyncssh.PermissionDenied:
            raise HostError(f"{host.name}: SSH login as {host.user} refused (key not accepted)") from None
        except TimeoutError:  # no TCP answer, or a server that never finishes the handshake
            reason = f"no SSH handshake within {bounds.connect:g} s"
            raise HostError(f"{host.name}: cannot reach {host.address}:{host.port}: {reason}", "unreachable") from None
        except OSError as error:  # asyncio's text repeats the address; the errno's says why
            reason = os.strerror(error.errno) if error.errno else str(error) or type(error).__name__
            raise HostError(f"{host.name}: cannot reach {host.address}:{host.port}: {reason}", "unreachable") from None
        except asyncssh.Error as error:
            reason = error.reason or str(error) or type(error).__name__
            raise HostError(f"{host.name}: cannot reach {host.address}:{host.port}: {reason}", "unreachable") from None
        return cls(host.name, connection, host.address, host.become, bounds)

    async def _execute(self, argv: list[str], stdin: bytes | None, timeout: float, sink: BinaryIO | None) -> Result:
        import asyncssh

        output: dict[str, Any] = {"stdout": sink} if sink is not None else {}
        try:
            completed = await self._connection.run(
                shlex.join(self._prefix + argv),
                input=stdin or None,
                stdin=None if stdin else asyncssh.DEVNULL,  # no data: end of file at once
                encoding=None,
                timeout=timeout,
                **output,
            )
        except asyncssh.TimeoutError:
            raise self._timed_out(argv, timeout) from None
        except (OSError, asyncssh.Error) as error:
            reason = getattr(error, "reason", None) or str(error) or type(error).__name__
            raise HostError(f"{self.name}: connection lost: {reason}") from None
        out = completed.stdout if isinstance(completed.stdout, bytes) else b""
        err = completed.stderr if isinstance(completed.stderr, bytes) else b""
        if completed.exit_status is None and completed.exit_signal is None:
            # The channel closed with no exit status: the keepalives gave up on the peer.
            raise HostError(f"{self.name}: connection lost during `{shlex.join(argv)[:120]}`")
        status = completed.exit_status if completed.exit_status is not None else 255  # killed by a signal
        return Result(tuple(argv), status, out.decode(errors="replace"), err.decode(errors="replace"))

    async def write_file(self, path: str, data: bytes, mode: int = 0o644, owner: str = "") -> None:
        """Content travels as stdin data to a fixed script; path and owner are arguments."""
        await self.check(["sh", "-c", WRITE_SCRIPT, "fossp-write", path, f"{mode:o}", owner], stdin=data)

    async def close(self) -> None:
        self._connection.close()
        await self._connection.wait_closed()


#: Atomic, durable write on the host: data from stdin into a temporary file that is
#: private until its mode is set (it may hold a secret), fsync (coreutils' sync FILE),
#: rename, fsync the folder. Folders it makes get the usual umask.
WRITE_SCRIPT = (
    'mkdir -p -- "$(dirname -- "$1")" && umask 077 && cat > "$1.fossp-tmp" && chmod "$2" "$1.fossp-tmp"'
    ' && { [ -z "$3" ] || chown "$3" "$1.fossp-tmp"; } && sync -- "$1.fossp-tmp"'
    ' && mv -f -- "$1.fossp-tmp" "$1" && sync -- "$(dirname -- "$1")"'
)


async def open_connector(host: HostSpec, timeouts: Timeouts | None = None) -> Connector:
    """The connector a host's inventory entry asks for, with its time bounds."""
    if host.connection == "local":
        return LocalConnector(host.name, timeouts)
    if host.connection == "root":
        return RootConnector(host.address, host.name, timeouts)
    if host.connection == "chroot":
        from fossp.hosts.chroot import ChrootConnector

        return ChrootConnector(Path(host.address), host.name, timeouts)
    return await SshConnector.open(host, timeouts)
