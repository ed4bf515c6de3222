"""Runs of the web console (plan, deploy, decommission): recorded in the database, executed
by a worker the app owns, never inside the request.

The worker is a thread with its own asyncio loop, so a run goes on when the page that
started it is closed or its event stream drops; every progress line the engine reports is
written as it comes, so a page (or a later visit to the history) reads the same log.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from fossp.errors import FosspError
from fossp.gate.db import Database
from fossp.gate.errors import NotFound
from fossp.gate.models import Base, utcnow
from fossp.output import aware

Progress = Callable[[str, str], None]  # (host, message), as the fleet reports it
#: A run's work: given the progress hook, the result (JSON data) and whether it succeeded.
Job = Callable[[Progress], Awaitable[tuple[bool, dict[str, Any]]]]
ENDED = ("ok", "failed", "interrupted")


class RunRecord(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user: Mapped[str] = mapped_column(String(64))
    hosts: Mapped[str] = mapped_column(Text)  # a JSON list of host names
    subject: Mapped[str] = mapped_column(Text)  # the profile or the roles, as the user gave them
    state: Mapped[str] = mapped_column(String(16))  # queued, running, ok, failed, interrupted
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RunEvent(Base):
    __tablename__ = "run_events"
    __table_args__ = (Index("ix_run_events_run_id", "run_id", "id"),)  # a run's events in order
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    host: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Event:
    id: int
    host: str
    message: str
    at: datetime


@dataclass(frozen=True)
class Run:
    id: int
    kind: str
    user: str
    hosts: list[str]
    subject: str
    state: str
    error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    ended_at: datetime | None

    @property
    def ended(self) -> bool:
        return self.state in ENDED


def _run(row: RunRecord) -> Run:
    return Run(
        row.id,
        row.kind,
        row.user,
        json.loads(row.hosts),
        row.subject,
        row.state,
        row.error,
        json.loads(row.result) if row.result else None,
        aware(row.created_at),
        aware(row.ended_at) if row.ended_at else None,
    )


class RunStore:
    """The runs table and each run's log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, kind: str, user: str, hosts: list[str], subject: str) -> int:
        with self.db.sessions.begin() as s:
            row = RunRecord(kind=kind, user=user, hosts=json.dumps(hosts), subject=subject, state="queued")
            s.add(row)
            s.flush()
            return row.id

    def set_state(self, run_id: int, state: str) -> None:
        with self.db.sessions.begin() as s:
            s.execute(update(RunRecord).where(RunRecord.id == run_id).values(state=state))

    def log(self, run_id: int, host: str, message: str) -> None:
        with self.db.sessions.begin() as s:
            s.add(RunEvent(run_id=run_id, host=host, message=message))

    def finish(self, run_id: int, ok: bool, result: dict[str, Any], error: str | None) -> None:
        values = {"state": "ok" if ok else "failed", "result": json.dumps(result), "error": error, "ended_at": utcnow()}
        with self.db.sessions.begin() as s:
            s.execute(update(RunRecord).where(RunRecord.id == run_id).values(**values))

    def interrupt_unfinished(self) -> None:
        """Runs a stopped server left queued or running can no longer end: say so."""
        with self.db.sessions.begin() as s:
            s.execute(
                update(RunRecord)
                .where(RunRecord.state.in_(("queued", "running")))
                .values(state="interrupted", error="the server stopped during the run", ended_at=utcnow())
            )

    def get(self, run_id: int) -> Run:
        with self.db.sessions() as s:
            row = s.get(RunRecord, run_id)
            if row is None:
                raise NotFound(f"run {run_id}: no such run")
            return _run(row)

    def recent(self, limit: int = 200) -> list[Run]:
        with self.db.sessions() as s:
            rows = s.scalars(select(RunRecord).order_by(RunRecord.id.desc()).limit(limit))
            return [_run(row) for row in rows]

    def events(self, run_id: int, after: int = 0) -> list[Event]:
        with self.db.sessions() as s:
            rows = s.scalars(
                select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.id > after).order_by(RunEvent.id)
            )
            return [Event(e.id, e.host, e.message, e.at) for e in rows]


class Worker:
    """A thread running an asyncio loop of its own: the app's runs execute here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fossp-runs", daemon=True)
        self._lock = threading.Lock()

    def submit(self, work: Coroutine[Any, Any, None]) -> Future[None]:
        with self._lock:  # started by the first run: an app that never runs anything has no thread
            if not self.thread.is_alive():
                self.thread.start()
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)


def launch(store: RunStore, worker: Worker, kind: str, user: str, hosts: list[str], subject: str, job: Job) -> int:
    """Record a new run and hand ``job`` to the worker; the run's ID at once."""
    run_id = store.create(kind, user, hosts, subject)
    worker.submit(execute(store, run_id, job))
    return run_id


async def execute(store: RunStore, run_id: int, job: Job) -> None:
    """Run ``job``, logging its progress; however it ends, the run records how."""
    store.set_state(run_id, "running")
    try:
        ok, result = await job(lambda host, message: store.log(run_id, host, message))
    except FosspError as error:
        store.finish(run_id, False, {}, error.message)
    except Exception as error:  # a surprise must still end the run, with what it was
        store.finish(run_id, False, {}, f"unexpected {type(error).__name__}: {error}")
    else:
        store.finish(run_id, ok, result, None)
