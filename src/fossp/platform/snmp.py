"""Reading a host's FOSSP-HEALTH-MIB tree over SNMPv3 with pysnmp (pure Python, asyncio):
what `fossp health` and any SNMP monitoring system read, from the network, without SSH.

pysnmp is imported when a read runs, not with the module, so `fossp --help` stays quick.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fossp.platform.health import ROOT


@dataclass(frozen=True)
class Credentials:
    """An SNMPv3 user: SHA authentication, and AES privacy unless ``privacy`` is None."""

    user: str
    auth: str
    privacy: str | None

    @property
    def level(self) -> str:
        return "authPriv" if self.privacy else "authNoPriv"


class AgentError(Exception):
    """The agent did not answer, or refused: one line naming the agent and why."""


#: pysnmp's error indications, as an administrator reads them.
_REASONS = {
    "requestTimedOut": "no answer",
    "No SNMP response received before timeout": "no answer",
    "unknownUserName": "the agent has no such SNMPv3 user",
    "wrongDigest": "authentication failed (wrong passphrase)",
    "decryptionError": "decryption failed (wrong privacy passphrase)",
    "unsupportedSecLevel": "the agent refuses this security level",
    "authorizationError": "the user may not read the tree",
}


def _reason(indication: object) -> str:
    text = str(indication)
    return next((why for key, why in _REASONS.items() if key in text), text)


async def read_tree(address: str, port: int, who: Credentials, timeout: float) -> dict[str, str]:
    """Every value under ROOT, keyed by its OID below ROOT ("1.1.0"), walked with GETBULK.
    pysnmp's timeout is per request (sent twice); the whole walk is bounded too, a few
    requests' worth, so an agent that answers ever more slowly cannot hold the read."""
    bound = timeout * 4 + 2
    try:
        return await asyncio.wait_for(_walk(address, port, who, timeout), bound)
    except TimeoutError:
        raise AgentError(f"SNMP agent at {address}:{port}/udp: the walk did not end within {bound:g} s") from None


async def _walk(address: str, port: int, who: Credentials, timeout: float) -> dict[str, str]:
    from pysnmp.hlapi.v3arch import asyncio as snmp

    user = snmp.UsmUserData(
        who.user,
        who.auth,
        who.privacy,
        authProtocol=snmp.usmHMACSHAAuthProtocol,
        privProtocol=snmp.usmAesCfb128Protocol if who.privacy else snmp.usmNoPrivProtocol,
    )
    engine = snmp.SnmpEngine()
    values: dict[str, str] = {}
    try:
        target = await snmp.UdpTransportTarget.create((address, port), timeout=timeout, retries=1)
        walk = snmp.bulk_walk_cmd(
            engine,
            user,
            target,
            snmp.ContextData(),
            0,
            50,
            snmp.ObjectType(snmp.ObjectIdentity(ROOT)),
            lexicographicMode=False,
        )
        async for indication, status, index, binds in walk:
            if indication:
                raise AgentError(f"SNMP agent at {address}:{port}/udp ({who.level}): {_reason(indication)}")
            if status:
                raise AgentError(f"SNMP agent at {address}:{port}/udp: {status.prettyPrint()} at {index}")
            for oid, value in binds:
                values[str(oid).removeprefix(ROOT + ".")] = value.prettyPrint()
    except OSError as error:
        raise AgentError(f"SNMP agent at {address}:{port}/udp: {error.strerror or error}") from None
    finally:
        engine.close_dispatcher()
    return values
