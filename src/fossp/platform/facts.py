"""Platform facts: one read-only shell script, one round trip, and a pure parser.

The script is built only from the catalog's platform definition (no user values) and
prints sections delimited by marker lines; ``parse_facts`` turns that text into typed
facts. Running the script locally or over SSH gives the same facts.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field

from fossp.catalog.schema import Family, PlatformComponent

MARK = "@@fossp:"
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/systemd:/lib/systemd"


@dataclass(frozen=True)
class PlatformFacts:
    kernel: str
    pid1: str
    selinux: str  # enforcing, permissive or disabled
    root_fs: str
    os_id: str
    os_like: tuple[str, ...]
    commands: dict[str, str] = field(default_factory=dict)  # name -> path (found ones only)
    container: bool = False  # a namespace host: the kernel and its boot are its host's
    apart: tuple[str, ...] = ()  # folders on another device than / (a subvolume or a mount): not in its snapshots

    @property
    def family(self) -> Family | None:
        ids = {self.os_id, *self.os_like}
        if ids & {"fedora", "rhel", "centos", "rocky", "almalinux"}:
            return Family.FEDORA
        if ids & {"debian", "ubuntu"}:
            return Family.DEBIAN
        return None


def gather_script(components: list[PlatformComponent]) -> str:
    """The read-only script that prints every fact the checks need."""
    names = sorted({name for c in components for name in c.commands})
    folders = sorted({path for c in components for path in c.subvolumes})
    lines = [
        f"PATH={SEARCH_PATH}",
        f"echo '{MARK}kernel'; uname -r",
        f"echo '{MARK}pid1'; cat /proc/1/comm 2>/dev/null",
        f"echo '{MARK}selinux'",
        "if [ -r /sys/fs/selinux/enforce ]; then cat /sys/fs/selinux/enforce; else echo disabled; fi",
        f"echo '{MARK}root_fs'; stat -f -c %T / 2>/dev/null",
        f"echo '{MARK}os_release'; cat /etc/os-release 2>/dev/null",
        f"echo '{MARK}container'; [ -e /run/systemd/container ] && echo yes",
        f"echo '{MARK}devices'",
        f'for p in / {shlex.join(folders)}; do d=$(stat -c %d "$p" 2>/dev/null) && echo "$p $d"; done',
        f"echo '{MARK}commands'",
        f'for c in {shlex.join(names)}; do p=$(command -v "$c") && echo "$c $p"; done',
        f"echo '{MARK}end'",
    ]
    return "\n".join(lines) + "\n"


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(MARK):
            current = sections.setdefault(line[len(MARK) :], [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return sections


def _os_release(lines: list[str]) -> dict[str, str]:
    values = {}
    for line in lines:
        key, _, value = line.partition("=")
        values[key] = value.strip().strip('"')
    return values


def parse_selinux(lines: list[str]) -> str:
    value = lines[0] if lines else "disabled"
    return {"1": "enforcing", "0": "permissive"}.get(value, "disabled")


def parse_facts(text: str) -> PlatformFacts:
    """Turn the script's output into facts (pure: no I/O)."""
    sections = _sections(text)
    first = {name: (lines[0] if lines else "") for name, lines in sections.items()}
    release = _os_release(sections.get("os_release", []))
    commands = dict(line.split(" ", 1) for line in sections.get("commands", []) if " " in line)
    devices = dict(line.rsplit(" ", 1) for line in sections.get("devices", []) if " " in line)
    return PlatformFacts(
        kernel=first.get("kernel", ""),
        pid1=first.get("pid1", ""),
        selinux=parse_selinux(sections.get("selinux", [])),
        root_fs=first.get("root_fs", ""),
        os_id=release.get("ID", ""),
        os_like=tuple(release.get("ID_LIKE", "").split()),
        commands=commands,
        container=first.get("container") == "yes",
        apart=tuple(path for path, device in devices.items() if path != "/" and device != devices.get("/")),
    )


def gather_local(components: list[PlatformComponent]) -> PlatformFacts:
    """Run the script on this machine."""
    done = subprocess.run(
        ["sh", "-c", gather_script(components)], capture_output=True, text=True, check=False, timeout=30
    )
    return parse_facts(done.stdout)
