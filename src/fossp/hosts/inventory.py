"""Inventory: hosts, groups and per-host variables, from FOSSP's YAML or Ansible's INI/YAML.

FOSSP's own format::

    fossp_inventory: 1
    hosts:
      db1: {address: 192.0.2.10, user: root, key: ~/.ssh/id_ed25519}
    groups:
      databases: {hosts: [db1], vars: {postgresql_port: 5433}}

Ansible inventories are read too (``ansible_host``, ``ansible_user``, ``ansible_port``,
``ansible_ssh_private_key_file``, ``ansible_connection``, ``ansible_become``), so users can
bring theirs. ``become: true`` makes a non-root user run commands through ``sudo -n``.
A variable named ``<role name>_<setting>`` overrides that role's setting on the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fossp.catalog.loader import describe_validation_error, read_yaml
from fossp.errors import BadInput
from fossp.files import read_text

DEFAULT_INVENTORY = Path("/etc/fossp/inventory.yaml")
Connection = Literal["ssh", "local", "root", "chroot"]


class _Reach(BaseModel):
    """How a host is reached; shared by inventory entries and resolved hosts."""

    model_config = ConfigDict(extra="forbid")

    port: int = Field(default=22, ge=1, le=65535)
    user: str = "root"
    key: str | None = None
    known_hosts: str | None = None
    connection: Connection = "ssh"
    become: bool = False
    vars: dict[str, Any] = {}


class HostSpec(_Reach):
    """How to reach one host, and its variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    address: str


class _HostEntry(_Reach):
    address: str | None = None


class _GroupEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hosts: list[str] = []
    vars: dict[str, Any] = {}


class _FosspInventory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fossp_inventory: Literal[1]
    hosts: dict[str, _HostEntry | None] = {}
    groups: dict[str, _GroupEntry] = {}


@dataclass
class Inventory:
    """Hosts by name and groups as lists of host names."""

    hosts: dict[str, HostSpec] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    source: str = "(none)"

    def resolve(self, target: str) -> list[HostSpec]:
        """Hosts for one ``--target``: ``all``, a group, a host name, or an address."""
        if target == "all":
            return list(self.hosts.values())
        if target in self.groups:
            return [self.hosts[name] for name in self.groups[target]]
        if target in self.hosts:
            return [self.hosts[target]]
        if target == "local":
            return [HostSpec(name="local", address="127.0.0.1", connection="local")]
        return [adhoc_host(target)]


_ADHOC = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<address>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d+))?$"
)


def adhoc_host(target: str) -> HostSpec:
    """A target that is not in the inventory: ``[user@]address[:port]``."""
    match = _ADHOC.match(target)
    if not match:
        raise BadInput(f"--target {target!r}: not a host, group or address in the inventory")
    return HostSpec(
        name=target,
        address=match["address"].strip("[]"),
        user=match["user"] or "root",
        port=int(match["port"] or 22),
    )


def _host_from_ansible(name: str, variables: dict[str, Any]) -> HostSpec:
    """Map Ansible's connection variables; the rest stay host variables."""
    own = {k: v for k, v in variables.items() if not k.startswith("ansible_")}
    if "ansible_timeout" in variables:  # Ansible's connection timeout bounds our connect
        own.setdefault("fossp_timeout_connect", variables["ansible_timeout"])
    connection = str(variables.get("ansible_connection", "ssh"))
    return HostSpec(
        name=name,
        address=str(variables.get("ansible_host", name)),
        port=int(variables.get("ansible_port", 22)),
        user=str(variables.get("ansible_user", "root")),
        key=variables.get("ansible_ssh_private_key_file"),
        connection="local" if connection == "local" else "ssh",
        become=str(variables.get("ansible_become", False)).lower() in ("true", "yes", "1"),
        vars=own,
    )


def _build(
    host_vars: dict[str, dict[str, Any]],
    groups: dict[str, list[str]],
    group_vars: dict[str, dict[str, Any]],
    source: str,
) -> Inventory:
    """Merge group variables under host variables (host wins), like Ansible."""
    inventory = Inventory(groups={g: list(dict.fromkeys(h)) for g, h in groups.items()}, source=source)
    for name, own in host_vars.items():
        merged: dict[str, Any] = dict(group_vars.get("all", {}))
        for group, members in groups.items():
            if name in members:
                merged.update(group_vars.get(group, {}))
        merged.update(own)
        inventory.hosts[name] = _host_from_ansible(name, merged)
    return inventory


def _expand_children(groups: dict[str, list[str]], children: dict[str, list[str]], source: str) -> None:
    """Give each parent group the hosts of its child groups (transitively)."""

    def members(group: str, seen: frozenset[str]) -> list[str]:
        if group in seen:
            raise BadInput(f"{source}: group {group!r} contains itself")
        found = list(groups.get(group, []))
        for child in children.get(group, []):
            found += members(child, seen | {group})
        return found

    for group in list(set(groups) | set(children)):
        groups[group] = members(group, frozenset())


