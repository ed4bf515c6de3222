"""Errors of the gate service, each with the HTTP status the web console answers with.

They derive from the project's errors so the CLI maps them to one line and an exit code:
a refused transition or a missing right is a finding (exit 1), bad fields are bad input
(exit 2).
"""

from __future__ import annotations

from fossp.errors import BadInput, Finding


class Refused(Finding):
    """A transition the rules do not allow (HTTP 409); the message says why."""

    code = "refused"
    status = 409


class Forbidden(Finding):
    """The acting user lacks the right (HTTP 403)."""

    code = "forbidden"
    status = 403


class NotFound(BadInput):
    """An application, user or corrective action that does not exist (HTTP 404)."""

    code = "not_found"
    status = 404


class Invalid(BadInput):
    """A field with a bad value (HTTP 422); ``field`` names it."""

    code = "invalid"
    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field '{field}': {message}", where=field)
        self.field = field
        self.reason = message
