"""The directory SSSD joins, named as a host of one of the catalog's directory roles.

``platform.directory=HOST`` names a host where FOSSP deployed the 389ds or the Samba AD
role. Before any target is reached, that host's FOSSP state (/var/lib/fossp/state.json)
and its host name are read (read-only, one round trip): how the directory was deployed
there becomes the platform's SSSD settings, so SSSD's configuration is written from the
directory as it runs, and a second apply resolves the same values and plans nothing.

- 389ds: ``ldap_uri`` (the instance's port) and ``ldap_search_base`` (its suffix). Where
  the instance's certificate names a real host (its ``fqdn``, not localhost), the URI
  names that, ``/etc/hosts`` gets its address, and the instance's CA goes with it
  (``ldap_ca_cert``): SSSD talks StartTLS and checks the certificate. Otherwise the URI
  is the host's address and SSSD reads identities over plain LDAP.
- Samba AD: the domain (``ad_domain``, the realm in lower case), the DC's name (its host
  name in the realm, as provisioning names it) and address, for SSSD's ad provider and
  the adcli join; the join's password is the domain Administrator's, given as
  ``platform.directory_password`` or else the one FOSSP generated for that DC.

A named host that runs no directory role is bad input: nothing changes anywhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fossp.catalog.loader import Catalog
from fossp.engine.cluster import HostWork
from fossp.errors import BadInput
from fossp.hosts.inventory import HostSpec

#: The platform's setting that names the directory host, and what it resolves to.
DIRECTORY = "directory"
PASSWORD = "directory_password"
RESOLVED = ("ldap_uri", "ldap_search_base", "ad_domain", "directory_server", "directory_address", "ldap_ca_cert")
_MARK = "@@fossp:"
#: The 389ds instances' CAs (dscreate's self-signed one, which signs the instance's certificate).
_DS_CAS = "/etc/dirsrv/slapd-*/ca.crt"


@dataclass(frozen=True)
class DirectoryHost:
    """What the directory host says of itself: its FOSSP state, host name and directory CAs."""

    name: str  # as the run names it (an inventory name, lab:NAME)
    address: str
    hostname: str
    state: dict[str, Any]
    cas: dict[str, str] = field(default_factory=dict)  # CA file -> its PEM text


def _389ds(host: DirectoryHost, settings: dict[str, Any]) -> dict[str, str]:
    """The instance's LDAP port and root suffix; StartTLS where its certificate names a host."""
    port = int(settings.get("ldap_port", 389))
    suffix = "" if port == 389 else f":{port}"
    fqdn = str(settings.get("fqdn", "localhost"))
    ca = pem_body(host.cas.get(f"/etc/dirsrv/slapd-{settings.get('instance_name', 'localhost')}/ca.crt", ""))
    if fqdn in ("localhost", "localhost.localdomain") or not ca:
        return {"ldap_uri": f"ldap://{host.address}{suffix}", "ldap_search_base": settings["suffix"]}
    return {
        "ldap_uri": f"ldap://{fqdn}{suffix}",
        "ldap_search_base": settings["suffix"],
        "directory_server": fqdn,
        **_hosts_line(host.address),
        "ldap_ca_cert": ca,
    }


def pem_body(text: str) -> str:
    """The first certificate of a PEM text as one line of base64 ('' when there is none)."""
    lines = text.splitlines()
    if "-----BEGIN CERTIFICATE-----" not in lines:
        return ""
    start = lines.index("-----BEGIN CERTIFICATE-----") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("-----END")), len(lines))
    return "".join(line.strip() for line in lines[start:end])


def _samba_ad(host: DirectoryHost, settings: dict[str, Any]) -> dict[str, str]:
    """The realm as the AD domain, and the DC by the name provisioning gave it (HOSTNAME.realm):
    Kerberos and SSSD's ad provider need the name, the client's /etc/hosts its address."""
    domain = str(settings["realm"]).lower()
    server = f"{host.hostname.split('.')[0].lower()}.{domain}"
    return {
        "ldap_uri": f"ldap://{server}",
        "ad_domain": domain,
        "directory_server": server,
        **_hosts_line(host.address),
    }


