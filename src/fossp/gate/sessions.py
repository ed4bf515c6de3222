"""Web sessions kept in the database: random tokens, stored only as hashes, with CSRF.

Only a signed-in account has a session (the sign-in form is protected by a signed
cookie instead, see ``fossp.web.auth``), so anonymous visits write nothing; signing in
starts a new token, so a planted cookie is useless. A disabled account's sessions end.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from fossp.gate.db import Database
from fossp.gate.errors import Forbidden
from fossp.gate.models import AuditEntry, User, WebSession
from fossp.gate.passwords import hash_password, needs_rehash, verify_password
from fossp.output import aware

LIFETIME = timedelta(hours=12)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    """A signed-in account: its name, gate role and operations right (``fossp.web.rights``)."""

    token: str
    csrf_token: str
    user: str
    role: str
    operations: str


def _info(token: str, csrf: str, user: User) -> SessionInfo:
    return SessionInfo(token, csrf, user.name, user.role, user.operations)


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _start(self, user_id: int) -> SessionInfo:
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
            user = s.get(User, user_id)
            assert user is not None
            return _info(token, csrf, user)

    def lookup(self, token: str | None) -> SessionInfo | None:
        if not token:
            return None
        with self.db.sessions.begin() as s:
            row = s.get(WebSession, _hash(token))
            if row is None or aware(row.expires_at) < datetime.now(UTC) or row.user is None or row.user.disabled:
                return None
            return _info(token, row.csrf_token, row.user)

    def sign_in(self, old_token: str | None, name: str, password: str) -> SessionInfo | None:
        """A new signed-in session for good credentials (the old one ends), else None.

        A disabled account is refused (Forbidden) only once its password is right, so
        the answer tells nothing to someone guessing.
        """
        with self.db.sessions.begin() as s:
            user = s.scalar(select(User).where(User.name == name))
            if not verify_password(user.password_hash if user else None, password) or user is None:
                s.add(AuditEntry(actor=name[:64], action="sign-in-failed", detail="{}"))
                return None
            if user.disabled:
                raise Forbidden(f"the account {user.name} is disabled; ask an administrator")
            if user.password_hash and needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            s.add(AuditEntry(actor=user.name, action="signed-in", detail="{}"))
            user_id = user.id
        self.end(old_token)
        return self._start(user_id)

    def end(self, token: str | None) -> None:
        if token:
            with self.db.sessions.begin() as s:
                s.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
