"""Secret settings: never shown, stored only privately, kept out of the host's ledger.

Every secret value in play is registered when settings are resolved
(``fossp.selection.profile.resolve_settings``); every output path (``fossp.output`` and
the CLI's error line) passes what it prints through ``redact``, so a secret shows as
``MASK`` however it travels: a table, JSON, a plan's stdin, an error from the host.

A profile may hold a secret as a reference resolved at use time, ``{from_file: PATH}``
(a file only its owner can read) or ``{from_env: VAR}``, so the profile itself can be
shared; a profile that holds a secret's value is written 0600.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets as random
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from fossp.errors import BadInput
from fossp.files import UnreadableFile, read_text

if TYPE_CHECKING:
    from fossp.catalog.schema import Role

MASK = "********"
REFERENCE_KINDS = ("from_file", "from_env")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_values: set[str] = set()

T = TypeVar("T")


def register(value: str) -> None:
    """Mask ``value`` in all output from now on, as typed and as hex (the form in which a
    recipe may hand it to a tool, whose error could echo it). Secrets are at least 8
    characters long (``Setting.check``), so masking never eats ordinary words."""
    from fossp.catalog.schema import MIN_SECRET_LENGTH

    if len(value) >= MIN_SECRET_LENGTH:
        _values.update((value, value.encode().hex(), value.encode().hex().upper()))


def active() -> bool:
    """Whether any secret is registered (output skips the masking walk when none is)."""
    return bool(_values)


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by MASK (longest first, so a secret
    that contains another is masked whole)."""
    for value in sorted(_values, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def redact(data: T) -> T:
    """A copy of ``data`` (text, or JSON-like lists and mappings) with secrets masked."""
    if not _values:
        return data
    return cast(T, _redact(data))


def _redact(data: Any) -> Any:
    if isinstance(data, str):
        return mask(data)
    if isinstance(data, dict):
        return {_redact(key): _redact(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_redact(item) for item in data]
    return data


def reference(value: Any) -> tuple[str, Any] | None:
    """(kind, target) when ``value`` is ``{from_file: PATH}`` or ``{from_env: VAR}``."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, target),) = value.items()
        if kind in REFERENCE_KINDS:
            return kind, target
    return None


def check_reference(value: Any, where: str) -> None:
    """Refuse a malformed reference (before it is needed, e.g. by `fossp profile check`)."""
    found = reference(value)
    if found is None:
        return
    kind, target = found
    if kind == "from_env" and not (isinstance(target, str) and _ENV_NAME.match(target)):
        raise BadInput(f"{where}: from_env needs an environment variable name, got {target!r}")
    if kind == "from_file" and not (isinstance(target, str) and target.strip()):
        raise BadInput(f"{where}: from_file needs a file path, got {target!r}")


def read_reference(value: Any, where: str) -> Any:
    """The secret a reference points to (one trailing newline of a file dropped), or
    ``value`` itself when it is no reference."""
    found = reference(value)
    if found is None:
        return value
    check_reference(value, where)
    kind, target = found
    if kind == "from_env":
        text = os.environ.get(target)
        if text is None:
            raise BadInput(f"{where}: environment variable {target} is not set")
    else:
        path = Path(target).expanduser()
        try:
            text = read_text(path).removesuffix("\n")
        except UnreadableFile as error:
            raise BadInput(f"{where}: {error.message}") from None
        mode = readable_by_others(path)
        if mode is not None:
            raise BadInput(f"{where}: {path} has mode {mode:04o}, group or others can read it: chmod 600 {path}")
    return text


def readable_by_others(path: Path) -> int | None:
    """The file's mode when its group or others may read it, else None."""
    mode = path.stat().st_mode & 0o777
    return mode if mode & 0o044 else None


def private_mode(mode: str) -> bool:
    """Whether a file of ``mode`` (octal text) may hold a secret on a host: others get
    nothing and the group (a service's) at most reads, as with 0600 and 0640."""
    return int(mode, 8) & 0o027 == 0


FINGERPRINT = "sha256:"


def fingerprint(value: str) -> str:
    """What the ledger keeps of a secret: enough to tell it changed, not to recover it."""
    return FINGERPRINT + hashlib.sha256(value.encode()).hexdigest()


def for_ledger(role: Role, settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` as the host's state file stores them: each secret as its fingerprint
    (an unset optional secret, '', stays '')."""
    secret = {setting.name for setting in role.settings if setting.secret}
    return {
        name: fingerprint(value) if name in secret and isinstance(value, str) and value else value
        for name, value in settings.items()
    }


def random_password(size: int) -> str:
    """``size`` random bytes as URL-safe base64 text, drawn again until it holds an upper
    case letter, a lower case letter and a digit: three character classes, as Samba AD's
    (and Windows') password complexity rule asks; the draw keeps all of its randomness."""
    while True:
        value = random.token_urlsafe(size)
        if re.search("[A-Z]", value) and re.search("[a-z]", value) and re.search("[0-9]", value):
            return value


#: Secrets FOSSP makes for roles (a munge key, a cluster's authkey, daemon passwords).
GENERATED_DIR = Path(os.environ.get("FOSSP_SECRETS_DIR", "/var/lib/fossp/secrets"))
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


def kept_secret(role: str, scope: str, setting: str) -> str | None:
    """The secret ``generated_secret`` made for ``role``'s ``setting`` in ``scope``, or None
    when it made none: read only, for a reader such as `fossp health` that must not make one."""
    if not all(_SAFE.match(part) for part in (role, scope, setting)):
        return None
    try:
        value = (GENERATED_DIR / role / scope / setting).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    register(value)
    return value


def generated_secret(role: str, scope: str, setting: str, size: int, style: str = "hex") -> str:
    """The secret FOSSP generated for ``role``'s ``setting`` in ``scope`` (a host, or a
    cluster's first member), made once as ``size`` random bytes in hex (or, ``style``
    "password", as a complex password) and kept 0600 on this machine, so every member and
    every later run gets the same value."""

    for part in (role, scope, setting):
        if not _SAFE.match(part):
            raise BadInput(f"generated secret: {part!r} cannot name a folder")
    folder = GENERATED_DIR / role / scope
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / setting
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
    else:
        value = random_password(size) if style == "password" else random.token_hex(size)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(value + "\n")
    register(value)
    return value
