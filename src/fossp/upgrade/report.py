"""The compatibility report: Leapp's entry fields, plus a status for every check that ran.

Entries keep Leapp's names and shapes (``timeStamp``, ``detail.remediations`` with
``type`` hint or command, ``groups`` holding the flags ``inhibitor``/``failure``/``error``
and topics), so tools that read ``leapp-report.json`` read FOSSP's ``entries``. Unlike
Leapp, ``checks`` lists every check that ran with its status, including those that
passed, and says whether its action belongs before or after the upgrade.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"
ACTOR_PREFIX = "fossp."
FLAGS = ("inhibitor", "failure", "error")


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class CheckStatus(StrEnum):
    PASSED = "passed"
    NOT_APPLICABLE = "not_applicable"
    NEEDS_ACTION = "needs_action"
    INHIBITOR = "inhibitor"
    ERROR = "error"


When = Literal["before", "after", "none"]
#: Sort order of the text and HTML reports: errors, inhibitors, then by severity.
SEVERITY_RANK = {Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3, Severity.INFO: 4}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Remediation(_Model):
    type: Literal["hint", "command"]
    context: str | list[str]


class External(_Model):
    url: str
    title: str


class RelatedResource(_Model):
    scheme: str  # package, file, service, role
    title: str


class Detail(_Model):
    remediations: list[Remediation] = []
    external: list[External] = []
    related_resources: list[RelatedResource] = []


class Entry(_Model):
    """One report entry, field for field a Leapp report entry, plus FOSSP's status and timing."""

    title: str
    summary: str
    severity: Severity
    audience: str = "sysadmin"
    key: str
    groups: list[str]
    detail: Detail = Detail()
    hostname: str
    time_stamp: str = Field(alias="timeStamp")
    actor: str
    id: str
    status: CheckStatus
    when: When = "before"

    @property
    def inhibitor(self) -> bool:
        return "inhibitor" in self.groups

    def rank(self) -> tuple[int, int, str]:
        flag = 0 if "error" in self.groups else 1 if self.inhibitor else 2
        return (flag, SEVERITY_RANK[self.severity], self.title)


class CheckOutcome(_Model):
    """What one check concluded (every check that ran has one)."""

    name: str
    key: str
    title: str
    status: CheckStatus
    when: When
    message: str = ""


def check_key(name: str) -> str:
    """A check's stable key: the same check keeps it across FOSSP versions (tools match on it)."""
    return hashlib.sha1(f"{ACTOR_PREFIX}{name}".encode()).hexdigest()


def entry_id(fields: dict[str, object]) -> str:
    """Leapp's entry id: a hash of the entry's content."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Report(_Model):
    """The whole report of one host: a schema version and run id, the target, checks and entries."""

    schema_version: str = SCHEMA_VERSION
    run_id: str
    leapp_run_id: str
    hostname: str
    host: str
    generated_at: str
    phase: Literal["pre-upgrade", "post-upgrade"] = "pre-upgrade"
    target: dict[str, object]
    #: The host's FOSSP release, level and roles, from its os-release (empty: none there).
    fossp: dict[str, object] = {}
    checks: list[CheckOutcome]
    entries: list[Entry]
    prediction: dict[str, object] = {}
    #: Post-upgrade only: what the run changed (release, packages added, removed and upgraded).
    changes: dict[str, object] = {}
    facts_seconds: float = 0.0
    checks_seconds: float = 0.0

    @property
    def inhibited(self) -> bool:
        return any(entry.inhibitor for entry in self.entries)

    @property
    def errors(self) -> bool:
        return any(check.status is CheckStatus.ERROR for check in self.checks)

    def exit_code(self) -> int:
        """0 clean, 1 inhibited, 2 a check could not run."""
        return 2 if self.errors else 1 if self.inhibited else 0

    def sorted_entries(self) -> list[Entry]:
        return sorted(self.entries, key=Entry.rank)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in CheckStatus}
        for check in self.checks:
            counts[check.status.value] += 1
        return counts

    def as_json(self) -> dict[str, object]:
        data = self.model_dump(mode="json", by_alias=True)
        data["entries"] = [e.model_dump(mode="json", by_alias=True) for e in self.sorted_entries()]
        data["counts"] = self.counts()
        data["inhibited"] = self.inhibited
        return data
