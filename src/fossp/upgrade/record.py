"""The upgrade record on the host (/var/lib/fossp/upgrade.json): intent first, then each step.

Written before the snapshot, so the snapshot itself holds an "in progress" record: a
host restored to it, or a run killed at any step, shows the next command an upgrade
that did not finish, and at which step.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from fossp.engine.state import now
from fossp.hosts.connector import Connector
from fossp.upgrade.facts import UPGRADE_RECORD


class UpgradeRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    target: str
    level: str
    to: str
    source_release: str = ""  # the release installed when the run began (12.15)
    step: str = "snapshot"
    started: str
    updated: str
    finished: bool = False
    outcome: str = ""  # upgraded, rolled-back, failed (kept for inspection)
    failure: str = ""
    pre_snapshot: int | None = None
    post_snapshot: int | None = None
    data_snapshots: dict[str, str] = {}  # data subvolume -> its read-only copy
    migrations: list[str] = []  # migrations done, "postgresql 15 -> 17"
    #: Write-ahead state of each data migration: "postgresql 15/main" -> "begun" | "done".
    migration_steps: dict[str, str] = {}
    data_restored: list[str] = []  # rollback: data subvolumes already put back
    command: str = ""  # how to finish this run: "fossp upgrade run --to 13"
    history: list[str] = []  # "STEP at TIME"

    @classmethod
    def parse(cls, text: str | None) -> UpgradeRecord | None:
        if not text:
            return None
        try:
            return cls.model_validate_json(text)
        except ValidationError:
            return None

    @property
    def applied_nothing(self) -> bool:
        """Killed or failed before its download: no package changed, nothing to finish or undo."""
        return self.step == "snapshot"

    @property
    def pending(self) -> bool:
        """An upgrade that changed the host and did not end: the next command must say so."""
        return not self.finished and not self.applied_nothing

    def at(self, step: str, **changes: object) -> UpgradeRecord:
        stamp = now()
        return self.model_copy(
            update={"step": step, "updated": stamp, "history": [*self.history, f"{step} at {stamp}"], **changes}
        )


async def save_record(connector: Connector, record: UpgradeRecord) -> None:
    await connector.check(["mkdir", "-p", "/var/lib/fossp"])
    await connector.write_file(UPGRADE_RECORD, record.model_dump_json(indent=2).encode() + b"\n", 0o644)
