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

STEPS = ("snapshot", "download", "packages", "migrations", "reboot", "verify", "rollback", "done")


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
    history: list[str] = []  # "STEP at TIME"

    @classmethod
    def parse(cls, text: str | None) -> UpgradeRecord | None:
        if not text:
            return None
        try:
            return cls.model_validate_json(text)
        except ValidationError:
            return None

    def at(self, step: str, **changes: object) -> UpgradeRecord:
        stamp = now()
        return self.model_copy(
            update={"step": step, "updated": stamp, "history": [*self.history, f"{step} at {stamp}"], **changes}
        )


async def save_record(connector: Connector, record: UpgradeRecord) -> None:
    await connector.check(["mkdir", "-p", "/var/lib/fossp"])
    await connector.write_file(UPGRADE_RECORD, record.model_dump_json(indent=2).encode() + b"\n", 0o644)
