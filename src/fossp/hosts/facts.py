"""Facts: everything a plan needs about a host, gathered in ONE round trip.

A fixed shell script (no user value is ever pasted into it) prints every fact in a
section behind a ``@@fossp:NAME@@`` marker; values it needs -- the offline root folder,
the units and the config file paths the chosen roles care about -- arrive as positional
arguments. Every process the script starts costs the host about a millisecond, so facts
of one kind come from one process: the small text files (hostname, os-release, FOSSP's
lock and records, /proc/net) from one ``tail``, the wanted units' enablement and activity
from one ``systemctl show`` (``list-units`` when none is named), the watched paths from
one ``find`` and the files' bytes from one ``cat | base64``. Listeners are named by their
holder (socket inode -> pid -> cgroup unit, one find and one awk), so the planner tells a
port the role's own service holds from one other software took; SELinux port labels are
the full ``semanage port -l`` (the policy's) with the local ones (``-C``) marked.
Each section has a pure parser, so parsers are tested with recorded output (including
recorded Fedora hosts) and the host is only ever read, never changed.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import time
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from fossp.catalog.schema import Family
from fossp.hosts.connector import Connector, HostError

FACTS_SCRIPT = r"""
R="$1"; U="$2"; K="$3"; T="$4"; shift 4
m() { printf '\n@@fossp:%s@@\n' "$1"; }
m tools
for t in dnf apt-get rpm dpkg-query systemctl firewall-cmd getenforce semanage runuser; do command -v "$t"; done
m packages
if [ -d "$R/var/lib/dpkg/info" ] && command -v dpkg-query >/dev/null; then
  dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' 2>/dev/null
elif command -v rpm >/dev/null; then
  rpm --root "${R:-/}" -qa --qf 'ii  %{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\n' 2>/dev/null
fi
# the small text facts in one process: tail names each file it read (==> PATH <==)
live=; [ -n "$R" ] || live="/proc/sys/kernel/hostname /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6"
m texts; tail -n +1 -v -- $live "$R/etc/os-release" "$R/usr/lib/os-release" "$R/run/fossp/lock/owner" \
  "$R/var/lib/fossp/state.json" "$R/var/lib/fossp/upgrade.json" 2>/dev/null
if [ -n "$R" ]; then
  m unit_files; for u in $U; do printf '%s %s\n' "$u" "$(systemctl --root="$R" is-enabled "$u" 2>/dev/null)"; done
elif [ -n "$U" ]; then
  m unit_show; systemctl show --property=Names,LoadState,UnitFileState,ActiveState -- $U 2>/dev/null
else
  m units; systemctl list-units --type=service,socket,target --all --no-legend --no-pager --plain 2>/dev/null
fi
if [ -z "$R" ]; then
  m firewalld; if command -v firewall-cmd >/dev/null && firewall-cmd --state >/dev/null 2>&1; then
    echo running; echo "services $(firewall-cmd --list-services)"; echo "ports $(firewall-cmd --list-ports)"; fi
  m selinux; if command -v getenforce >/dev/null; then getenforce; else echo Disabled; fi
  m sebool; command -v getsebool >/dev/null && getsebool -a 2>/dev/null
  m sockets; s=$(find /proc/[0-9]*/fd -lname 'socket:*' -printf '%h %l\n' 2>/dev/null |
    awk 'FILENAME ~ /^\/proc\/net/ { if ($4 == "0A" || $4 == "07") held["socket:[" $10 "]"] = 1; next }
      $2 in held { split($1, p, "/"); print substr($2, 9, length($2) - 9), p[3] }' \
      /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 - 2>/dev/null |
    while read -r i p; do
      c=; g=; read -r c 2>/dev/null < "/proc/$p/comm"
      while read -r l; do case "$l" in 0::*|*:name=systemd:*) g="${l##*:}";; esac; done 2>/dev/null < "/proc/$p/cgroup"
      echo "$i $p ${g:--} $c"
    done); [ -z "$s" ] || printf '%s\n' "$s"
  # socket units name only listeners systemd itself (pid 1) holds: asked for only then
  m socket_units; case "
