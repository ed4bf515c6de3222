"""Time bounds for everything FOSSP waits on: no host, link or command can hang a run.

Defaults suit a server on a LAN: a short bound where an answer is quick (connecting,
facts), a generous one where work is slow (package installs). Each can be set per run
(``--timeout NAME=SECONDS``; a bare number bounds a host's whole run) or per host with
inventory variables ``fossp_timeout_NAME`` (Ansible's ``ansible_timeout`` is the connect
bound). The command line wins over the inventory, the inventory over the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fossp.errors import BadInput

VAR_PREFIX = "fossp_timeout_"


class Timeouts(BaseModel):
    """Seconds FOSSP waits before giving up on one host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect: float = Field(default=15, gt=0, description="TCP connect, SSH handshake and login")
    facts: float = Field(default=60, gt=0, description="the facts round trip")
    command: float = Field(default=300, gt=0, description="any other single command")
    packages: float = Field(default=1800, gt=0, description="one package install or removal")
    package_wait: float = Field(default=300, ge=0, description="waiting for a package manager already running")
    keepalive: float = Field(default=10, gt=0, description="SSH keepalive interval; 3 unanswered = peer lost")
    host: float = Field(default=3600, gt=0, description="one host's whole run")


NAMES = tuple(Timeouts.model_fields)


def parse_timeout_options(values: list[str], where: str = "--timeout") -> dict[str, float]:
    """``NAME=SECONDS`` items (a bare ``SECONDS`` is the whole-run bound), checked now."""
    found: dict[str, Any] = {}
    for value in values:
        name, sep, seconds = value.partition("=")
        if not sep:
            name, seconds = "host", value
        if name not in NAMES:
            raise BadInput(f"{where} {value!r}: unknown timeout {name!r} (known: {', '.join(NAMES)})")
        found[name] = seconds
    return _checked(found, where)


def _checked(values: Mapping[str, Any], where: str) -> dict[str, float]:
    try:
        Timeouts(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise BadInput(f"{where}: timeout {field!r}: {first['msg']} (got {first.get('input')!r})") from None
    return {name: float(seconds) for name, seconds in values.items()}


def timeouts_for(host_vars: Mapping[str, Any], overrides: Mapping[str, float], where: str) -> Timeouts:
    """A host's bounds: defaults, then its inventory variables, then the command line."""
    from_vars: dict[str, Any] = {
        name.removeprefix(VAR_PREFIX): value for name, value in host_vars.items() if name.startswith(VAR_PREFIX)
    }
    unknown = sorted(set(from_vars) - set(NAMES))
    if unknown:
        raise BadInput(f"{where}: unknown inventory variable {VAR_PREFIX}{unknown[0]} (known: {', '.join(NAMES)})")
    return Timeouts(**{**_checked(from_vars, where), **overrides})