def parse_ansible_ini(text: str, source: str) -> Inventory:
    """Ansible's INI inventory: ``[group]``, ``[group:vars]`` and ``[group:children]``."""
    host_vars: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, Any]] = {}
    children: dict[str, list[str]] = {}
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #")[0].strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise BadInput(f"{source}: line {number}: unclosed section header")
            section, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise BadInput(f"{source}: line {number}: unknown section kind {kind!r}")
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise BadInput(f"{source}: line {number}: expected key=value")
            group_vars.setdefault(section, {})[key.strip()] = _ini_value(value.strip())
        elif kind == "children":
            children.setdefault(section, []).append(line)
        else:
            name, *pairs = line.split()
            values = host_vars.setdefault(name, {})
            for pair in pairs:
                key, sep, value = pair.partition("=")
                if not sep:
                    raise BadInput(f"{source}: line {number}: expected key=value, got {pair!r}")
                values[key] = _ini_value(value)
            groups.setdefault(section, []).append(name)
    _expand_children(groups, children, source)
    return _build(host_vars, groups, group_vars, source)


def _ini_value(text: str) -> Any:
    """INI values are strings; numbers and quoted strings are unwrapped like Ansible does."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return int(text) if text.isdigit() else text


def parse_ansible_yaml(data: dict[str, Any], source: str) -> Inventory:
    """Ansible's YAML inventory: nested groups with ``hosts``, ``vars`` and ``children``."""
    host_vars: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, Any]] = {}
    children: dict[str, list[str]] = {}

    def walk(group: str, body: Any) -> None:
        body = body or {}
        if not isinstance(body, dict):
            raise BadInput(f"{source}: group {group!r} must be a mapping")
        for name, values in (body.get("hosts") or {}).items():
            host_vars.setdefault(str(name), {}).update(values or {})
            groups.setdefault(group, []).append(str(name))
        group_vars.setdefault(group, {}).update(body.get("vars") or {})
        for child, child_body in (body.get("children") or {}).items():
            children.setdefault(group, []).append(str(child))
            walk(str(child), child_body)

    for group, body in data.items():
        walk(str(group), body)
    _expand_children(groups, children, source)
    return _build(host_vars, groups, group_vars, source)


def parse_fossp(data: dict[str, Any], source: str) -> Inventory:
    try:
        parsed = _FosspInventory.model_validate(data)
    except ValidationError as error:
        raise BadInput(f"{source}: {describe_validation_error(error)}") from None
    inventory = Inventory(source=source)
    for name, entry in parsed.hosts.items():
        entry = entry or _HostEntry()
        values = entry.model_dump()
        values["address"] = entry.address or name
        for path_key in ("key", "known_hosts"):
            if values[path_key]:
                values[path_key] = str(Path(values[path_key]).expanduser())
        inventory.hosts[name] = HostSpec(name=name, **values)
    for group, body in parsed.groups.items():
        unknown = [h for h in body.hosts if h not in inventory.hosts]
        if unknown:
            raise BadInput(f"{source}: group {group!r} lists unknown host {unknown[0]!r}")
        inventory.groups[group] = body.hosts
        for host in body.hosts:
            spec = inventory.hosts[host]
            inventory.hosts[host] = spec.model_copy(update={"vars": {**body.vars, **spec.vars}})
    return inventory


def load_inventory(path: Path) -> Inventory:
    """Read an inventory file in any of the three formats; problems name the file."""
    if path.suffix in (".ini", ".cfg", "") or path.name == "hosts":
        text = read_text(path)
        if not text.lstrip().startswith(("fossp_inventory", "all:", "---")):
            return parse_ansible_ini(text, str(path))
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise BadInput(f"{path}: an inventory is a mapping (FOSSP or Ansible YAML format)")
    if "fossp_inventory" in data:
        return parse_fossp(data, str(path))
    return parse_ansible_yaml(data, str(path))


def default_inventory(path: Path | None) -> Inventory:
    """The inventory named by --inventory, else /etc/fossp/inventory.yaml if present, else empty."""
    if path is not None:
        return load_inventory(path)
    return load_inventory(DEFAULT_INVENTORY) if DEFAULT_INVENTORY.is_file() else Inventory()


def resolve_targets(inventory: Inventory, targets: Iterable[str]) -> list[HostSpec]:
    """Hosts for all ``--target`` values, each once, in order; ``lab:NAME`` asks the lab."""
    found: dict[str, HostSpec] = {}
    for target in targets:
        for host in _lab_host(target) if target.startswith("lab:") else inventory.resolve(target):
            found.setdefault(host.name, host)
    if not found:
        raise BadInput("no hosts to act on: give --target (a host, a group, 'all' or lab:NAME)")
    return list(found.values())


def _lab_host(target: str) -> list[HostSpec]:
    """A lab host (`fossp lab up`) with its own key and known_hosts file."""
    from fossp.lab import resolve_target

    lab = resolve_target(target)
    return [
        HostSpec(
            name=target,
            address=lab.address,
            user=lab.ssh_user,
            key=str(lab.key_path),
            known_hosts=str(lab.known_hosts_path),
        )
    ]
