"""The directory SSSD joins, named as a host of the catalog's directory role.

``platform.directory=HOST`` names a host where FOSSP deployed the 389ds role. Before any
target is reached, that host's FOSSP state (/var/lib/fossp/state.json, read-only, one
round trip) says how the directory was deployed there: its port and its suffix. They
become the platform's ``ldap_uri`` and ``ldap_search_base``, so SSSD's configuration is
written from the directory as it runs, and a second apply resolves the same values and
plans nothing. A named host that runs no directory role is bad input: nothing changes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from fossp.catalog.loader import Catalog
from fossp.engine.cluster import HostWork
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec

#: The platform's setting that names the directory host, and what it resolves to.
DIRECTORY = "directory"
RESOLVED = ("ldap_uri", "ldap_search_base")


def _389ds(address: str, settings: dict[str, Any]) -> dict[str, str]:
    """The instance's LDAP port (StartTLS-capable) and its root suffix."""
    port = int(settings.get("ldap_port", 389))
    uri = f"ldap://{address}" + ("" if port == 389 else f":{port}")
    return {"ldap_uri": uri, "ldap_search_base": settings["suffix"]}


#: Directory roles SSSD can join by name (role name -> its LDAP URI and base from its settings).
JOINS: dict[str, Callable[[str, dict[str, Any]], dict[str, str]]] = {"389ds": _389ds}
#: Directory roles that a host may run but SSSD does not join by name yet: why not.
NOT_YET = {
    "samba-ad": "SSSD's join of a Samba AD domain by name is not done yet: give platform.ldap_uri (ldaps://DC) "
    "and ldap_search_base instead",
}


def directory_settings(host: str, address: str, state: dict[str, Any]) -> dict[str, str]:
    """``ldap_uri`` and ``ldap_search_base`` from the directory host's FOSSP state (pure)."""
    instances = state.get("instances", {}).values()
    deployed = {i.get("role_name"): i.get("settings", {}) for i in instances if i.get("state") != "decommissioning"}
    for name, join in JOINS.items():
        if name in deployed:
            return join(address, deployed[name])
    for name, why in NOT_YET.items():
        if name in deployed:
            raise BadInput(f"platform.{DIRECTORY}: {host} runs {name}; {why}")
    roles = ", ".join(sorted(str(n) for n in deployed)) or "none"
    raise BadInput(f"platform.{DIRECTORY}: {host} runs no directory role FOSSP deployed (389ds); its roles: {roles}")


def resolve_directories(catalog: Catalog, work: dict[str, HostWork], lookup: Callable[[str], HostSpec]) -> None:
    """Fill each platform choice's ``ldap_uri`` and ``ldap_search_base`` from the host its
    ``directory`` names (each directory host read once); ``lookup`` turns a name into its host."""
    platform = {role_id for role_id, role in catalog.roles.items() if role.name == "platform"}
    joining = [
        (w, index, role_id, given)
        for w in work.values()
        for index, (role_id, given) in enumerate(w.choices)
        if role_id in platform and given.get(DIRECTORY)
    ]
    for *_, given in joining:
        clash = [s for s in RESOLVED if given.get(s)]
        if clash:
            raise BadInput(f"platform.{DIRECTORY}: give the directory host or platform.{clash[0]}, not both")
    resolved = {name: _read(lookup(name)) for name in sorted({given[DIRECTORY] for *_, given in joining})}
    for w, index, role_id, given in joining:
        w.choices[index] = (role_id, {**given, **resolved[given[DIRECTORY]]})


def _read(host: HostSpec) -> dict[str, str]:
    """The directory host's state, read over one connection (read-only), as SSSD settings."""
    from fossp.engine.fleet import run_fleet
    from fossp.engine.state import STATE_FILE

    async def action(connector: Any, spec: HostSpec, report: Any) -> dict[str, Any]:
        done = await connector.run(["cat", "--", connector.path(STATE_FILE)])
        return json.loads(done.stdout) if done.ok and done.stdout.strip() else {}

    (result,) = asyncio.run(run_fleet([host], action, lambda name, message: None))
    if not result.ok:
        raise BadInput(f"platform.{DIRECTORY}: cannot read FOSSP's state on {host.name}: {result.error}")
    return directory_settings(host.name, host.address, result.value)
