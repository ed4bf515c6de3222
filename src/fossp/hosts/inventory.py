"""Inventory: hosts, groups and per-host variables, from FOSSP's YAML or Ansible's INI/YAML.

FOSSP's own format::

    fossp_inventory: 1
    hosts:
      db1: {address: 192.0.2.10, user: root, key: ~/.ssh/id_ed25519}
    groups:
      databases: {hosts: [db1], vars: {postgresql_port: 5433}}

Ansible inventories are read too, as Ansible reads them (INI host lines split like a shell
line, ranges such as ``web[01:03]`` expanded, YAML nulls; tests compare with
``ansible-inventory --list``, whose JSON FOSSP reads as well, so any inventory Ansible reads
can be brought through it). Their connection variables are ``ansible_host``, ``ansible_user``,
``ansible_port``, ``ansible_ssh_private_key_file``, ``ansible_connection`` and
``ansible_become``. ``become: true`` makes a non-root user run commands through ``sudo -n``.
A variable named ``<role name>_<setting>`` overrides that role's setting on the host.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fossp.catalog.loader import describe_validation_error, read_yaml
from fossp.errors import BadInput, shorten
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
        raise BadInput(f"--target {shorten(target)}: not a host, group or address in the inventory")
    port = _port(match["port"] or 22, f"--target {target!r}: port")
    return HostSpec(name=target, address=match["address"].strip("[]"), user=match["user"] or "root", port=port)


def _port(value: Any, where: str) -> int:
    """A port number from an integer or digits (Ansible's INI and YAML give either)."""
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,5}", str(value)) or not 1 <= int(value) <= 65535:
        raise BadInput(f"{where} {shorten(value)} is not a port (1-65535)")
    return int(value)


def _text(value: Any, where: str) -> str:
    """A connection variable's text: a mapping or a list is refused rather than stringified."""
    if isinstance(value, dict | list):
        raise BadInput(f"{where}: expected text, got {shorten(value)}")
    return str(value)


def _host_from_ansible(name: str, variables: dict[str, Any], source: str) -> HostSpec:
    """Map Ansible's connection variables; the rest stay host variables."""
    where = f"{source}: host {shorten(name)}"
    own = {k: v for k, v in variables.items() if not k.startswith("ansible_")}
    if "ansible_timeout" in variables:  # Ansible's connection timeout bounds our connect
        own.setdefault("fossp_timeout_connect", variables["ansible_timeout"])
    variables = {k: v for k, v in variables.items() if v is not None}  # a null is not set, as in Ansible
    connection = str(variables.get("ansible_connection", "ssh"))
    key = variables.get("ansible_ssh_private_key_file")
    return HostSpec(
        name=name,
        address=_text(variables.get("ansible_host", name), f"{where}: ansible_host"),
        port=_port(variables.get("ansible_port", 22), f"{where}: ansible_port"),
        user=_text(variables.get("ansible_user", "root"), f"{where}: ansible_user"),
        key=None if key is None else _text(key, f"{where}: ansible_ssh_private_key_file"),
        connection="local" if connection == "local" else "ssh",
        become=str(variables.get("ansible_become", False)).lower() in ("true", "yes", "1"),
        vars=own,
    )


@dataclass
class _Parsed:
    """What an Ansible inventory says, before group variables are merged into hosts."""

    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    group_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)

    def add_hosts(self, group: str, names: list[str], variables: dict[str, Any]) -> None:
        for name in names:
            self.host_vars.setdefault(name, {}).update(variables)
            self.groups.setdefault(group, []).append(name)

    def add_child(self, group: str, child: str) -> None:
        self.children.setdefault(group, []).append(child)
        self.groups.setdefault(child, [])

    def depths(self) -> dict[str, int]:
        """Each group's depth under ``all`` (its longest path), the order in which
        Ansible applies group variables: deeper groups win, then later names."""
        depth: dict[str, int] = {}

        def visit(group: str, level: int, path: frozenset[str]) -> None:
            if group in path:
                raise BadInput(f"group {group!r} contains itself")
            if depth.get(group, -1) >= level:
                return
            depth[group] = level
            for child in self.children.get(group, []):
                visit(child, level + 1, path | {group})

        for group in [*self.groups, *self.children]:
            visit(group, 0 if group == "all" else 1, frozenset())
        return depth


def _build(parsed: _Parsed, source: str) -> Inventory:
    """Merge group variables under host variables (host wins), in Ansible's order."""
    try:
        depth = parsed.depths()
    except BadInput as error:
        raise BadInput(f"{source}: {error.message}") from None
    groups = {group: _members(parsed, group) for group in depth}
    inventory = Inventory(groups={g: list(dict.fromkeys(h)) for g, h in groups.items()}, source=source)
    order = sorted(depth, key=lambda group: (depth[group], group))
    for name, own in parsed.host_vars.items():
        merged: dict[str, Any] = dict(parsed.group_vars.get("all", {}))
        for group in order:
            if name in groups[group]:
                merged.update(parsed.group_vars.get(group, {}))
        merged.update(own)
        inventory.hosts[name] = _host_from_ansible(name, merged, source)
    return inventory


