"""Operations: one change a plan wants (or a no-op saying why nothing is needed).

An operation is data: the commands it would run, the file content it would write, the
reason, and what the ledger must remember to undo it. ``fossp plan`` prints operations;
``fossp deploy`` executes the very same objects, so the dry run cannot drift from the run.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fossp.engine.state import ChangeKind
from fossp.secrets import MASK, private_mode, redact

UNIT_DIRS = ("/etc/systemd/system/", "/run/systemd/system/", "/usr/lib/systemd/system/", "/lib/systemd/system/")


def is_unit_file(path: str) -> bool:
    """A unit file or drop-in systemd reads only at daemon-reload (e.g. fossp-lvs-web.service)."""
    return path.startswith(UNIT_DIRS)


class OpKind(StrEnum):
    PACKAGES = "install-packages"
    SELINUX_BOOLEAN = "set-selinux-boolean"
    SELINUX_PORT = "label-selinux-port"
    FIREWALL = "open-firewall"
    STEP = "run-step"
    DIR = "create-dir"
    FILE = "write-file"
    REMOVE = "remove-file"
    ENABLE = "enable-unit"
    START = "start-unit"
    RESTART = "restart-unit"
    SUBVOLUME = "create-subvolume"
    MASK = "mask-unit"
    UNMASK = "unmask-unit"
    DEFER = "defer-to-first-boot"
    OS_RELEASE = "write-os-release"
    HEALTH_CHECKS = "write-health-checks"
    # decommission: the ledger's undo, the packages, and the role's data
    STOP = "stop-unit"
    DISABLE = "disable-unit"
    RESTORE = "restore-file"
    REMOVE_DIR = "remove-dir"
    UNDO = "undo-change"
    CLOSE_FIREWALL = "close-firewall"
    RESET_SELINUX_BOOLEAN = "reset-selinux-boolean"
    UNLABEL_SELINUX_PORT = "unlabel-selinux-port"
    REMOVE_PACKAGES = "remove-packages"
    REMOVE_EMPTY_DIRS = "remove-empty-dirs"
    DUMP = "dump-data"
    ARCHIVE = "archive-data"
    KEEP = "keep-data"
    PUT_BACK = "put-back-data"
    PURGE = "purge-data"


#: What the ledger records for each kind (restarts change nothing to undo).
LEDGER_KIND: dict[OpKind, ChangeKind | None] = {
    OpKind.PACKAGES: ChangeKind.PACKAGES,
    OpKind.SELINUX_BOOLEAN: ChangeKind.SELINUX_BOOLEAN,
    OpKind.SELINUX_PORT: ChangeKind.SELINUX_PORT,
    OpKind.FIREWALL: ChangeKind.FIREWALL,
    OpKind.STEP: ChangeKind.STEP,
    OpKind.DIR: ChangeKind.DIR,
    OpKind.FILE: ChangeKind.FILE,
    OpKind.REMOVE: ChangeKind.REMOVE,
    OpKind.ENABLE: ChangeKind.UNIT,
    OpKind.START: ChangeKind.UNIT,
    OpKind.RESTART: None,
    OpKind.OS_RELEASE: None,  # derived from the roles on the host: recomputed, never undone
    OpKind.HEALTH_CHECKS: None,  # the same (fossp.platform.health)
    OpKind.SUBVOLUME: ChangeKind.SUBVOLUME,
    OpKind.MASK: ChangeKind.UNIT,
    OpKind.UNMASK: ChangeKind.UNIT,
    OpKind.STOP: ChangeKind.UNIT,
    OpKind.DISABLE: ChangeKind.UNIT,
}


class Operation(BaseModel):
    """A wanted change, or a no-op (``change`` False) with the reason nothing is needed."""

    model_config = ConfigDict(extra="forbid")

    role: str
    kind: OpKind
    target: str
    reason: str
    change: bool = True
    pending: bool = Field(default=False, description="decided again on fresh facts after earlier changes")
    refresh: bool = Field(default=False, description="the host's facts change after it")
    commands: list[list[str]] = []
    stdin: str | None = None
    content: bytes | None = Field(default=None, exclude=True)
    mode: str | None = None
    owner: str | None = None
    diff: str | None = None
    digest: str | None = None
    previous: str | None = None
    retry: float = 0
    undo: list[list[str]] = []
    undo_on_purge: bool = Field(default=False, description="the undo deletes data: only --purge runs it")
    cluster: bool = Field(default=False, description="a multi-host role's step: runs once every member is ready")
    restarts: list[str] = Field(default=[], description="units that must restart once it is written (kept until done)")

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(self.content).hexdigest() if self.content is not None else None

    def summary(self) -> dict[str, Any]:
        """The JSON shape of ``fossp plan --json``: secrets masked, and a private file's diff
        (mode 0600, 0640: it may hold a secret in whatever quoting its format uses) hidden."""
        data = self.model_dump(
            mode="json",
            exclude_defaults=True,
            exclude={"undo", "undo_on_purge", "digest", "previous", "retry", "restarts"},
        )
        data.setdefault("change", self.change)
        if self.content is not None:
            data["sha256"] = self.sha256
        if self.diff is not None and self.mode is not None and private_mode(self.mode):
            data["diff"] = MASK
        return redact(data)


def noop(role: str, kind: OpKind, target: str, reason: str) -> Operation:
    """Record that ``target`` is already as wanted, and why we know."""
    return Operation(role=role, kind=kind, target=target, reason=reason, change=False)


class Plan(BaseModel):
    """A host's ordered operations for the wanted roles."""

    host: str
    family: str | None = None
    roles: list[str] = []
    operations: list[Operation] = []
    notes: list[str] = []  # what the person must know first (an interrupted run, a busy host)
    #: The backup director the host's record names (None: not registered), read with the
    #: facts, so a run that changes the host's roles registers them again (not in summary()).
    backup_director: str | None = None

    @property
    def changes(self) -> list[Operation]:
        return [op for op in self.operations if op.change]

    def summary(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "family": self.family,
            "roles": self.roles,
            "changes": len(self.changes),
            "notes": self.notes,
            "operations": [op.summary() for op in self.operations],
        }
