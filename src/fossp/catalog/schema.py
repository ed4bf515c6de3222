"""Typed schema of the catalog's data files (roles, services, features, platform).

Every data file is validated by these models when it is loaded, so a role written as
YAML gets the same guarantees as code: unknown fields, wrong types and inconsistent
values are refused with the file, the field and the reason.
"""

from __future__ import annotations

import ipaddress
import re
import string
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from fossp.errors import shorten

ROLE_ID_PATTERN = r"^FOSSP-[A-Z0-9]{2}S[A-Z0-9]{2}$"
RoleId = Annotated[str, StringConstraints(pattern=ROLE_ID_PATTERN)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
SettingName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")]
#: A systemd unit; ``{setting}`` placeholders name an instance by a setting (``dirsrv@{instance_name}.service``).
UnitName = Annotated[str, StringConstraints(pattern=r"^(?:[A-Za-z0-9@._:-]|\{[a-z][a-z0-9_]*\})+$")]
PackageName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9+._-]*$")]
Port = Annotated[int, Field(ge=1, le=65535)]
#: Shorter secrets are guessed; a longer floor also keeps masking (fossp.secrets) from
#: hiding ordinary words in output.
MIN_SECRET_LENGTH = 8
#: A setting's value goes on one line of a config file: longer text is a mistake (a file
#: pasted whole), and the bound keeps every check and message small.
MAX_TEXT_LENGTH = 4096
MAX_LIST_LENGTH = 1024


class Strict(BaseModel):
    """Base for data-file models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Family(StrEnum):
    """OS families FOSSP deploys to."""

    FEDORA = "fedora"
    DEBIAN = "debian"


class CatalogStatus(StrEnum):
    """What the catalog offers: launched roles deploy by default, others are shown only."""

    LAUNCHED = "launched"
    PREVIEW = "preview"
    RETIRED = "retired"


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    SCTP = "sctp"


class PortRange(Strict):
    """A port, or a range ``port`` to ``to_port``; ``setting`` names the setting that moves
    its first port, ``to_port_setting`` the one that moves its last (else a moved range
    keeps its length)."""

    port: Port
    to_port: Port | None = Field(default=None, description="last port of a range (RTP media, bricks)")
    protocol: Protocol = Protocol.TCP
    setting: SettingName | None = None
    to_port_setting: SettingName | None = Field(
        default=None, description="the setting holding the range's last port (Asterisk's rtp_end)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> PortRange:
        if self.to_port is not None and self.to_port <= self.port:
            raise ValueError(f"to_port {self.to_port} must be above port {self.port}")
        if self.to_port_setting is not None and (self.to_port is None or self.setting is None):
            raise ValueError("to_port_setting needs a range (to_port) whose first port a setting moves")
        return self


class PortSpec(PortRange):
    """A port or a range the role listens on."""

    purpose: str
    expose: bool = Field(default=True, description="open it in the firewall")


class PortLabel(PortRange):
    """An SELinux port type the role's port (or range) must carry (semanage port -a -t TYPE)."""

    type: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+_t$")]


class FamilyPackages(Strict):
    """Packages of one OS family, or why that family has none."""

    packages: list[PackageName] = []
    available: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FamilyPackages:
        if self.available and not self.packages:
            raise ValueError("an available family must list its packages")
        if not self.available and not self.note:
            raise ValueError("an unavailable family needs a note saying why")
        return self


class Firewall(Strict):
    """firewalld service names; the role's exposed ports are opened as well."""

    services: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]] = []


class SELinux(Strict):
    booleans: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")], bool] = {}
    port_labels: list[PortLabel] = []
    roles_booleans: bool = Field(
        default=False,
        description="also set the booleans of every other role FOSSP deployed on the host, each recorded as that "
        "role's change (the platform, which turns SELinux on, where a role came while it was off)",
    )


class SettingType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    PORT = "port"
    PATH = "path"
    HOSTNAME = "hostname"
    IP = "ip"
    CIDR = "cidr"
    CHOICE = "choice"
    SECRET = "secret"
    LIST = "list"


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
#: A backup path goes into a Bacula file set between double quotes: no quote, backslash or control character.
_BACKUP_PATH = re.compile(r"^/[A-Za-z0-9._/+@:-]*$")