def _members(parsed: _Parsed, group: str) -> list[str]:
    """The hosts of ``group`` and of its child groups, transitively (no cycles: see depths)."""
    found = list(parsed.groups.get(group, []))
    for child in parsed.children.get(group, []):
        found += _members(parsed, child)
    return found


MAX_RANGE = 10_000
_RANGE = re.compile(r"\[([^\]]*)\]")


def expand_hosts(pattern: str, where: str) -> list[str]:
    """Host names of an Ansible pattern: ``web[01:03].example.com`` (zero-padded), ``db-[a:c]``,
    ``[1:9:2]`` with a step; several ranges give every combination."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    values = _range_values(match[1], f"{where}: host range {shorten(pattern)}")
    names = [name for value in values for name in expand_hosts(head + value + tail, where)]
    if len(names) > MAX_RANGE:
        raise BadInput(f"{where}: host range {shorten(pattern)} gives more than {MAX_RANGE} hosts")
    return names


def _range_values(body: str, where: str) -> list[str]:
    """The values of one ``begin:end[:step]`` range, as Ansible expands them."""
    bounds = body.split(":")
    if len(bounds) not in (2, 3) or not bounds[1]:
        raise BadInput(f"{where}: a range is [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    step = bounds[2] if len(bounds) == 3 else "1"
    if not re.fullmatch(r"[0-9]{1,4}", step) or int(step) == 0:
        raise BadInput(f"{where}: the step is a positive number")
    letters = string.ascii_letters
    if len(begin) == len(end) == 1 and begin in letters and end in letters:
        if letters.index(begin) > letters.index(end):
            raise BadInput(f"{where}: the range begins after its end")
        return list(letters[letters.index(begin) : letters.index(end) + 1 : int(step)])
    if not (re.fullmatch(r"[0-9]{1,9}", begin) and re.fullmatch(r"[0-9]{1,9}", end)):
        raise BadInput(f"{where}: a range is of numbers or of single letters")
    width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
    if width and len(end) != width:
        raise BadInput(f"{where}: a zero-padded range has begin and end of equal length")
    count = (int(end) - int(begin)) // int(step) + 1
    if count > MAX_RANGE:
        raise BadInput(f"{where}: gives more than {MAX_RANGE} hosts")
    return [str(n).zfill(width) for n in range(int(begin), int(end) + 1, int(step))]


def split_host_port(pattern: str) -> tuple[str, int | None]:
    """``host:port`` (also ``[ipv6]:port``) as Ansible reads a host pattern; a colon inside a
    range or in a bare IPv6 address is not a port."""
    bracketed = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::([0-9]+))?", pattern)
    if bracketed and ":" in bracketed[1]:
        return bracketed[1], int(bracketed[2]) if bracketed[2] else None
    outside = _RANGE.sub("", pattern)
    if outside.count(":") == 1:
        host, _, port = pattern.rpartition(":")
        if re.fullmatch(r"[0-9]{1,5}", port):
            return host, int(port)
    return pattern, None


def _hosts_of(pattern: str, where: str) -> tuple[list[str], dict[str, Any]]:
    """The host names of a pattern and the variables its port sets."""
    host, port = split_host_port(pattern)
    if not host or (port is None and pattern.endswith(":")):
        raise BadInput(f"{where}: {shorten(pattern)} is not a host name (a colon is for a port)")
    return expand_hosts(host, where), ({} if port is None else {"ansible_port": port})


def literal(text: str) -> Any:
    """An INI value as Ansible reads it: a Python literal (42, True, [1, 2], 'x') when it is
    one, else the text itself; a literal that is no JSON value (a tuple, 1j) stays text."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text
    return value if _plain(value) else text


def _plain(value: Any) -> bool:
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return value is None or isinstance(value, str | int | float | bool)


_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


