"""FOSSP's state on the host: role instances, the ledger of every change, and the lock.

Kept in /var/lib/fossp/state.json on the host itself, so any controller sees the same
truth and decommission can undo exactly what FOSSP did, even from another machine.
The ledger is written ahead: an entry (with its undo) is saved before its change and
marked done after it, and the run itself is recorded until it ends, so a run that was
killed or lost its host is found, named and finished or undone by the next one.
States follow rolekit's: persistent nascent, ready, running, error; transitional
deploying and decommissioning. ``fossp status`` never trusts the stored state alone: it
re-derives it from live facts and probes (see engine.status).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import Facts

STATE_DIR = "/var/lib/fossp"
STATE_FILE = f"{STATE_DIR}/state.json"
BACKUP_DIR = f"{STATE_DIR}/backups"
#: The lock lives on /run (a tmpfs): a reboot or a restart drops it, and it is never in a
#: snapshot, so a restored root cannot bring back the lock of the run that snapshotted it.
RUN_DIR = "/run/fossp"
LOCK_DIR = f"{RUN_DIR}/lock"
RUNS_DIR = f"{STATE_DIR}/runs"


class InstanceState(StrEnum):
    NASCENT = "nascent"
    DEPLOYING = "deploying"
    READY = "ready"
    RUNNING = "running"
    ERROR = "error"
    DECOMMISSIONING = "decommissioning"


class ChangeKind(StrEnum):
    PACKAGES = "packages"
    FILE = "file"
    DIR = "dir"
    REMOVE = "remove"
    STEP = "step"
    UNIT = "unit"
    FIREWALL = "firewall"
    SELINUX_BOOLEAN = "selinux-boolean"
    SELINUX_PORT = "selinux-port"
    SUBVOLUME = "subvolume"  # a data folder on its own subvolume: kept like the data in it


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ChangeStatus(StrEnum):
    """Write-ahead: an entry is recorded (``intent``) before its change and marked ``done``
    after it; an intent found by a later run is ``interrupted`` (it may or may not have
    happened, so its undo -- idempotent -- is kept and applied on decommission)."""

    INTENT = "intent"
    DONE = "done"
    INTERRUPTED = "interrupted"


class Run(BaseModel):
    """A FOSSP run on the host, recorded from its start until it ends."""

    model_config = ConfigDict(extra="forbid")

    id: str
    command: str
    roles: list[str] = []
    controller: str = Field(default_factory=socket.gethostname)
    started: str = Field(default_factory=now)
    operation: str | None = None  # the change under way (or last begun)
    operation_started: str | None = None

    def describe(self) -> str:
        where = f"; at {self.operation} since {self.operation_started}" if self.operation else ""
        return f"run {self.id} ({self.command} from {self.controller}, started {self.started}{where})"


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + os.urandom(3).hex()


class Change(BaseModel):
    """One change FOSSP made (or is about to make), with what it takes to undo it."""

    model_config = ConfigDict(extra="forbid")

    role: str
    status: ChangeStatus = ChangeStatus.DONE
    kind: ChangeKind
    target: str
    at: str = Field(default_factory=now)
    packages: list[str] = []  # installed by this change (dependencies included)
    backup: str | None = None  # copy of the file as it was; None: FOSSP created it
    link_target: str | None = None  # a removed symbolic link pointed here
    sha256: str | None = None  # content FOSSP wrote
    previous: str | None = None  # e.g. an SELinux boolean's value before
    digest: str | None = None  # a setup step's command and input, to run it once
    undo: list[list[str]] = []  # commands that take the change back
    undo_on_purge: bool = False  # the undo deletes data: only `decommission --purge` runs it
    run: str | None = None  # the run that made it
    folders: str | None = None  # listing of folders before the change (for an interrupted one)


class Instance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role_id: str
    role_name: str
    state: InstanceState = InstanceState.NASCENT
    settings: dict[str, Any] = {}
    part: str | None = None  # a multi-host role's: this host's part
    members: list[str] = []  # ... and every member (host names, as the deploy named them)
    parts: dict[str, str] = {}  # ... and each member's part (status rebuilds the members' values)
    message: str | None = None
    created: str = Field(default_factory=now)
    updated: str = Field(default_factory=now)


class PendingRestart(BaseModel):
    """A role's unit whose configuration FOSSP changed and that has not been restarted since.

    Saved with the write's ledger entry (before the write), cleared once the unit restarted:
    a re-plan that finds the file as wanted, or a run that stops in between, still restarts."""

    model_config = ConfigDict(extra="forbid")

    role: str
    unit: str
    files: list[str] = []


class HostState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fossp_state: int = 1
    instances: dict[str, Instance] = {}
    ledger: list[Change] = []
    run: Run | None = None  # set while a run works on the host; left set by a killed one
    restarts: list[PendingRestart] = []

    def pending_restart(self, role_id: str, unit: str) -> list[str]:
        """The files changed for ``unit`` since it last restarted (none: no restart owed)."""
        return next((r.files for r in self.restarts if r.role == role_id and r.unit == unit), [])

    def owe_restart(self, role_id: str, units: list[str], path: str) -> None:
        """Remember that ``units`` must restart because ``path`` changes."""
        for unit in units:
            pending = next((r for r in self.restarts if r.role == role_id and r.unit == unit), None)
            if pending is None:
                self.restarts.append(PendingRestart(role=role_id, unit=unit, files=[path]))
            elif path not in pending.files:
                pending.files.append(path)

    def restarted(self, role_id: str, unit: str) -> bool:
        """Forget the restart ``unit`` owed; True if it owed one."""
        before = len(self.restarts)
        self.restarts = [r for r in self.restarts if not (r.role == role_id and r.unit == unit)]
        return len(self.restarts) != before

    @property
    def unfinished(self) -> list[Change]:
        """Entries whose change began but was never marked done."""
        return [c for c in self.ledger if c.status is ChangeStatus.INTENT]

    def changes(self, role_id: str) -> list[Change]:
        return [change for change in self.ledger if change.role == role_id]

    def first_file_change(self, role_id: str, path: str) -> Change | None:
        """The change that first touched ``path`` (it holds the original's backup)."""
        kinds = (ChangeKind.FILE, ChangeKind.REMOVE, ChangeKind.DIR)
        return next((c for c in self.changes(role_id) if c.kind in kinds and c.target == path), None)

    def wrote(self, role_id: str) -> dict[str, str]:
        """Path -> sha256 of the content FOSSP last wrote there for the role."""
        return {c.target: c.sha256 for c in self.changes(role_id) if c.kind is ChangeKind.FILE and c.sha256}

    def step_done(self, role_id: str, digest: str) -> Change | None:
        """A setup step that ran to its end (an interrupted one must run again)."""
        return next(
            (
                c
                for c in self.changes(role_id)
                if c.kind is ChangeKind.STEP and c.digest == digest and c.status is ChangeStatus.DONE
            ),
            None,
        )

    def set_state(self, role_id: str, state: InstanceState, message: str | None = None) -> None:
        from fossp.secrets import mask

        instance = self.instances[role_id]
        instance.state = state
        instance.message = mask(message) if message else None  # a tool's error may echo a secret
        instance.updated = now()


def parse_state(facts: Facts) -> HostState:
    """The state file from the facts batch; a damaged one is an error, never silently reset."""
    if not facts.state_json:
        return HostState()
    try:
        return HostState.model_validate(json.loads(facts.state_json))
    except (ValueError, ValidationError) as error:
        raise HostError(f"{facts.host}: {STATE_FILE} is damaged ({error}); fix or move it aside") from None


async def save_state(connector: Connector, state: HostState) -> None:
    await connector.write_file(STATE_FILE, state.model_dump_json(indent=2).encode(), 0o600)


#: The lock folder appears whole, owner inside (made aside, then renamed into place; a
#: rename onto a folder that holds an owner fails), so no lock is ever without its owner.
_LOCK_SCRIPT = (
    'mkdir -p "$1" && t=$(mktemp -d "$1/.lock.XXXXXX") || exit 4; printf "%s\\n" "$2" > "$t/owner" || exit 4; '
    'mv -T -- "$t" "$1/lock" 2>/dev/null && exit 0; rm -rf -- "$t"; '
    '[ -d "$1/lock" ] || exit 4; cat "$1/lock/owner" 2>/dev/null; exit 3'
)


class HostLock:
    """A mkdir lock on the host (atomic on every file system), naming its owner.

    A lock left by a crashed run on this controller (its process is gone) is taken over.
    """

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.owner = f"{socket.gethostname()} {os.getpid()} {now()}"

    async def __aenter__(self) -> HostLock:
        for _ in range(2):
            result = await self.connector.run(
                ["sh", "-c", _LOCK_SCRIPT, "lock", self.connector.path(RUN_DIR), self.owner]
            )
            if result.ok:
                return self
            if result.exit_status != 3:  # not held: FOSSP may not write there (a login without root)
                raise HostError(f"{self.connector.name}: cannot take FOSSP's lock: {result.describe()}")
            if not self.is_stale(result.stdout.strip()):
                break
            await self._remove()
        raise HostError(
            f"{self.connector.name}: another FOSSP run holds the lock ({result.stdout.strip() or 'unknown owner'})"
        )

    async def __aexit__(self, *_: object) -> None:
        with contextlib.suppress(HostError):  # the host is gone: the run's own error says more
            await self._remove()

    async def _remove(self) -> None:
        await self.connector.run(["rm", "-rf", "--", self.connector.path(LOCK_DIR)])

    @staticmethod
    def is_stale(owner: str) -> bool:
        """A lock whose owner ran on this controller and is gone (other controllers: unknown)."""
        fields = owner.split()
        if len(fields) < 2 or fields[0] != socket.gethostname() or not fields[1].isdigit():
            return False
        return not os.path.exists(f"/proc/{fields[1]}")