def single_line(text: str) -> bool:
    """True when ``text`` has no control characters or line breaks (safe in any config file)."""
    return not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


def placeholders(text: str) -> set[str]:
    """Names used as ``{name}`` in ``text`` (recipes' and probes' placeholders; ``{*name}``
    spreads a list over several command arguments)."""
    return {name.removeprefix("*") for _, name, _, _ in string.Formatter().parse(text) if name}


class Setting(Strict):
    """One typed, validated role setting with its default."""

    name: SettingName
    type: SettingType
    description: str
    default: Any = None
    required: bool = Field(
        default=False,
        description="no value is safe for every site (a subnet, a realm, an admin password), so there is no "
        "default: `fossp recommend --save` asks for it at a terminal and refuses to save a profile without it in a "
        "script, and a deploy refuses to run without it",
    )
    example: Any = Field(
        default=None, description="a value of the right form, shown when FOSSP asks for the setting; never used"
    )
    choices: list[str] | None = None
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    families: list[Family] | None = Field(
        default=None, description="the OS families whose recipe honours it (None: every family)"
    )
    generate: int | None = Field(
        default=None,
        ge=16,
        le=4096,
        description="a secret FOSSP makes (this many random bytes, as hex) when none is given, shared by the members",
    )
    generate_as: Literal["hex", "password"] = Field(
        default="hex",
        description="password: the random bytes as letters of both cases, digits, '-' and '_', with at least "
        "one upper case letter, one lower case letter and one digit (a service's complexity rule, Samba AD's)",
    )
    equals: Annotated[str, StringConstraints(pattern=r"^(cluster_size|[a-z][a-z0-9_]*_count)$")] | None = Field(
        default=None,
        description="multi-host roles: an integer that must equal the number of members (cluster_size) or of a "
        "part's hosts (PART_count), checked against the placement before any host is reached",
    )

    @property
    def counted_part(self) -> str | None:
        """The part whose hosts ``equals`` counts (None: every member, or no ``equals``)."""
        return self.equals.removesuffix("_count") if self.equals and self.equals != "cluster_size" else None

    @property
    def secret(self) -> bool:
        return self.type is SettingType.SECRET

    @model_validator(mode="after")
    def _consistent(self) -> Setting:
        if self.type is SettingType.CHOICE and not self.choices:
            raise ValueError("a choice setting needs choices")
        if self.type is not SettingType.CHOICE and self.choices:
            raise ValueError("only a choice setting takes choices")
        if self.required and self.default is not None:
            raise ValueError("a required setting has no default")
        if self.type is SettingType.SECRET and self.default is not None:
            raise ValueError("a secret setting must not have a default")
        if self.generate is not None and (self.type is not SettingType.SECRET or self.required):
            raise ValueError("only an optional secret setting can be generated")
        if self.generate_as != "hex" and self.generate is None:
            raise ValueError("generate_as needs generate")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(f"pattern {shorten(self.pattern)} is not a regular expression: {error}") from None
        if self.default is not None:
            self.check(self.default)
        if self.example is not None:
            if self.secret:
                raise ValueError("a secret setting has no example")
            self.check(self.example)
        return self

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to the setting's type, or raise ValueError saying why
        (a secret's value is never part of the reason)."""
        kind = self.type
        if kind is SettingType.BOOLEAN:
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {shorten(value)}")
            return value
        if kind in (SettingType.INTEGER, SettingType.PORT):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"expected an integer, got {shorten(value)}")
            low = 1 if kind is SettingType.PORT else self.minimum
            high = 65535 if kind is SettingType.PORT else self.maximum
            low = self.minimum if self.minimum is not None else low
            high = self.maximum if self.maximum is not None else high
            if low is not None and value < low:
                raise ValueError(f"{value} is below the minimum {low}")
            if high is not None and value > high:
                raise ValueError(f"{value} is above the maximum {high}")
            return value
        if kind is SettingType.LIST:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"expected a list of strings, got {shorten(value)}")
            if len(value) > MAX_LIST_LENGTH or any(len(item) > MAX_TEXT_LENGTH for item in value):
                raise ValueError(
                    f"a list setting takes at most {MAX_LIST_LENGTH} items of {MAX_TEXT_LENGTH} characters"
                )
            for item in value:
                self._check_pattern(item)
            return list(value)
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {self._shown(value)}")
        if len(value) > MAX_TEXT_LENGTH:
            raise ValueError(f"{len(value)} characters is more than the {MAX_TEXT_LENGTH} a setting takes")
        if not single_line(value):
            raise ValueError("control characters and line breaks are not allowed")
        if self.secret and len(value) < MIN_SECRET_LENGTH:
            raise ValueError(f"a secret needs at least {MIN_SECRET_LENGTH} characters")
        self._check_text(kind, value)
        self._check_pattern(value)
        return value

    def _check_text(self, kind: SettingType, value: str) -> None:
        if kind is SettingType.CHOICE and value not in (self.choices or []):
            raise ValueError(f"{shorten(value)} is not one of {', '.join(self.choices or [])}")
        if kind is SettingType.PATH and not value.startswith("/"):
            raise ValueError(f"{shorten(value)} is not an absolute path")
        if kind is SettingType.HOSTNAME and not _HOSTNAME.match(value):
            raise ValueError(f"{shorten(value)} is not a valid host name")
        if kind is SettingType.IP:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{shorten(value)} is not an IP address") from None
        if kind is SettingType.CIDR:
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError:
                raise ValueError(
                    f"{shorten(value)} is not a network in CIDR form (address/prefix, no host bits)"
                ) from None

    def _check_pattern(self, value: str) -> None:
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"{self._shown(value)} does not match {self.pattern}")

    def _shown(self, value: Any) -> str:
        """How an error message quotes a value: a secret setting never shows what it was given."""
        return "the secret" if self.secret else shorten(value)


