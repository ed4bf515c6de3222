"""Web sessions kept in the database: random tokens, stored only as hashes, with CSRF.

Every visitor gets a session (signed in or not) so the sign-in form is CSRF-protected
too; signing in replaces the session with a new token, so a planted cookie is useless.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from fossp.gate.db import Database
from fossp.gate.models import AuditEntry, User, WebSession
from fossp.gate.passwords import hash_password, needs_rehash, verify_password

LIFETIME = timedelta(hours=12)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SessionInfo:
    token: str
    csrf_token: str
    user: str | None
    role: str | None


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, user_id: int | None = None) -> SessionInfo:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.db.sessions.begin() as s:
            s.execute(delete(WebSession).where(WebSession.expires_at < datetime.now(UTC)))
            s.add(
                WebSession(
                    token_hash=_hash(token),
                    user_id=user_id,
                    csrf_token=csrf,
                    expires_at=datetime.now(UTC) + LIFETIME,
                )
            )
            user = s.get(User, user_id) if user_id is not None else None
            return SessionInfo(token, csrf, user.name if user else None, user.role if user else None)

    def lookup(self, token: str | None) -> SessionInfo | None:
        if not token:
            return None
        with self.db.sessions.begin() as s:
            row = s.get(WebSession, _hash(token))
            if row is None or _aware(row.expires_at) < datetime.now(UTC):
                return None
            user = row.user
            return SessionInfo(token, row.csrf_token, user.name if user else None, user.role if user else None)

    def sign_in(self, old_token: str | None, name: str, password: str) -> SessionInfo | None:
        """A new signed-in session for good credentials (the old one ends), else None."""
        with self.db.sessions.begin() as s:
            user = s.scalar(select(User).where(User.name == name))
            if not verify_password(user.password_hash if user else None, password) or user is None:
                s.add(AuditEntry(actor=name[:64], action="sign-in-failed", detail="{}"))
                return None
            if user.password_hash and needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            s.add(AuditEntry(actor=user.name, action="signed-in", detail="{}"))
            user_id = user.id
        self.end(old_token)
        return self.start(user_id)

    def end(self, token: str | None) -> None:
        if token:
            with self.db.sessions.begin() as s:
                s.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
