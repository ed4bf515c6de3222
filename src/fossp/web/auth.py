"""Sign-in state and CSRF checks shared by the pages and the REST API.

The session cookie is HttpOnly and SameSite=Lax; every state-changing request must also
carry the session's CSRF token (a hidden form field, or the X-CSRF-Token header for the
API), so a cross-site page cannot act for a signed-in user. The sign-in form, shown to
visitors who have no session, is protected by a signed double-submit cookie instead: a
random nonce in a cookie and its HMAC (under a key of this server process) in the form,
so an anonymous visit writes nothing to the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from fastapi import Request, Response

from fossp.gate.errors import Forbidden
from fossp.gate.sessions import LIFETIME, SessionInfo, SessionStore
from fossp.web.throttle import Throttle

COOKIE = "fossp_session"
LOGIN_COOKIE = "fossp_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
_KEY = secrets.token_bytes(32)
_STALE_FORM = "missing or wrong CSRF token; reload the page and try again"


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
    if info is None:
        raise NotSignedIn()
    return info


def sign_in(request: Request, name: str, password: str) -> SessionInfo | None:
    """A new session for good credentials (None for bad ones), within the throttle's limits."""
    throttle: Throttle = request.app.state.throttle
    address = request.client.host if request.client else "unknown"
    throttle.check(name, address)
    info = store(request).sign_in(request.cookies.get(COOKIE), name, password)
    if info is None:
        throttle.failed(name, address)
    else:
        throttle.succeeded(name)
    return info


def check_csrf(info: SessionInfo, token: str | None) -> None:
    if not token or not secrets.compare_digest(token, info.csrf_token):
        raise Forbidden(_STALE_FORM)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, info: SessionInfo) -> None:
    response.set_cookie(
        COOKIE,
        info.token,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def _sign(nonce: str) -> str:
    return hmac.new(_KEY, nonce.encode(), hashlib.sha256).hexdigest()


def login_form(request: Request, render: Callable[[str], Response]) -> Response:
    """``render(token)``, the sign-in form, with a fresh nonce cookie that the token signs."""
    nonce = secrets.token_urlsafe(32)
    response = render(_sign(nonce))
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict", secure=_secure(request), path="/login"
    )
    return response


def check_login_token(request: Request, token: str) -> None:
    """The sign-in form's token must be the signature of this browser's nonce cookie."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not secrets.compare_digest(token, _sign(nonce)):
        raise Forbidden(_STALE_FORM)