$s" in *"
"[0-9]*" 1 "*) systemctl list-sockets --all --full --show-types --no-legend --no-pager 2>/dev/null;; esac
  m seports; command -v semanage >/dev/null && semanage port -l -n 2>/dev/null
  m seports_local; command -v semanage >/dev/null && semanage port -l -n -C 2>/dev/null
  m package_managers; for p in /proc/[0-9]*; do
    read -r c < "$p/comm" 2>/dev/null || continue
    case "$c" in apt|apt-get|aptitude|dpkg|dnf|dnf-3|dnf5|yum|rpm|unattended-upgr)
      echo "${p#/proc/} $c";; esac
  done
fi
m dpkg_journal; for f in "$R"/var/lib/dpkg/updates/*; do [ -e "$f" ] && { echo interrupted; break; }; done
m rootfs; stat -f -c %T "$R/"
# K commands given to run ahead (COUNT WORD..., K times: on-host probes), each run with
# its words as argv (never a shell string), within T seconds, stdin closed; printed as
# base64 of stdout with "@STATUS" after it, then base64 of stderr
ran() {
  c=$1; shift; n=$#; i=0
  for w; do i=$((i + 1)); [ "$i" -gt "$c" ] || set -- "$@" "$w"; done; shift "$n"
  { e=$( { o=$(timeout "$T" "$@" </dev/null; printf '@%s' "$?"); printf '%s' "$o" | base64 -w0 >&4; } 2>&1 )
    echo; printf '%s' "$e" | base64 -w0; } 4>&1
}
j=0; while [ "$j" -lt "$K" ]; do m ran; ran "$@"; shift $(($1 + 1)); j=$((j + 1)); done
# the watched paths (globs) that exist: one find for what they are, then the regular
# files' bytes in that order, which the sizes find printed cut apart
IFS='
'
n=$#
for pattern; do for f in $R$pattern; do if [ -e "$f" ] || [ -L "$f" ]; then set -- "$@" "$f"; fi; done; done
shift $n
if [ $# -gt 0 ]; then
  m found; find "$@" -maxdepth 0 -printf '%y %m %u %g %i %s %p\t%l\n' 2>/dev/null
  n=$#; for f; do if [ -f "$f" ] && [ ! -L "$f" ]; then set -- "$@" "$f"; fi; done; shift $n
  m contents; [ $# -eq 0 ] || cat -- "$@" | base64 -w0
fi
m end
"""

_MARKER = re.compile(r"^@@fossp:([a-z_]+)@@$", re.MULTILINE)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class OsRelease(Frozen):
    id: str = "unknown"
    version_id: str = ""
    id_like: list[str] = []
    pretty_name: str = ""
    family: Family | None = None
    #: FOSSP's keys (fossp.platform.osrelease): empty on a host FOSSP has not deployed to.
    variant_id: str = ""
    support_end: str = ""
    fossp_release: str = ""
    fossp_release_level: str = ""
    fossp_roles: list[str] = []

    def fossp(self) -> dict[str, object]:
        """FOSSP's keys as a report shows them (empty when the host carries none)."""
        if self.variant_id != "fossp-server":
            return {}
        return {
            "release": self.fossp_release,
            "level": self.fossp_release_level,
            "roles": self.fossp_roles,
            "support_end": self.support_end or None,
        }


class UnitState(Frozen):
    enabled: str | None = None  # enabled, disabled, static, masked, ... (None: no unit file)
    active: str | None = None  # active, inactive, failed, activating, ...


class Listener(Frozen):
    """A listening socket and, where the facts know, who holds it: its process and the
    systemd unit it runs in (for a socket systemd itself holds, the socket unit)."""

    protocol: Literal["tcp", "udp"]
    address: str
    port: int
    inode: int = 0
    pid: int | None = None
    process: str | None = None
    unit: str | None = None


class FirewallState(Frozen):
    running: bool = False
    services: list[str] = []
    ports: list[str] = []  # "8080/tcp"


class PortRecord(Frozen):
    """One entry of ``semanage port -l``: TYPE labels PROTOCOL ports LOW to HIGH."""

    type: str
    protocol: str
    low: int
    high: int
    local: bool = False  # a local customization (semanage port -a or -m): it overrides the policy


class SELinuxState(Frozen):
    mode: Literal["enforcing", "permissive", "disabled"] = "disabled"
    booleans: dict[str, bool] = {}
    #: Every port label, the policy's and the local ones (the full ``semanage port -l``).
    port_labels: list[PortRecord] = []

    def record(self, protocol: str, port: int, high: int | None = None) -> PortRecord | None:
        """The entry for exactly this one port (or range ``port``-``high``): ``semanage port
        -a`` fails where it exists."""
        last = port if high is None else high
        exact = [r for r in self.port_labels if r.protocol == protocol and (r.low, r.high) == (port, last)]
        return min(exact, key=lambda r: not r.local, default=None)

    def label(self, protocol: str, port: int, high: int | None = None) -> PortRecord | None:
        """The entry that labels the port (or the whole range ``port``-``high``): the
        narrowest range holding it, a local one first."""
        last = port if high is None else high
        holding = [r for r in self.port_labels if r.protocol == protocol and r.low <= port and last <= r.high]
        return min(holding, key=lambda r: (r.high - r.low, not r.local), default=None)


class FileFact(Frozen):
    path: str
    kind: Literal["file", "link", "dir"]
    mode: str = ""
    owner: str = ""
    group: str = ""
    link_target: str | None = None
    content: bytes | None = None
    inode: int | None = None  # folders only: 256 is the root of a BTRFS subvolume

    @property
    def subvolume(self) -> bool:
        return self.kind == "dir" and self.inode == 256


class Ran(Frozen):
    """A command the facts round trip ran ahead, and what it did."""

    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str


class Facts(Frozen):
    """A host's facts; read-only, typed, and all gathered in one command."""

    host: str
    hostname: str = ""
    offline_root: str | None = None
    os: OsRelease = OsRelease()
    tools: list[str] = []
    package_manager: Literal["dnf", "apt"] | None = None
    packages: dict[str, str] = {}
    units: dict[str, UnitState] = {}
    listening: list[Listener] = []
    firewall: FirewallState = FirewallState()
    selinux: SELinuxState = SELinuxState()
    root_fs: str = ""
    #: Package managers running now (pid, name): FOSSP never starts a second one beside them.
    package_managers: list[tuple[int, str]] = []
    #: dpkg stopped midway (its journal is not empty, or packages are half installed).
    dpkg_interrupted: bool = False
    lock_owner: str | None = None
    state_json: str | None = None
    upgrade_json: str | None = None  # the last `fossp upgrade run`'s record
    files: dict[str, FileFact] = {}
    #: The commands asked to run ahead (``gather_facts(commands=...)``), in that order.
    ran: list[Ran] = []
    seconds: float = 0.0

    @property
    def family(self) -> Family | None:
        return self.os.family

    @property
    def offline(self) -> bool:
        """An offline root (a folder being built): no service runs, none is started."""
        return self.offline_root is not None

    @property
    def root_prefix(self) -> str:
        """What commands put before a path of the host: the root folder when they run
        outside it (``dnf --installroot``), nothing inside a chroot (offline root ``/``)."""
        return "" if self.offline_root in (None, "/") else str(self.offline_root)

    def on_host(self, path: str) -> str:
        """A path as commands name it."""
        return f"{self.root_prefix}{path}"

    def listens(self, protocol: str, port: int) -> bool:
        return any(item.protocol == protocol and item.port == port for item in self.listening)


def split_sections(output: str) -> dict[str, list[str]]:
    """Section name -> the texts behind each of its markers (``file`` repeats)."""
    parts = _MARKER.split(output)
    sections: dict[str, list[str]] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        sections.setdefault(name, []).append(body.strip("\n"))
    return sections


def parse_os_release(text: str) -> OsRelease:
    """os-release(5): KEY=value lines, values optionally quoted; family from ID and ID_LIKE."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("'\"")
    os_id = values.get("ID", "unknown")
    like = values.get("ID_LIKE", "").split()
    return OsRelease(
        id=os_id,
        version_id=values.get("VERSION_ID", ""),
        id_like=like,
        pretty_name=values.get("PRETTY_NAME", ""),
        family=family_of(os_id, like),
        variant_id=values.get("VARIANT_ID", ""),
        support_end=values.get("SUPPORT_END", ""),
        fossp_release=values.get("FOSSP_RELEASE", ""),
        fossp_release_level=values.get("FOSSP_RELEASE_LEVEL", ""),
        fossp_roles=values.get("FOSSP_ROLES", "").split(),
    )


def family_of(os_id: str, like: Iterable[str]) -> Family | None:
    """Fedora, RHEL, CentOS, Alma, Rocky -> fedora; Debian, Ubuntu -> debian."""
    names = {os_id, *like}
    if names & {"fedora", "rhel", "centos"}:
        return Family.FEDORA
    if names & {"debian", "ubuntu"}:
        return Family.DEBIAN
    return None


def parse_packages(text: str) -> dict[str, str]:
    """``ii NAME VERSION`` lines (dpkg status abbreviation or rpm); only installed ones."""
    packages: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == "ii":
            version = fields[2].removeprefix("0:") if fields[2].startswith("0:") else fields[2]
            packages[fields[1]] = version
    return packages


def parse_unsettled(text: str) -> list[str]:
    """Packages dpkg left half installed or half configured (``iU``, ``iF``, ``iH`` ...)."""
    settled = {"ii", "rc", "un", "pn", "hi"}
    return [f[1] for f in (line.split() for line in text.splitlines()) if len(f) >= 2 and f[0][:2] not in settled]


def parse_package_managers(text: str) -> list[tuple[int, str]]:
    """``PID NAME`` lines of running package managers."""
    found = []
    for line in text.splitlines():
        pid, _, name = line.partition(" ")
        if pid.isdigit() and name:
            found.append((int(pid), name.strip()))
    return found


def parse_units(unit_files: str, units: str) -> dict[str, UnitState]:
    """Join ``NAME STATE`` enablement lines with ``list-units`` (activity)."""
    enabled: dict[str, str] = {}
    for line in unit_files.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            enabled[fields[0]] = fields[1]
    active: dict[str, str] = {}
    for line in units.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            active[fields[0]] = fields[2]
    return {name: UnitState(enabled=enabled.get(name), active=active.get(name)) for name in sorted({*enabled, *active})}


def parse_unit_show(text: str) -> dict[str, UnitState]:
    """``systemctl show`` blocks (``KEY=value`` lines, a blank line between units), under
    each of a unit's names (an alias asked for is the unit it names); a unit systemd
    does not know is left out, as ``list-units`` leaves it out."""
    states: dict[str, UnitState] = {}
    for block in text.split("\n\n"):
        values = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
        if values.get("LoadState", "not-found") == "not-found":
            continue
        state = UnitState(enabled=values.get("UnitFileState") or None, active=values.get("ActiveState") or None)
        states.update({name: state for name in values.get("Names", "").split()})
    return states


def _hex_address(text: str) -> str:
    """/proc/net addresses are host-order hex words: 0100007F is 127.0.0.1."""
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


def parse_proc_net(text: str, protocol: Literal["tcp", "udp"]) -> list[Listener]:
    """Listening TCP sockets (state 0A) and bound UDP sockets (state 07) from /proc/net."""
    wanted = "0A" if protocol == "tcp" else "07"
    found: dict[tuple[str, int], Listener] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] == "sl" or fields[3] != wanted:
            continue
        address, _, port = fields[1].partition(":")
        inode = int(fields[9]) if len(fields) > 9 and fields[9].isdigit() else 0
        item = Listener(protocol=protocol, address=_hex_address(address), port=int(port, 16), inode=inode)
        found.setdefault((item.address, item.port), item)
    return sorted(found.values(), key=lambda item: (item.protocol, item.port, item.address))


def parse_holders(sockets: str, socket_units: str, listeners: list[Listener]) -> list[Listener]:
    """Name who holds each listener: ``INODE PID CGROUP COMM`` lines (from /proc/PID/fd and
    /proc/PID/cgroup) and, for sockets systemd holds itself, ``systemctl list-sockets``."""
    holders: dict[int, tuple[int, str, str]] = {}
    for line in sockets.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) == 4 and fields[0].isdigit() and fields[1].isdigit():
            inode, pid = int(fields[0]), int(fields[1])
            if inode not in holders or holders[inode][0] == 1:  # the service before systemd passing it on
                holders[inode] = (pid, fields[2], fields[3])
    by_port = _socket_units(socket_units)
    named = []
    for item in listeners:
        if item.inode not in holders:
            named.append(item)
            continue
        pid, cgroup, process = holders[item.inode]
        unit = by_port.get((item.protocol, item.port)) if pid == 1 else None
        named.append(item.model_copy(update={"pid": pid, "process": process, "unit": unit or _unit_of(cgroup)}))
    return named


def _unit_of(cgroup: str) -> str | None:
    """The systemd unit of a cgroup path (``/system.slice/nginx.service`` -> nginx.service)."""
    units = [part for part in cgroup.split("/") if part.endswith((".service", ".scope", ".socket"))]
    return units[-1] if units else None


_SOCKET_LINE = re.compile(r"^\S*:(\d+)\s+(Stream|Datagram)\s+(\S+\.socket)\b")


def _socket_units(text: str) -> dict[tuple[str, int], str]:
    """(protocol, port) -> the socket unit listening there, from ``list-sockets --show-types``."""
    found: dict[tuple[str, int], str] = {}
    for line in text.splitlines():
        match = _SOCKET_LINE.match(line.strip())
        if match:
            protocol = "tcp" if match[2] == "Stream" else "udp"
            found.setdefault((protocol, int(match[1])), match[3])
    return found


def parse_firewalld(text: str) -> FirewallState:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "running":
        return FirewallState()
    values = {key: rest.split() for key, _, rest in (line.partition(" ") for line in lines[1:])}
    return FirewallState(running=True, services=values.get("services", []), ports=values.get("ports", []))


def parse_selinux(mode: str, booleans: str, ports: str, local_ports: str = "") -> SELinuxState:
    """``getenforce``, ``getsebool -a`` (``name --> on``), ``semanage port -l`` (every label)
    and ``semanage port -l -C`` (the local ones, which override the policy's)."""
    normal = mode.strip().lower()
    if normal not in ("enforcing", "permissive"):
        return SELinuxState()
    flags: dict[str, bool] = {}
    for line in booleans.splitlines():
        name, sep, value = line.partition(" --> ")
        if sep:
            flags[name.strip()] = value.strip() == "on"
    local = set(_port_records(local_ports))
    records = [r.model_copy(update={"local": True}) if r in local else r for r in _port_records(ports)]
    records += [r.model_copy(update={"local": True}) for r in local - set(_port_records(ports))]
    return SELinuxState(mode=normal, booleans=flags, port_labels=records)


def _port_records(text: str) -> list[PortRecord]:
    """``TYPE PROTO 80, 443, 8000-8010`` lines -> one record per port or range."""
    records: list[PortRecord] = []
    for line in text.splitlines():
        fields = line.replace(",", " ").split()
        if len(fields) < 3 or not fields[0].endswith("_t"):
            continue
        for item in fields[2:]:
            low, _, high = item.partition("-")
            if low.isdigit() and (high or low).isdigit():
                records.append(PortRecord(type=fields[0], protocol=fields[1], low=int(low), high=int(high or low)))
    return records


class FilesChanged(HostError):
    """A watched file changed size between the listing and the read: read again."""


def parse_found(found: str, contents: str, root: str | None = None) -> dict[str, FileFact]:
    """``find -printf '%y %m %u %g %i %s PATH<TAB>TARGET'`` lines, and the regular files'
    bytes in the same order (base64), cut apart by the sizes the listing gave."""
    data = base64.b64decode(contents.strip()) if contents.strip() else b""
    files: dict[str, FileFact] = {}
    offset = 0
    for line in found.splitlines():
        head, _, target = line.partition("\t")
        fields = head.split(" ", 6)
        if len(fields) != 7 or fields[0] not in ("f", "d", "l"):
            continue
        kind, mode, owner, group, inode, size, path = fields
        path = _unrooted(path, root)
        if kind == "l":
            files[path] = FileFact(path=path, kind="link", link_target=target)
            continue
        content = None
        if kind == "f":
            content, offset = data[offset : offset + int(size)], offset + int(size)
        files[path] = FileFact(
            path=path,
            kind="file" if kind == "f" else "dir",
            mode=mode,
            owner=owner,
            group=group,
            content=content,
            inode=int(inode) if kind == "d" else None,
        )
    if offset != len(data):
        raise FilesChanged(f"watched files changed while they were read ({offset} of {len(data)} bytes placed)")
    return files


def _unrooted(path: str, root: str | None) -> str:
    """A path as the host's own root names it: the script puts the offline root's folder
    (``/`` in a chroot) before every path it reads."""
    return path[len(root) :] if root and path.startswith(root) else path


#: Which fact each small file read by ``tail -v`` gives, by its path on the host.
_TEXTS = {
    "/proc/sys/kernel/hostname": "hostname",
    "/usr/lib/os-release": "os",
    "/etc/os-release": "os",  # after the vendor file, so the one in /etc wins where both are
    "/run/fossp/lock/owner": "lock",
    "/var/lib/fossp/state.json": "state",
    "/var/lib/fossp/upgrade.json": "upgrade",
    "/proc/net/tcp": "tcp",
    "/proc/net/tcp6": "tcp",
    "/proc/net/udp": "udp",
    "/proc/net/udp6": "udp",
}
_TAIL_HEADER = re.compile(r"^==> (.+) <==$", re.MULTILINE)


def parse_texts(text: str, root: str | None = None) -> dict[str, str]:
    """``tail -n +1 -v`` of several files -> fact name -> text (IPv4 and IPv6 joined)."""
    parts = _TAIL_HEADER.split(text)
    found: dict[str, list[tuple[str, str]]] = {}
    for path, body in zip(parts[1::2], parts[2::2], strict=True):
        name = _TEXTS.get(_unrooted(path, root))
        if name:
            found.setdefault(name, []).append((_unrooted(path, root), body.strip("\n")))
    texts = {name: "\n".join(body for _, body in bodies) for name, bodies in found.items()}
    if "os" in found:  # one os-release: /etc's where it is, else the vendor's
        texts["os"] = dict(found["os"]).get("/etc/os-release", found["os"][0][1])
    return texts


def parse_ran(bodies: list[str], commands: Sequence[Sequence[str]]) -> list[Ran]:
    """Each ``ran`` section: base64 of stdout with ``@STATUS`` after it, a line of base64 of
    stderr; paired with the commands asked for, in order."""
    ran = []
    for argv, body in zip(commands, bodies, strict=False):
        out, _, err = body.partition("\n")
        stdout, _, status = base64.b64decode(out.strip()).decode(errors="replace").rpartition("@")
        stderr = base64.b64decode(err.strip()).decode(errors="replace")
        ran.append(
            Ran(argv=tuple(argv), exit_status=int(status) if status.isdigit() else 255, stdout=stdout, stderr=stderr)
        )
    return ran


def parse_facts(
    host: str, output: str, offline_root: str | None = None, commands: Sequence[Sequence[str]] = ()
) -> Facts:
    """Turn the script's whole output into typed facts (pure: tests feed recorded output)."""
    sections = split_sections(output)

    def one(name: str) -> str:
        return sections.get(name, [""])[0]

    if "end" not in sections:
        raise HostError(f"{host}: facts were cut short (no end marker); output: {output[-500:]!r}")
    texts = parse_texts(one("texts"), offline_root)
    os_release = parse_os_release(texts.get("os", ""))
    return Facts(
        host=host,
        hostname="offline" if offline_root else texts.get("hostname", "").strip(),
        offline_root=offline_root,
        os=os_release,
        tools=one("tools").split(),
        package_manager=_package_manager(os_release.family),
        packages=parse_packages(one("packages")),
        units=parse_units(one("unit_files"), one("units")) | parse_unit_show(one("unit_show")),
        listening=parse_holders(
            one("sockets"),
            one("socket_units"),
            parse_proc_net(texts.get("tcp", ""), "tcp") + parse_proc_net(texts.get("udp", ""), "udp"),
        ),
        firewall=parse_firewalld(one("firewalld")),
        selinux=parse_selinux(one("selinux"), one("sebool"), one("seports"), one("seports_local")),
        root_fs=one("rootfs").strip(),
        package_managers=parse_package_managers(one("package_managers")),
        dpkg_interrupted=bool(one("dpkg_journal").strip() or parse_unsettled(one("packages"))),
        lock_owner=texts.get("lock", "").strip() or None,
        state_json=texts.get("state", "").strip() or None,
        upgrade_json=texts.get("upgrade", "").strip() or None,
        files=parse_found(one("found"), one("contents"), offline_root),
        ran=parse_ran(sections.get("ran", []), commands),
    )


def _package_manager(family: Family | None) -> Literal["dnf", "apt"] | None:
    if family is Family.FEDORA:
        return "dnf"
    if family is Family.DEBIAN:
        return "apt"
    return None


def answering(connector: Connector, facts: Facts) -> Connector:
    """``connector``, answering the commands the facts round trip ran ahead from their results."""
    from fossp.hosts.connector import Answering, Result

    answers = [Result(r.argv, r.exit_status, r.stdout, r.stderr) for r in facts.ran]
    return Answering(connector, answers) if answers else connector


#: The bound of each command run ahead in the facts round trip (a probe's query): a slower
#: one fails there and runs again on its own, as the probe retries.
AHEAD_SECONDS = 10


async def gather_facts(
    connector: Connector, paths: Iterable[str] = (), units: Iterable[str] = (), commands: Sequence[list[str]] = ()
) -> Facts:
    """Run the facts script once on the host; ``paths`` may hold shell globs (``*``);
    ``commands`` (argv lists) run in the same round trip, their results in ``Facts.ran``.
    A watched file that changes while it is read makes one more round trip."""
    started = time.perf_counter()
    ahead = [word for argv in commands for word in (str(len(argv)), *argv)]
    argv = ["sh", "-s", "--", connector.root or "", " ".join(units), str(len(commands)), str(AHEAD_SECONDS)]
    argv += [*ahead, *paths]
    bound = connector.timeouts.facts + AHEAD_SECONDS * len(commands)
    for attempt in (1, 2):
        result = await connector.run(argv, stdin=FACTS_SCRIPT.encode(), timeout=bound)
        try:
            facts = parse_facts(connector.name, result.stdout, connector.root, commands)
            break
        except FilesChanged as error:
            if attempt == 2:
                raise HostError(f"{connector.name}: {error.message}") from None
    return facts.model_copy(update={"seconds": time.perf_counter() - started})