class ProbeKind(StrEnum):
    """Protocol-level health probes; each connects and speaks the role's protocol."""

    TCP = "tcp"  # connect, optionally send ``send`` and expect ``expect`` in the reply
    HTTP = "http"  # GET ``path`` (HTTPS with ``tls``); expect the status ``status`` and ``expect`` in the body
    DNS = "dns"  # query ``query`` of ``record`` type (PTR: a name or an address); expect an answer holding ``expect``
    POSTGRESQL = "postgresql"  # connect and run ``query``; expect ``expect`` in the result
    MYSQL = "mysql"  # connect and run ``query``
    LDAP = "ldap"  # bind (anonymous or ``bind_dn``) and search the root DSE or ``base``; ``expect`` in the entries
    TFTP = "tftp"  # read request for ``path``; expect a DATA or ERROR packet
    DHCP = "dhcp"  # DHCPDISCOVER on the server's link; expect an OFFER (in ``expect``'s subnet or prefix)
    RTMP = "rtmp"  # the RTMP handshake: C0+C1, then S0+S1+S2, then C2
    KERBEROS = "kerberos"  # a TGT for ``principal``; with ``tls`` an AD DC's LDAP ticket and an LDAPS search
    STREAM = "stream"  # Icecast: a source PUTs to mount ``path`` while a listener GETs bytes from it
    SIP = "sip"  # an OPTIONS request over UDP; expect a final SIP/2.0 response (any status)
    KEYSTONE = "keystone"  # an OpenStack token from Keystone (``auth_port``), then GET ``path`` on ``port`` with it
    COMMAND = "command"  # run ``argv`` on the host; exit 0 and ``expect`` in its output


