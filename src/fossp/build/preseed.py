"""Preseed files for the Debian family: Debian's installer answers every question itself,
installs the platform's and the chosen roles' packages on one BTRFS root, and its late
command turns that root into FOSSP's layout (``@`` the default subvolume, ``@home``,
``@snapshots`` at ``/.snapshots``, each data folder a subvolume nested in ``@``).

Root has no password (``!``: locked) and logs in over SSH with the key the late command
writes, as ``ssh root@HOST``. The file is checked twice: ``debconf-set-selections -c``
(which exits 0 on an unknown type, so any ``warning:`` is a failure), then FOSSP's own
table of the questions it needs, each once and of its type.
"""

from __future__ import annotations

import base64
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from fossp.build.common import Finding, check_roles, data_folders, defaults
from fossp.build.firstboot import HOST_PACKAGES
from fossp.catalog.loader import DATA_DIR
from fossp.catalog.schema import Family, Role
from fossp.errors import BadInput
from fossp.platform.osrelease import install_script

SUITES = {12: "bookworm", 13: "trixie"}
TYPES = ("string", "boolean", "select", "multiselect", "note", "text", "password")
LATE_SCRIPT = DATA_DIR / "build" / "preseed-late.sh"
TARGET_SCRIPT = "/root/fossp-late.sh"
POST_SCRIPT = "/root/fossp-post.sh"
LOCKED = "!"  # the crypted root password that matches none: root logs in with its key only

#: The questions FOSSP answers, in the file's order: (owner, question, type).
QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("d-i", "debian-installer/locale", "string"),
    ("d-i", "keyboard-configuration/xkb-keymap", "select"),
    ("d-i", "netcfg/choose_interface", "select"),
    ("d-i", "netcfg/get_hostname", "string"),
    ("d-i", "netcfg/get_domain", "string"),
    ("d-i", "netcfg/hostname", "string"),
    ("d-i", "mirror/country", "string"),
    ("d-i", "mirror/http/hostname", "string"),
    ("d-i", "mirror/http/directory", "string"),
    ("d-i", "mirror/http/proxy", "string"),
    ("d-i", "mirror/suite", "string"),
    ("d-i", "passwd/root-login", "boolean"),
    ("d-i", "passwd/make-user", "boolean"),
    ("d-i", "passwd/root-password-crypted", "password"),
    ("d-i", "clock-setup/utc", "boolean"),
    ("d-i", "time/zone", "string"),
    ("d-i", "clock-setup/ntp", "boolean"),
    ("d-i", "partman-auto/method", "string"),
    ("d-i", "partman-partitioning/choose_label", "select"),
    ("d-i", "partman-partitioning/default_label", "string"),
    ("d-i", "partman-auto/expert_recipe", "string"),
    ("d-i", "partman-auto/choose_recipe", "select"),
    ("d-i", "partman-basicfilesystems/no_swap", "boolean"),
    ("d-i", "partman-partitioning/confirm_write_new_label", "boolean"),
    ("d-i", "partman/mount_style", "select"),
    ("d-i", "partman/choose_partition", "select"),
    ("d-i", "partman/confirm", "boolean"),
    ("d-i", "partman/confirm_nooverwrite", "boolean"),
    ("tasksel", "tasksel/first", "multiselect"),
    ("d-i", "pkgsel/include", "string"),
    ("popularity-contest", "popularity-contest/participate", "boolean"),
    ("d-i", "grub-installer/only_debian", "boolean"),
    ("d-i", "grub-installer/bootdev", "string"),
    ("d-i", "preseed/late_command", "string"),
    ("d-i", "finish-install/reboot_in_progress", "note"),
)

_COMMENT = re.compile(r"^\s*#")
_LINE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)(?:\s(.*))?$")


def suite(debian: int | None) -> str:
    """The Debian suite of release ``debian`` (default the oldest FOSSP supports)."""
    if debian is None:
        return SUITES[min(SUITES)]
    if debian not in SUITES:
        known = ", ".join(str(n) for n in SUITES)
        raise BadInput(f"--debian {debian}: FOSSP's preseed installs Debian {known}")
    return SUITES[debian]


def _recipe(disk_gib: int) -> list[str]:
    """partman's recipe: the whole disk, GPT, a BIOS boot and an EFI partition (whichever
    the firmware uses), then one BTRFS root of at least ``disk_gib`` that takes the rest."""
    return [
        "fossp ::",
        "1 1 1 free $iflabel{ gpt } $reusemethod{ } method{ biosgrub } .",
        "538 538 1075 free $iflabel{ gpt } $reusemethod{ } method{ efi } format{ } .",
        f"{disk_gib * 1024} {disk_gib * 1024} -1 btrfs method{{ format }} format{{ }} use_filesystem{{ }}"
        " filesystem{ btrfs } mountpoint{ / } .",
    ]