def parse_ansible_ini(text: str, source: str) -> Inventory:
    """Ansible's INI inventory: ``[group]``, ``[group:vars]`` and ``[group:children]``; host
    lines are split like a shell line (``motd="hello there"``) and their ranges expanded."""
    parsed = _Parsed()
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line, where = raw.strip(), f"{source}: line {number}"
        if not line or line.startswith(("#", ";")):
            continue
        header = _SECTION.match(line)
        if header:
            section, kind = header[1], header[2] or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise BadInput(f"{where}: unknown section kind {shorten(kind)}")
            parsed.groups.setdefault(section, [])
        elif line.startswith("["):
            closed = line.endswith("]")
            raise BadInput(f"{where}: {'not a section header ([group:kind])' if closed else 'unclosed section header'}")
        elif kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise BadInput(f"{where}: expected key=value")
            parsed.group_vars.setdefault(section, {})[key.strip()] = literal(value.strip())
        elif kind == "children":
            child = _GROUP_NAME.match(line)
            if child is None:
                raise BadInput(f"{where}: {shorten(line)} is not a group name")
            parsed.add_child(section, child[1])
        else:
            names, variables = _ini_host_line(line, where)
            parsed.add_hosts(section, names, variables)
    return _build(parsed, source)


def _ini_host_line(line: str, where: str) -> tuple[list[str], dict[str, Any]]:
    """A host line: a pattern, then ``key=value`` words (quotes and ``#`` comments as in a shell)."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as error:
        raise BadInput(f"{where}: {str(error).lower()}") from None
    if not words:
        return [], {}
    names, variables = _hosts_of(words[0], where)
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            raise BadInput(f"{where}: expected key=value, got {shorten(word)}")
        variables[key] = literal(value)
    return names, variables


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """A section of an Ansible YAML group: a mapping, or null for none, or one name as text."""
    if value is None:
        return {}
    if isinstance(value, str | int):
        return {str(value): None}
    if not isinstance(value, dict):
        raise BadInput(f"{where} must be a mapping (name: value), not {type(value).__name__} {shorten(value)}")
    return {str(key): item for key, item in value.items()}


def parse_ansible_yaml(data: dict[str, Any], source: str) -> Inventory:
    """Ansible's YAML inventory: nested groups with ``hosts``, ``vars`` and ``children``
    (each a mapping; a null is empty, host patterns are expanded)."""
    parsed = _Parsed()

    def walk(group: str, body: Any, path: frozenset[str]) -> None:
        where = f"{source}: group {shorten(group)}"
        if group in path:
            raise BadInput(f"{where} contains itself")
        if body is not None and not isinstance(body, dict):
            raise BadInput(f"{where} must be a mapping with hosts, vars or children, not {shorten(body)}")
        unknown = sorted(str(key) for key in (body or {}) if key not in ("hosts", "vars", "children"))
        if unknown:
            raise BadInput(f"{where}: unknown key {shorten(unknown[0])} (hosts, vars or children)")
        parsed.groups.setdefault(group, [])
        for pattern, values in _mapping((body or {}).get("hosts"), f"{where}: 'hosts'").items():
            host = f"{where}: host {shorten(pattern)}"
            if values is not None and not isinstance(values, dict):
                raise BadInput(f"{host}: its variables must be a mapping, not {shorten(values)}")
            names, port = _hosts_of(pattern, host)
            parsed.add_hosts(group, names, {**port, **_mapping(values, host)})
        parsed.group_vars.setdefault(group, {}).update(_mapping((body or {}).get("vars"), f"{where}: 'vars'"))
        for child, child_body in _mapping((body or {}).get("children"), f"{where}: 'children'").items():
            parsed.add_child(group, child)
            walk(child, child_body, path | {group})

    for group, body in data.items():
        walk(str(group), body, frozenset())
    return _build(parsed, source)


def parse_ansible_list(data: dict[str, Any], source: str) -> Inventory:
    """What `ansible-inventory -i SOURCE --list` prints (groups name their hosts and children
    in lists, ``_meta.hostvars`` holds each host's merged variables): FOSSP reads any
    inventory Ansible reads, dynamic ones included, through that JSON."""
    parsed = _Parsed()
    hostvars = _mapping(_mapping(data.get("_meta"), f"{source}: '_meta'").get("hostvars"), f"{source}: hostvars")
    for group, body in data.items():
        where = f"{source}: group {shorten(group)}"
        if group == "_meta":
            continue
        body = _mapping(body, where)
        parsed.add_hosts(str(group), _names(body.get("hosts"), f"{where}: 'hosts'"), {})
        for child in _names(body.get("children"), f"{where}: 'children'"):
            parsed.add_child(str(group), child)
        parsed.group_vars[str(group)] = _mapping(body.get("vars"), f"{where}: 'vars'")
    for name, values in hostvars.items():
        if values is not None and not isinstance(values, dict):
            raise BadInput(f"{source}: hostvars of {shorten(name)} must be a mapping, not {shorten(values)}")
        parsed.host_vars.setdefault(name, {}).update(values or {})
    return _build(parsed, source)


def _names(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadInput(f"{where} must be a list of names, not {shorten(value)}")
    return list(value)


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
    if "_meta" in data:
        return parse_ansible_list(data, str(path))
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