#: Probe fields that only some kinds read; elsewhere they would be silently ignored.
PROBE_FIELD_KINDS: dict[str, set[ProbeKind]] = {
    "tls": {ProbeKind.HTTP, ProbeKind.LDAP, ProbeKind.KERBEROS},
    "starttls": {ProbeKind.LDAP},
    "follow_redirects": {ProbeKind.HTTP},
    "bind_dn": {ProbeKind.LDAP},
    "base": {ProbeKind.LDAP},
    "filter": {ProbeKind.LDAP},
    "password_setting": {ProbeKind.LDAP, ProbeKind.STREAM, ProbeKind.KERBEROS, ProbeKind.KEYSTONE},
    "principal": {ProbeKind.KERBEROS},
    "auth_port": {ProbeKind.KEYSTONE},
    "from_part": {ProbeKind.COMMAND},
    "address_setting": {
        ProbeKind.TCP,
        ProbeKind.HTTP,
        ProbeKind.DNS,
        ProbeKind.TFTP,
        ProbeKind.LDAP,
        ProbeKind.DHCP,
        ProbeKind.RTMP,
        ProbeKind.STREAM,
        ProbeKind.SIP,
    },
}
#: The setting types an address_setting may name.
ADDRESS_SETTING_TYPES = ("ip", "hostname", "string")


