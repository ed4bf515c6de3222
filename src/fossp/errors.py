"""Errors that the CLI turns into one clear line and a documented exit code.

Exit codes: 0 ok, 1 a finding (failed check, conflict, failed host), 2 bad input or error.
Under ``--json`` the same error is a JSON object on stdout whose ``code`` is the class's
stable snake_case name (the codes are listed in docs/json.md) and whose ``where`` names
the file, field or host when the raiser knows it.
"""

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_ERROR = 2


class FosspError(Exception):
    """A user-facing error: the message names what went wrong and where."""

    exit_code = EXIT_ERROR
    code = "error"
    #: Whether every message starts with what it concerns (``NAME: why``): then that is its ``where``.
    where_leads = False

    def __init__(self, message: str, where: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if where is None and self.where_leads and ": " in message:
            where = message.split(": ", 1)[0]
        self.where = where
        if code is not None:
            self.code = code


class BadInput(FosspError):
    """Input (a file, an argument, a setting) that FOSSP refuses."""

    code = "bad_input"


class Finding(FosspError):
    """Not an error in FOSSP but a result the caller must act on (exit 1)."""

    exit_code = EXIT_FINDING
    code = "finding"


def error_data(message: str, where: str | None, code: str) -> dict[str, str | None]:
    """An error as a JSON document gives it, a whole command's (``error``) and one host's alike."""
    return {"message": message, "where": where, "code": code}


def one_line(text: str) -> str:
    """``text`` with its line breaks and runs of spaces made single spaces."""
    return " ".join(text.split())


def plain(text: str, limit: int = 60) -> bool:
    """Whether ``text`` may go into a message as it is: short, printable, on one line."""
    return len(text) <= limit and text.isprintable()


#: The longest error line FOSSP prints: a value a raiser did not shorten is cut here.
MAX_MESSAGE = 500


def clip(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` cut to ``limit`` characters, saying how long it was."""
    return message if len(message) <= limit else f"{message[: limit - 30]}... ({len(message)} characters)"


def shorten(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters: an error echoes what it was given,
    never the whole of a long value."""
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[: limit - 12]}... ({len(shown)} chars)"