def _hosts_line(address: str) -> dict[str, str]:
    """The server's address for the client's /etc/hosts, where the run reaches it by an
    IPv4 address (one reached by a DNS name is found by DNS there too)."""
    try:
        return {"directory_address": str(ipaddress.IPv4Address(address))}
    except ValueError:
        return {}


#: Directory roles SSSD joins by name (role name -> the platform's settings from the role's).
JOINS: dict[str, Callable[[DirectoryHost, dict[str, Any]], dict[str, str]]] = {
    "389ds": _389ds,
    "samba-ad": _samba_ad,
}


def directory_settings(host: DirectoryHost) -> tuple[str, dict[str, str]]:
    """(the directory role there, the platform's SSSD settings) from the host's state (pure)."""
    instances = host.state.get("instances", {}).values()
    deployed = {i.get("role_name"): i.get("settings", {}) for i in instances if i.get("state") != "decommissioning"}
    for name, join in JOINS.items():
        if name in deployed:
            return name, join(host, deployed[name])
    roles = ", ".join(sorted(str(n) for n in deployed)) or "none"
    raise BadInput(
        f"platform.{DIRECTORY}: {host.name} runs no directory role FOSSP deployed ({', '.join(JOINS)}); "
        f"its roles: {roles}"
    )


def resolve_directories(catalog: Catalog, work: dict[str, HostWork], lookup: Callable[[str], HostSpec]) -> None:
    """Fill each platform choice's SSSD settings from the host its ``directory`` names (each
    directory host read once); ``lookup`` turns a name into its host."""
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
    hosts = {name: lookup(name) for name in sorted({g[DIRECTORY] for *_, g in joining})}
    resolved = {name: directory_settings(_read(spec)) for name, spec in hosts.items()}
    for w, index, role_id, given in joining:
        role, values = resolved[given[DIRECTORY]]
        if role == "samba-ad" and not given.get(PASSWORD):
            values = {**values, PASSWORD: _generated_admin_password(hosts[given[DIRECTORY]].name)}
        w.choices[index] = (role_id, {**given, **values})


def _generated_admin_password(host: str) -> str:
    """The Administrator password FOSSP generated for the samba-ad role on ``host`` (read, never made)."""
    from fossp.secrets import GENERATED_DIR, register

    path = GENERATED_DIR / "samba-ad" / host.replace("/", "_") / "admin_password"
    if not path.is_file():
        raise BadInput(
            f"platform.{PASSWORD}: {host}'s Administrator password was not generated here ({path} is missing); "
            "give it (e.g. {from_env: NAME})"
        )
    value = path.read_text(encoding="ascii").strip()
    register(value)
    return value


def _read(host: HostSpec) -> DirectoryHost:
    """The directory host's state and host name, over one connection (read-only)."""
    from fossp.engine.fleet import run_fleet
    from fossp.engine.state import STATE_FILE

    script = (
        f'cat -- "$1" 2>/dev/null; echo; echo {_MARK}hostname; hostname; '
        f'for f in {_DS_CAS}; do [ -f "$f" ] && echo "{_MARK}ca $f" && cat -- "$f"; done'
    )

    async def action(connector: Any, spec: HostSpec, report: Any) -> str:
        done = await connector.run(["sh", "-c", script, "read", connector.path(STATE_FILE)])
        return str(done.stdout)

    (result,) = asyncio.run(run_fleet([host], action, lambda name, message: None))
    if not result.ok:
        raise BadInput(f"platform.{DIRECTORY}: cannot read FOSSP's state on {host.name}: {result.error}")
    return parse_directory_host(host, result.value)


def parse_directory_host(host: HostSpec, text: str) -> DirectoryHost:
    """The read script's output as the directory host's facts (pure)."""
    from fossp.engine.state import STATE_FILE

    state_text, _, rest = text.partition(f"{_MARK}hostname\n")
    hostname, *sections = rest.split(f"{_MARK}ca ")
    cas = dict(section.split("\n", 1) for section in sections if "\n" in section)
    try:
        state = json.loads(state_text) if state_text.strip() else {}
    except ValueError:
        raise BadInput(f"platform.{DIRECTORY}: FOSSP's state on {host.name} is damaged ({STATE_FILE})") from None
    return DirectoryHost(host.name, host.address, hostname.strip(), state, cas)