class Probe(Strict):
    """What proves a role works, beyond 'the unit is active'."""

    name: Slug
    kind: ProbeKind
    description: str
    port: Port | None = None
    port_setting: SettingName | None = None
    protocol: Protocol = Protocol.TCP
    path: str | None = None
    query: str | None = None
    record: str | None = None
    send: str | None = None
    expect: str | None = None
    status: int | None = None
    argv: list[str] | None = None
    timeout: float = Field(default=5.0, gt=0, le=120)
    tls: bool = Field(default=False, description="HTTPS, or LDAPS")
    starttls: bool = Field(default=False, description="LDAP StartTLS on the plain port")
    ca: str | None = Field(
        default=None, description="CA certificate (PEM) file on the target host; else the system store"
    )
    server_name: str | None = Field(
        default=None, description="name for SNI and the certificate check (probes dial the address)"
    )
    follow_redirects: bool = False
    auth_port: Port | None = Field(default=None, description="keystone: Keystone's port on the host (else ``port``)")
    bind_dn: str | None = Field(default=None, description="LDAP simple bind as this DN (anonymous without it)")
    password_setting: SettingName | None = Field(default=None, description="the secret setting holding the password")
    principal: str | None = Field(default=None, description="Kerberos: the client principal, user@REALM")
    base: str | None = Field(default=None, description="LDAP: search this DN's subtree instead of the root DSE")
    filter: str | None = Field(default=None, description="LDAP search filter with base (default (objectClass=*))")
    parts: list[Slug] | None = Field(default=None, description="multi-host roles: probe only hosts of these parts")
    address_setting: SettingName | None = Field(
        default=None,
        description="network probes: dial the address this setting holds (a virtual address) instead of the "
        "host's; a multi-host role runs it once, on the first member of its parts",
    )
    from_part: Slug | None = Field(
        default=None,
        description="multi-host roles: a command probe run on a member of this part (not the host itself), "
        "which reaches the host as {target_address}",
    )
    scheduled: bool = Field(
        default=True,
        description="run by the host's health timer too (fossp health); false for a probe that does real work, "
        "such as a backup job or booting a guest, which only a deploy or `fossp status` runs",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Probe:
        if self.kind is ProbeKind.COMMAND:
            if not self.argv:
                raise ValueError("a command probe needs argv")
        elif self.port is None:
            raise ValueError(f"a {self.kind.value} probe needs a port")
        if self.kind is ProbeKind.DNS and not self.query:
            raise ValueError("a dns probe needs a query name")
        if self.kind in (ProbeKind.POSTGRESQL, ProbeKind.MYSQL) and not self.query:
            raise ValueError(f"a {self.kind.value} probe needs a query")
        self._check_fields()
        return self

    def _check_fields(self) -> None:
        for name, kinds in PROBE_FIELD_KINDS.items():
            if getattr(self, name) and self.kind not in kinds:
                raise ValueError(f"{name} applies only to {' and '.join(sorted(k.value for k in kinds))} probes")
        if self.tls and self.starttls:
            raise ValueError("tls and starttls exclude each other")
        if (self.ca or self.server_name) and not (self.tls or self.starttls):
            raise ValueError("ca and server_name need tls or starttls")
        if self.filter and not self.base:
            raise ValueError("filter needs base")
        if self.kind is ProbeKind.LDAP and bool(self.bind_dn) != bool(self.password_setting):
            raise ValueError("an ldap bind needs both bind_dn and password_setting")
        if self.kind is ProbeKind.KERBEROS and not (self.principal and self.password_setting):
            raise ValueError("a kerberos probe needs principal and password_setting")
        if self.kind is ProbeKind.STREAM and not self.password_setting:
            raise ValueError("a stream probe needs password_setting (the source password)")
        if self.kind is ProbeKind.KEYSTONE and not self.password_setting:
            raise ValueError("a keystone probe needs password_setting (the admin's password)")


#: Values every member of a multi-host role reads (fossp.engine.cluster), and per part PART_SUFFIX.
DERIVED_NAMES = (
    "host_name",
    "host_address",
    "host_part",
    "cluster_hosts",
    "cluster_addresses",
    "cluster_first",
    "cluster_first_address",
    "cluster_size",
    "target_address",
    "target_name",
)
DERIVED_PART_SUFFIXES = ("hosts", "addresses", "first", "first_address")


class Part(Strict):
    """A kind of member of a multi-host role (Slurm's controller and compute nodes, a
    Bacula director and its clients), with how many hosts it takes."""

    name: Slug
    description: str
    min_hosts: int = Field(default=1, ge=0)
    max_hosts: int | None = Field(default=None, ge=1)
    packages: dict[Family, list[PackageName]] = Field(default_factory=dict, description="besides the role's own")
    units: dict[Family, list[UnitName]] = Field(default_factory=dict, description="besides the role's own")


class Cluster(Strict):
    """A role deployed on several hosts that work together. Members are placed by the
    profile; the role's cluster steps run once, on the first member, after every member
    has its packages and files; a member may leave only if ``leave`` says how."""

    parts: list[Part] = Field(min_length=1)
    leave: str | None = Field(
        default=None, description="why one member may be decommissioned alone (None: only the whole cluster)"
    )

    @model_validator(mode="after")
    def _unique(self) -> Cluster:
        names = [part.name for part in self.parts]
        if len(set(names)) != len(names):
            raise ValueError("part names must be unique")
        return self

    def part(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)


class Relation(Strict):
    """A requires or conflicts link to another role, with the reason and a way out."""

    role: RoleId
    reason: str
    resolution: str | None = None


class Upstream(Strict):
    status: Literal["active", "maintenance", "dead"]
    homepage: str | None = None
    reason: str | None = None
    replacement: str | None = None
    replacement_role: RoleId | None = Field(default=None, description="the catalog role offered instead")

    @model_validator(mode="after")
    def _consistent(self) -> Upstream:
        if self.status == "dead" and not (self.reason and self.replacement):
            raise ValueError("a dead upstream needs a reason and a suggested replacement")
        return self


class Lifecycle(Strict):
    """The seed's lifecycle table: release, release date and end of fixes (None: not announced)."""

    release: Annotated[str, StringConstraints(pattern=r"^\d{2}-\d{6}$")]
    release_date: date
    support_end: date | None = None
    status: CatalogStatus = CatalogStatus.LAUNCHED

    @model_validator(mode="after")
    def _ordered(self) -> Lifecycle:
        if self.support_end is not None and self.support_end < self.release_date:
            raise ValueError("support_end is before release_date")
        return self


class Role(Strict):
    """One implementation of a server role (PostgreSQL for Database Services, ...)."""

    id: RoleId
    name: Slug
    service: Slug
    implementation: str
    code: Code
    description: str
    features: list[Slug] = Field(min_length=1)
    preference: int = Field(default=50, ge=0, le=100, description="higher is offered first")
    packages: dict[Family, FamilyPackages]
    units: dict[Family, list[UnitName]] = {}
    ports: list[PortSpec] = []
    firewall: Firewall = Firewall()
    selinux: SELinux = SELinux()
    settings: list[Setting] = []
    requires: list[Relation] = []
    conflicts: list[Relation] = []
    probes: list[Probe] = []
    backup_paths: dict[Family, list[str]] = {}
    backup_prepare: list[str] | None = Field(
        default=None,
        min_length=1,
        description="argv the file daemon runs on the host before a backup job, to make the data consistent "
        "on disk (BIND's rndc freeze); a database's dump comes from its recipe's data dump",
    )
    backup_finish: list[str] | None = Field(
        default=None, min_length=1, description="argv run after the job, success or not (rndc thaw)"
    )
    cluster: Cluster | None = None
    lifecycle: Lifecycle
    upstream: Upstream

    @field_validator("packages")
    @classmethod
    def _every_family(cls, packages: dict[Family, FamilyPackages]) -> dict[Family, FamilyPackages]:
        missing = sorted(set(Family) - set(packages))
        if missing:
            raise ValueError(f"packages must cover every family; missing {', '.join(missing)}")
        return packages

    @model_validator(mode="after")
    def _consistent(self) -> Role:
        names = [s.name for s in self.settings]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate settings: {', '.join(duplicates)}")
        self._check_setting_references(set(names))
        for family, paths in self.backup_paths.items():
            for path in paths:
                if not path.startswith("/"):
                    raise ValueError(f"backup path {path!r} for {family} is not absolute")
                if not _BACKUP_PATH.match(path):
                    raise ValueError(f"backup path {path!r} for {family} has a character Bacula's file set cannot hold")
        if self.id in (self.upstream.replacement_role, *(r.role for r in [*self.requires, *self.conflicts])):
            raise ValueError("a role cannot require, conflict with or replace itself")
        if self.probes == [] and self.lifecycle.status is CatalogStatus.LAUNCHED:
            raise ValueError("a launched role needs at least one health probe")
        self._check_parts()
        return self

    def _check_parts(self) -> None:
        known = {p.name for p in self.cluster.parts} if self.cluster else set()
        for index, probe in enumerate(self.probes):
            named = [*(probe.parts or []), *([probe.from_part] if probe.from_part else [])]
            unknown = sorted(set(named) - known)
            if unknown:
                raise ValueError(f"probes.{index} names part {unknown[0]!r}, which the role's cluster does not have")
        derived = set(DERIVED_NAMES) | {f"{p}_{suffix}" for p in known for suffix in DERIVED_PART_SUFFIXES}
        taken = sorted(derived & {s.name for s in self.settings})
        if taken:
            raise ValueError(f"setting {taken[0]!r}: the name is a derived value of multi-host roles' members")
        for setting in (s for s in self.settings if s.equals):
            part = setting.counted_part
            if self.cluster is None or setting.type is not SettingType.INTEGER or (part and part not in known):
                raise ValueError(
                    f"setting {setting.name!r}: equals {setting.equals} needs an integer setting of a multi-host "
                    "role, and a part it has"
                )

    def _check_setting_references(self, names: set[str]) -> None:
        ranges = [*self.ports, *self.selinux.port_labels]
        for where, setting_name in [
            *(("ports", p.setting) for p in self.ports),
            *(("ports", p.to_port_setting) for p in self.ports),
            *(("selinux.port_labels", p.setting) for p in self.selinux.port_labels),
            *(("selinux.port_labels", p.to_port_setting) for p in self.selinux.port_labels),
            *(("probes", p.port_setting) for p in self.probes),
        ]:
            if setting_name is not None and setting_name not in names:
                raise ValueError(f"{where} refers to unknown setting {setting_name!r}")
        for setting_ref in {n for p in ranges for n in (p.setting, p.to_port_setting) if n}:
            kind = next(s.type for s in self.settings if s.name == setting_ref)
            if kind is not SettingType.PORT:
                raise ValueError(f"setting {setting_ref!r} moves a port but is not of type port")
        for index, probe in enumerate(self.probes):
            self._check_probe_address(index, probe)
        secrets = {s.name for s in self.settings if s.secret}
        for index, probe in enumerate(self.probes):
            self._check_probe_secrets(index, probe, names, secrets)

    def _check_probe_address(self, index: int, probe: Probe) -> None:
        """A probe's address_setting names a setting that holds an address."""
        if probe.address_setting is None:
            return
        setting = self.setting(probe.address_setting)
        if setting is None:
            raise ValueError(f"probes.{index}.address_setting refers to unknown setting {probe.address_setting!r}")
        if setting.type.value not in ADDRESS_SETTING_TYPES:
            raise ValueError(
                f"probes.{index}.address_setting {probe.address_setting!r} is of type {setting.type.value}, "
                f"not an address ({', '.join(ADDRESS_SETTING_TYPES)})"
            )

    @staticmethod
    def _check_probe_secrets(index: int, probe: Probe, names: set[str], secrets: set[str]) -> None:
        """A probe names a secret only by password_setting: its texts are shown, its password never."""
        texts = [probe.send, probe.expect, probe.path, probe.query, probe.record, *(probe.argv or [])]
        texts += [probe.ca, probe.server_name, probe.bind_dn, probe.principal, probe.base, probe.filter]
        used = sorted(secrets & set().union(*(placeholders(t) for t in texts if t)))
        if used:
            raise ValueError(f"probes.{index} uses secret setting {used[0]!r}: probe output and commands are shown")
        if probe.password_setting is not None and probe.password_setting not in secrets:
            known = "not a secret setting" if probe.password_setting in names else "an unknown setting"
            raise ValueError(f"probes.{index}.password_setting {probe.password_setting!r} is {known}")

    @property
    def title(self) -> str:
        return f"{self.implementation} ({self.id})"

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    def available_on(self, family: Family) -> bool:
        return self.packages[family].available

    def packages_for(self, family: Family, part: str | None = None) -> list[str]:
        """The family's packages, with those of the host's cluster ``part``."""
        extra = self.cluster.part(part) if self.cluster and part else None
        return [*self.packages[family].packages, *(extra.packages.get(family, []) if extra else [])]

    def units_for(self, family: Family | None, settings: dict[str, Any], part: str | None = None) -> list[str]:
        """The family's units (every family's when None) with ``{setting}`` placeholders
        filled, as an instance named by a setting (``dirsrv@{instance_name}.service``);
        with a cluster ``part``, that part's units too (every part's when None)."""
        families = [family] if family is not None else list(Family)
        parts = self.cluster.parts if self.cluster else []
        tables = [self.units, *(p.units for p in parts if part is None or p.name == part)]
        names = [unit for table in tables for f in families for unit in table.get(f, [])]
        return sorted({unit.format_map({k: str(v) for k, v in settings.items()}) for unit in names})


class Service(Strict):
    """A server role in the seed's sense (Database Services), grouping implementations."""

    key: Slug
    name: str
    code: Code
    description: str


class Feature(Strict):
    """A feature roles provide; the words that ask for it are in ``vocabulary.yaml``."""

    key: Slug
    description: str
    implies: list[Slug] = []


class PlatformCheckKind(StrEnum):
    KERNEL = "kernel"
    PID1 = "pid1"
    SELINUX = "selinux"
    ROOT_FS = "root_fs"
    COMMAND = "command"


class PlatformComponent(Strict):
    """One of the seed's fifteen platform components and how to check it on a host."""

    key: Slug
    name: str
    purpose: str
    check: PlatformCheckKind
    commands: list[str] = []
    expect: str | None = None
    packages: dict[Family, list[PackageName]] = {}
    missing: Literal["fail", "warn"] = "fail"
    in_container: str | None = Field(default=None, description="why a container (a namespace host) cannot have it")
    subvolumes: list[Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/-]+$")]] = Field(
        default_factory=list,
        description="root_fs: folders that must be apart from the root's snapshots (a subvolume or a file system "
        "of their own), so a rollback keeps their data",
    )
    not_on: dict[Family, str] = Field(default_factory=dict, description="families that do without it, and why")
