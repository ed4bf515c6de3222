"""Sign-in state and CSRF checks shared by the pages and the REST API.

The session cookie is HttpOnly and SameSite=Lax; every state-changing request must also
carry the session's CSRF token (a hidden form field, or the X-CSRF-Token header for the
API), so a cross-site page cannot act for a signed-in user.
"""

from __future__ import annotations

import secrets

from fastapi import Request, Response

from fossp.gate.errors import Forbidden
from fossp.gate.sessions import LIFETIME, SessionInfo, SessionStore

COOKIE = "fossp_session"
CSRF_HEADER = "X-CSRF-Token"


class NotSignedIn(Exception):
    """No signed-in session: pages redirect to the sign-in form, the API answers 401."""


def store(request: Request) -> SessionStore:
    sessions: SessionStore = request.app.state.sessions
    return sessions


def current(request: Request) -> SessionInfo | None:
    return store(request).lookup(request.cookies.get(COOKIE))


def signed_in(request: Request) -> SessionInfo:
    """FastAPI dependency: the signed-in session, or NotSignedIn."""
    info = current(request)
    if info is None or info.user is None:
        raise NotSignedIn()
    return info


def check_csrf(info: SessionInfo, token: str | None) -> None:
    if not token or not secrets.compare_digest(token, info.csrf_token):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again")


def set_cookie(request: Request, response: Response, info: SessionInfo) -> None:
    response.set_cookie(
        COOKIE,
        info.token,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
