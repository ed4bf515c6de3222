"""Database tables of the stage gate process (SQLAlchemy 2; Alembic owns the schema).

When a review round opens, what its gate requires (deliverables, exit criteria, reviewer
roles) is copied from the process data into ``gate_rounds``, so editing process.yaml never
changes an open gate; other rows record only what was provided or assessed. Criteria and
reviews belong to a review round, so a recycle starts them afresh while deliverables stay.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class GateRecord:
    """The columns of a row that belongs to one gate (named by the phase it opens) of an application."""

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    phase: Mapped[str] = mapped_column(String(64))


class RoundRecord(GateRecord):
    """A gate record of one review round: a recycle or a resumed no-go starts new ones."""

    round: Mapped[int] = mapped_column(Integer)


class User(Base):
    """An account: its gate role, its operations right, and whether it may sign in."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    operations: Mapped[str] = mapped_column(String(16), default="viewer")
    disabled: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A browser session: the cookie carries a random token, the table only its hash."""

    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[User | None] = relationship()


class Application(Base):
    """An application or application stack proposed as a server role."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    phase: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer, default=1)
    lead_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lead: Mapped[User] = relationship(foreign_keys=[lead_id])
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    roles: Mapped[list[ApplicationRole]] = relationship(
        cascade="all, delete-orphan", order_by="ApplicationRole.role_id"
    )
    maintainers: Mapped[list[User]] = relationship(secondary="application_maintainers")


class ApplicationRole(Base):
    __tablename__ = "application_roles"
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), primary_key=True)
    role_id: Mapped[str] = mapped_column(String(16), primary_key=True)


class ApplicationMaintainer(Base):
    __tablename__ = "application_maintainers"
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Authored:
    """Who wrote a review or a decision, and when: both are a participant's own statement."""

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @declared_attr
    def user(cls) -> Mapped[User]:
        return relationship(User)


class DeliverableRecord(GateRecord, Base):
    __tablename__ = "deliverables"
    __table_args__ = (UniqueConstraint("application_id", "phase", "key"),)
    key: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(Text)
    provided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    provided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    provided_by: Mapped[User] = relationship()


class CriterionRecord(RoundRecord, Base):
    __tablename__ = "criteria"
    __table_args__ = (UniqueConstraint("application_id", "phase", "round", "key"),)
    key: Mapped[str] = mapped_column(String(64))
    met: Mapped[bool]
    note: Mapped[str] = mapped_column(Text, default="")
    assessed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    assessed_by: Mapped[User] = relationship()


class Review(RoundRecord, Authored, Base):
    """One participant's findings in one round of a gate review."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("application_id", "phase", "round", "user_id"),)
    recommendation: Mapped[str] = mapped_column(String(16))
    findings: Mapped[str] = mapped_column(Text)


class Decision(RoundRecord, Authored, Base):
    __tablename__ = "decisions"
    outcome: Mapped[str] = mapped_column(String(16))
    rationale: Mapped[str] = mapped_column(Text)


class CorrectiveAction(GateRecord, Base):
    """Work a review asked for; it blocks a go until the working group approves it."""

    __tablename__ = "corrective_actions"
    title: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    owner: Mapped[User] = relationship()


class GateRound(RoundRecord, Base):
    """One review round of one gate, with the requirements in force when it opened (JSON)."""

    __tablename__ = "gate_rounds"
    __table_args__ = (UniqueConstraint("application_id", "phase", "round"),)
    requirements: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """One change, written in the change's own transaction; the database refuses edits."""

    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    application_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