def late_script_commands() -> list[str]:
    """Shell commands that print FOSSP's late script, one ``echo`` per line (no printf
    escapes: the value reaches the installer's shell as it is), its comments left in the
    data file."""
    lines = [line for line in LATE_SCRIPT.read_text().splitlines() if line.strip() and not _COMMENT.match(line)]
    return ["{", *(f"echo {shlex.quote(line)};" for line in lines), "}"]


def _late_command(folders: list[str], units: list[str], ssh_key: str, post: str) -> list[str]:
    """The late command in parts: the script into the target, then FOSSP's layout, GRUB
    again, root's key, the roles' units and ``post`` (os-release keys, FOSSP's first boot:
    base64 in the preseed, so no character of it meets debconf's or the shell's quoting);
    each step only if the one before worked."""
    step = ["in-target", "sh", TARGET_SCRIPT]
    steps = [
        [*step, "layout", "/", *folders],
        [*step, "boot"],
        [*step, "key", "/", ssh_key],
        *([["in-target", "systemctl", "enable", *units]] if units else []),
        ["in-target", "sh", "-c", f"base64 -d {POST_SCRIPT}.b64 > {POST_SCRIPT}"],
        ["in-target", "sh", POST_SCRIPT],
        ["rm", "-f", f"/target{TARGET_SCRIPT}", f"/target{POST_SCRIPT}", f"/target{POST_SCRIPT}.b64"],
    ]
    *script, close = late_script_commands()
    encoded = base64.b64encode(post.encode()).decode()
    chained = [
        f"{close} > /target{TARGET_SCRIPT}",
        f"echo {encoded} > /target{POST_SCRIPT}.b64",
        *(shlex.join(argv) for argv in steps),
    ]
    return [*script, *(f"{command} &&" for command in chained[:-1]), chained[-1]]


def post_script(text: str) -> str:
    """The script a preseed's late command runs last in the target (decoded: tests read it)."""
    found = re.search(rf"echo ([A-Za-z0-9+/=]+) > /target{POST_SCRIPT}\.b64", text)
    if found is None:
        raise BadInput("no FOSSP post script in this preseed")
    return base64.b64decode(found.group(1)).decode()


@dataclass(frozen=True)
class Preseed:
    """A preseed's text and what it installs."""

    text: str
    suite: str
    packages: list[str]
    units: list[str]
    data_folders: list[str]


def build_preseed(
    roles: list[Role],
    platform_packages: list[str],
    ssh_key: str,
    debian: int | None = None,
    hostname: str = "fossp",
    disk_gib: int = 20,
    first_boot: str | None = None,
) -> Preseed:
    """The preseed installing ``roles`` (the platform's packages first) on FOSSP's layout,
    root reachable with ``ssh_key`` only, FOSSP's os-release keys written; ``first_boot``
    is the script (:func:`fossp.build.firstboot.firstboot_script`) that makes the host
    deploy the profile, settings included, at its first boot."""
    codename = suite(debian)
    check_roles(roles, Family.DEBIAN, "a preseed")
    role_packages = [p for role in roles for p in role.packages_for(Family.DEBIAN)]
    host_packages = HOST_PACKAGES[Family.DEBIAN] if first_boot else ()
    packages = list(dict.fromkeys([*platform_packages, *role_packages, *host_packages]))
    units = list(dict.fromkeys(u for role in roles for u in role.units_for(Family.DEBIAN, defaults(role))))
    folders = data_folders(roles, Family.DEBIAN)
    post = [install_script([role.id for role in roles]), *([first_boot] if first_boot else [])]
    host, _, domain = hostname.partition(".")
    values: dict[str, str | list[str]] = {
        "debian-installer/locale": "en_US.UTF-8",
        "keyboard-configuration/xkb-keymap": "us",
        "netcfg/choose_interface": "auto",
        "netcfg/get_hostname": host,
        "netcfg/get_domain": domain,
        "netcfg/hostname": hostname,
        "mirror/country": "manual",
        "mirror/http/hostname": "deb.debian.org",
        "mirror/http/directory": "/debian",
        "mirror/http/proxy": "",
        "mirror/suite": codename,
        "passwd/root-login": "true",
        "passwd/make-user": "false",
        "passwd/root-password-crypted": LOCKED,
        "clock-setup/utc": "true",
        "time/zone": "UTC",
        "clock-setup/ntp": "true",
        "partman-auto/method": "regular",
        "partman-partitioning/choose_label": "gpt",
        "partman-partitioning/default_label": "gpt",
        "partman-auto/expert_recipe": _recipe(disk_gib),
        "partman-auto/choose_recipe": "fossp",
        "partman-basicfilesystems/no_swap": "false",
        "partman-partitioning/confirm_write_new_label": "true",
        "partman/mount_style": "uuid",
        "partman/choose_partition": "finish",
        "partman/confirm": "true",
        "partman/confirm_nooverwrite": "true",
        "tasksel/first": "standard, ssh-server",
        "pkgsel/include": " ".join(packages),
        "popularity-contest/participate": "false",
        "grub-installer/only_debian": "true",
        "grub-installer/bootdev": "default",
        "preseed/late_command": _late_command(folders, units, ssh_key, "\n".join(post)),
        "finish-install/reboot_in_progress": "",
    }
    header = [
        f"# FOSSP preseed: Debian {codename}, roles {', '.join(r.id for r in roles) or 'none'}.",
        "# root has no password: log in with the key given to fossp build preseed, ssh root@HOST",
    ]
    lines = [_render(owner, name, kind, values[name]) for owner, name, kind in QUESTIONS]
    return Preseed("\n".join([*header, *lines, ""]), codename, packages, units, folders)


def _render(owner: str, name: str, kind: str, value: str | list[str]) -> str:
    """One answer; a value in parts is continued over lines (a backslash ends each but the last)."""
    answer = value if isinstance(value, str) else " \\\n  ".join(value)
    return f"{owner} {name} {kind} {answer}" if answer else f"{owner} {name} {kind}"


def answers(text: str) -> list[tuple[int, list[str | None]]]:
    """(first line, [owner, question, type, value]) of each answer, lines joined where a
    backslash continues them, as debconf-set-selections reads the file."""
    found: list[tuple[int, list[str | None]]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        start, line = index + 1, lines[index]
        while line.endswith("\\") and index + 1 < len(lines):
            index += 1
            line = line[:-1] + lines[index]
        index += 1
        if line.strip() and not line.lstrip().startswith("#"):
            match = _LINE.match(line)
            found.append((start, list(match.groups()) if match else [None, None, None, line]))
    return found


def check_preseed(text: str) -> dict[str, list[Finding]]:
    """Both checks of a preseed: ``debconf`` (debconf-set-selections -c) and ``fossp``
    (FOSSP's table); each empty when good."""
    return {"debconf": _debconf_findings(text), "fossp": _fossp_findings(text)}


def _debconf_findings(text: str) -> list[Finding]:
    """debconf-set-selections -c: any warning or error it prints is a finding (it exits 0
    on an unknown type and skips the line)."""
    if shutil.which("debconf-set-selections") is None:
        raise BadInput("debconf-set-selections not found: install the Debian package debconf")
    done = subprocess.run(["debconf-set-selections", "-c"], input=text, capture_output=True, text=True, check=False)
    findings = [
        Finding(int(at.group(1)) if (at := re.search(r"line (\d+)", line)) else 0, line.strip())
        for line in done.stderr.splitlines()
        if line.startswith(("warning:", "error:"))
    ]
    if done.returncode and not findings:
        findings.append(Finding(0, f"debconf-set-selections -c exited {done.returncode}: {done.stderr.strip()}"))
    return findings


def _fossp_findings(text: str) -> list[Finding]:
    """Every line an answer of a known type with an owner, no password, and each question
    of FOSSP's table once with its type."""
    findings: list[Finding] = []
    seen: dict[str, list[int]] = {}
    for line, (owner, question, kind, value) in answers(text):
        if owner is None or question is None or kind is None:
            findings.append(Finding(line, f"not an answer (owner question type value): {value!r}"))
        elif "/" in owner or "/" not in question:
            findings.append(Finding(line, f"{owner} {question}: a question needs its owner first (d-i {owner})"))
        elif kind not in TYPES:
            findings.append(Finding(line, f"{question}: unknown type {kind!r} (known: {', '.join(TYPES)})"))
        elif (kind == "password" or "password" in question) and value != LOCKED:
            findings.append(Finding(line, f"{question}: a password in the file (root logs in with its key only)"))
        else:
            seen.setdefault(question, []).append(line)
            findings += _typed(line, question, kind, value)
    for _, question, kind in QUESTIONS:
        lines = seen.get(question, [])
        if len(lines) != 1:
            where = f" (lines {', '.join(map(str, lines))})" if lines else ""
            findings.append(Finding(lines[-1] if lines else 0, f"{question} ({kind}) must be answered once{where}"))
    return findings


def _typed(line: int, question: str, kind: str, value: str | None) -> list[Finding]:
    """A table question with another type, or a boolean that is neither true nor false."""
    expected = next((k for _, q, k in QUESTIONS if q == question), kind)
    if kind != expected:
        return [Finding(line, f"{question}: type {kind}, FOSSP's table says {expected}")]
    if kind == "boolean" and value not in ("true", "false"):
        return [Finding(line, f"{question}: boolean {value!r} is neither true nor false")]
    return []
