"""The target release's own configuration checkers, run against the host's configuration.

"Configuration the new version refuses" is best answered by the new version itself:
``named-checkconf``, ``nginx -t``, ``apache2ctl configtest``, ``haproxy -c``,
``kea-dhcp4 -t``. They run on the controller, in a *scratch root* of the target release
(``SCRATCH_ROOT/<spec.key>/root``), with the host's configuration folders put in place:

- the scratch root is a ``debootstrap --variant=minbase`` of the target's first suite,
  built once into ``build-*`` and renamed into place (a killed build leaves only a
  ``build-*`` folder, removed by the next run), with the spec's apt sources (every
  suite), a ``policy-rc.d`` that refuses service starts and the checkers' packages
  installed by apt in a chroot (``/proc`` mounted for the install only), incrementally:
  ``state.json`` remembers what was installed, and apt's lists are refreshed before an
  install when they are older than ``LISTS_MAX_AGE`` (packages already installed are
  not upgraded: delete ``SCRATCH_ROOT/<key>`` to start from the archive's current
  state). A ``lock`` file (flock) serialises builds; checks hold it shared so the root
  never changes under a running check;
- each check mounts an overlayfs (lower: the scratch root; upper and work on a tmpfs of
  its own, 256 MiB and 65536 inodes, in a fresh ``checks/<role>-*`` folder; ``nosuid``)
  so it starts from the pristine root, and the host's copy never reaches a disk; where
  overlayfs cannot be mounted (a kernel without it) the root is copied per check with
  ``cp -a --reflink=auto`` instead (slower, same result, but no size cap; ``report``
  says so). overlayfs was verified on the development controller (Linux 6.18, ext4).
  The role's paths are removed from the merged root and the host's copy is extracted in
  their place (the host's configuration is what the new version will read: merging it
  over the package's files would, for example, bring back Debian's default site that
  FOSSP's nginx recipe deletes, and make ``nginx -t`` fail on a duplicate default
  server the host does not have);
- the host's archive is validated member by member (absolute names, ``..``, device
  files and FIFOs are refused; a hard link only to a member extracted before it) and extracted
  by this module, not by ``tarfile.extractall``: symbolic links are kept as written
  (absolute ones are common, ``sites-enabled/default -> /etc/nginx/sites-available/default``,
  and resolve inside the chroot), so extraction never writes through one: a member
  whose parent is a link is refused and an existing entry is replaced, never opened.
  Python 3.11's ``tarfile`` 'data' filter (present since 3.11.4) is not used because it
  refuses every absolute link, and its 'tar' filter resolves links against the
  controller's own file system. Files are owned by the checker's uid (``CHECKER_UID``),
  who can read all of them as root does on the host; set-id bits are dropped;
- host-supplied code is refused before anything is mounted: a role whose files include
  a member named ``*.so``, ``*.so.*``, ``*.lua`` or ``*.luac``, or a file that is ELF or
  compiled Lua whatever its name (``load_module``, ``LoadModule``, ``lua-load``, kea's
  ``hooks-libraries`` and BIND's ``plugin`` would load it), is skipped with the file's
  name (``loadable_member``). Files the checker executes as scripts are never the
  host's: the data file's ``keep`` (``/etc/apache2/envvars``, which ``apache2ctl``
  sources) are put back from the scratch root after the extraction;
- the checker runs isolated and unprivileged (``sandbox_argv``), output captured, stdin
  from /dev/null, a clean environment, 60 s timeout; the overlay is unmounted in
  ``finally`` (lazily if busy) and the check folder, which held a copy of the host's
  configuration (keys included), is deleted.

The sandbox. Root escapes a chroot at will, and the controller holds the fleet's SSH
keys, so the checker must not be root, nor able to become root again, nor reach the
network. The real root mounts the overlay and puts the files in place; then
``unshare`` makes new mount, network, PID, IPC and UTS namespaces, and ``chroot
--userspec`` enters the root as its last privileged act and switches to
``CHECKER_UID``/``CHECKER_GID`` (an unallocated id, 2000000000, with no other group),
which clears every capability. Before it, ``setpriv --no-new-privs`` (set-uid binaries
and file capabilities of the scratch root give nothing back; the overlay is ``nosuid``
too) cuts the bounding set to what ``chroot`` needs, and ``prlimit`` caps each process
(1 GiB of address space, 60 s of CPU, 64 MiB files, 1024 open files, no core dumps)
and the uid's processes (64 plus 2 per CPU). The PID namespace's first process is a
root ``/bin/sh`` outside the chroot that only waits (the checker, another uid, cannot
signal it): when it ends, after the checker or killed with its process group on a
timeout, the kernel kills whatever the checker left behind; ``timeout`` kills the
checker 5 s after ``CHECK_TIMEOUT`` even if this Python process is gone.
Unprivileged checkers need two things root had: writable run, log and temporary
folders (the data file's ``writable``, given to the checker's uid in the throwaway
root: nginx's pid file, temporary folders and error log, apache2ctl's run and lock
folders), and binding the ports and addresses of ``listen`` lines, which ``nginx -t``
does: the shell lets unprivileged processes bind any port and foreign addresses
(``ip_unprivileged_port_start=0``, ``ip_nonlocal_bind=1``) in the new, empty network
namespace only, which also means ``listen 192.0.2.5:443`` no longer fails for the
controller's lack of that address, nor ``listen 80`` for a port in use on it. No
``/proc`` or ``/sys`` is mounted in the root; every checker of the data file ran
without them. All of it is util-linux and coreutils, present on Debian 12; a check is
skipped when one is missing.

Why not a user namespace (``unshare --user --map-root-user``)? Run by root, it maps
root to root: the checker would be uid 0 again for every file on the controller, with
``CAP_SYS_CHROOT`` in its namespace to leave the chroot. Mapping it to an unprivileged
uid instead needs ``newuidmap`` or writing ``uid_map`` from outside, and the root's
files (owned by the real root, unmapped inside) would still need giving away as here.
The plain unprivileged uid is simpler and gives nothing to escalate with; and being
chrooted, the checker cannot make a user namespace of its own (the kernel refuses it
to a chrooted process).

Limits: the kernel is shared (a kernel exploit escapes this as any container); the
checker still reads, as a plain text configuration, Lua or other code with a harmless
name and content (``lua-load /etc/haproxy/x.cfg`` runs it, unprivileged and offline);
with no network and no DNS, names in the configuration that the scratch root's
``/etc/hosts`` does not have (an nginx ``proxy_pass`` or haproxy ``server`` host name)
fail the check, naming the host; there is no cgroup, so memory is capped per process,
not in all (a checker's processes together may use up to their count times 1 GiB);
and the controller's host name is visible (UTS namespace copied, not changed).

Only the Debian family has scratch roots (debootstrap and apt sources); Fedora checks
are described in the data file and come back skipped. The checked configuration is the
role's folders only: a certificate or module outside them (``/etc/ssl``, a
``load_module`` from a ``libnginx-mod-*`` the scratch root lacks) shows up as a failed
check naming the missing file.

Measured on the development controller (2 CPUs, ext4, deb.debian.org, Debian 13 trixie):

- first build, ``debootstrap --variant=minbase trixie``: 23-28 s, once 60 s (the mirror
  decides); installing nginx, bind9 and bind9-utils into it (apt-get update included):
  4-5 s, 206 MB in all; apache2, haproxy, kea-dhcp4-server and isc-dhcp-server on top: 6 s;
- a warm ``scratch_root`` (nothing to install, no network): ~2 ms;
- one check (tmpfs and overlay mounts, extraction, sandboxed checker, unmounts,
  cleanup): ~40 ms; nginx and bind in one ``run_config_checks``: 80-95 ms (~55 ms
  before the sandbox); all six Debian checkers: ~0.33 s; the ``cp -a`` fallback: 1-5 s
  per check (ext4 has no reflinks, so it is a full copy).

Trixie's own default configuration passes each Debian checker in the data file, in the
sandbox (``apache2ctl configtest`` warns that it cannot resolve the host name, nginx
that its ``user`` directive is ignored without root: warnings, not failures).
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import Field, RootModel, StringConstraints, ValidationInfo, field_validator

from fossp.catalog.loader import DATA_DIR, CatalogError, parse_model, read_yaml
from fossp.catalog.schema import Family, PackageName, Strict
from fossp.errors import BadInput, FosspError
from fossp.upgrade.model import ConfigCheck, SuiteSpec

SCRATCH_ROOT = Path("/var/cache/fossp/scratch")
CHECKS_FILE = DATA_DIR / "upgrade" / "config_checks.yaml"
CHECK_TIMEOUT = 60.0
DEBOOTSTRAP_TIMEOUT = 1800.0
APT_TIMEOUT = 1800.0
LOCK_TIMEOUT = 3600.0
LISTS_MAX_AGE = 6 * 3600.0  # apt-get update before an install when the lists are older
OUTPUT_LIMIT = 2000
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHROOT_ENV = {"PATH": PATH, "LC_ALL": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}
CHECK_ENV = {**CHROOT_ENV, "HOME": "/"}
# The checkers' sandbox (sandbox_argv): an unallocated uid and gid of its own (not nobody's:
# RLIMIT_NPROC counts every process of a uid, and nobody's files and daemons are not the
# checker's business), and the limits given to it.
CHECKER_UID = CHECKER_GID = 2_000_000_000
CHECK_ADDRESS_SPACE = 1 << 30  # per process; every checker of the data file runs in 128 MiB
CHECK_NPROC = 64  # plus 2 per CPU: kea-dhcp4 -t starts threads per CPU (5 tasks with 2 CPUs)
CHECK_FILE_SIZE = 64 << 20
CHECK_OPEN_FILES = 1024
CHECK_TMPFS = "size=256m,nr_inodes=65536"  # the overlay's upper layer: what a check may write in all
SANDBOX_INIT = (
    "{ echo 0 >/proc/sys/net/ipv4/ip_unprivileged_port_start; echo 1 >/proc/sys/net/ipv4/ip_nonlocal_bind;"
    ' echo 1 >/proc/sys/net/ipv6/ip_nonlocal_bind; } 2>/dev/null; "$@"'
)
SANDBOX_TOOLS = ("unshare", "timeout", "prlimit", "setpriv", "chroot")
APT_ENV = {**CHROOT_ENV, "DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true"}
SOURCES_FILE = "etc/apt/sources.list.d/fossp-scratch.sources"
POLICY_RC_D = "#!/bin/sh\n# fossp scratch root: packages are installed, their services never started.\nexit 101\n"
APT_CONF = 'APT::Install-Recommends "false";\nAcquire::Languages "none";\nDpkg::Use-Pty "false";\n'
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")
LOADABLE_NAMES = ("*.so", "*.so.*", "*.lua", "*.luac")
LOADABLE_MAGIC = {b"\x7fELF": "an ELF file (a program or shared object)", b"\x1bLua": "compiled Lua"}

Report = Callable[[str], None]
Member = tuple[str, tarfile.TarInfo]


def _quiet(_: str) -> None:
    """Default progress reporter: library callers need no output."""


class ScratchError(FosspError):
    """A scratch root of a target release could not be built, changed or mounted here."""

    code = "scratch_failed"


# -- the data file ------------------------------------------------------------------

ConfigPath = Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._+@-]+(/[A-Za-z0-9._+@-]+)+$")]
RootPath = Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9._+@-]+)+$")]
Argument = Annotated[str, StringConstraints(min_length=1)]


class CheckSpec(Strict):
    """One role's checker in one family: what to install, what to bring, what to run."""

    packages: list[PackageName] = Field(min_length=1)
    paths: list[ConfigPath] = Field(min_length=1, description="the host's configuration, folders or files")
    command: list[Argument] = Field(min_length=1)
    keep: list[ConfigPath] = Field(
        default_factory=list,
        description="files inside paths taken from the scratch root, never from the host (code the checker runs)",
    )
    writable: list[RootPath] = Field(
        default_factory=list,
        description="scratch-root folders the unprivileged checker writes (pid files, logs, temporary folders)",
    )

    @field_validator("paths", "keep", "writable")
    @classmethod
    def _plain(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if any(part in (".", "..") for part in path.split("/")):
                raise ValueError(f"'{path}' must not contain . or .. components")
        return paths

    @field_validator("paths")
    @classmethod
    def _distinct(cls, paths: list[str]) -> list[str]:
        for path in paths:
            inside = [other for other in paths if other != path and other.startswith(path + "/")]
            if inside:
                raise ValueError(f"'{inside[0]}' is inside '{path}'")
        if len(set(paths)) != len(paths):
            raise ValueError("paths are listed twice")
        return paths

    @field_validator("keep")
    @classmethod
    def _kept_inside_paths(cls, keep: list[str], info: ValidationInfo) -> list[str]:
        paths = info.data.get("paths", [])
        for path in keep:
            if not any(path.startswith(folder + "/") for folder in paths):
                raise ValueError(f"'{path}' is not inside one of the paths")
        return keep


RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]


class ConfigChecks(RootModel[dict[RoleName, dict[Family, CheckSpec]]]):
    """The whole data file: role name -> family -> checker."""


def load_config_checks(path: Path | None = None) -> dict[str, dict[Family, CheckSpec]]:
    """The checkers of ``path`` (default: the packaged data file), validated, role names cross-checked."""
    return _load_config_checks(path or CHECKS_FILE)


@cache
def _load_config_checks(path: Path) -> dict[str, dict[Family, CheckSpec]]:
    from fossp.catalog import load_catalog

    table = parse_model(ConfigChecks, read_yaml(path), path.name).root
    known = {role.name for role in load_catalog().roles.values()}
    for role in table:
        if role not in known:
            raise CatalogError(f"{path.name}: '{role}' is not the name of a catalog role")
    return table


def _family(family: str) -> Family:
    try:
        return Family(family)
    except ValueError:
        raise BadInput(f"unknown OS family '{family}' (known: {', '.join(f.value for f in Family)})") from None


def _checks_for(roles: Iterable[str], family: str) -> list[tuple[str, CheckSpec]]:
    wanted = _family(family)
    table = load_config_checks()
    return [(role, table[role][wanted]) for role in dict.fromkeys(roles) if wanted in table.get(role, {})]


def config_folders(roles: Iterable[str], family: str) -> list[str]:
    """The host paths (absolute, folders or files) that ``roles``' checks need, in order, once each."""
    return list(dict.fromkeys(path for _, check in _checks_for(roles, family) for path in check.paths))


def host_tar_argv(folders: Sequence[str]) -> list[str]:
    """The argv that archives ``folders`` on the host to stdout, for ``run_config_checks``.

    Paths are stored relative to / (``etc/nginx/...``); symbolic links are stored as
    links, never followed (no ``--dereference``), and tar stays on one file system.
    A folder that does not exist is a warning on stderr, not a failure
    (``--ignore-failed-read``), so the same argv serves hosts with and without a role.
    """
    relative = []
    for folder in folders:
        pure = PurePosixPath(folder)
        if not pure.is_absolute() or str(pure) != folder.rstrip("/") or ".." in pure.parts or len(pure.parts) < 2:
            raise BadInput(f"'{folder}' is not an absolute path below /")
        relative.append(str(pure.relative_to("/")))
    if not relative:
        raise BadInput("no folders to archive")
    return [
        "tar",
        "--create",
        "--file=-",
        "--directory=/",
        "--ignore-failed-read",
        "--one-file-system",
        "--no-wildcards",
        "--",
        *dict.fromkeys(relative),
    ]


# -- the host's archive -------------------------------------------------------------


def member_name(member: tarfile.TarInfo) -> str | None:
    """The member's normalised relative name (None for the archive's root entry ``.``).

    Raise BadInput for a member that must never be extracted: an absolute name, a name
    with ``..``, a device file or FIFO, a hard link whose target is absolute or has ``..``.
    """
    name = member.name
    if name.startswith("/"):
        raise BadInput(f"the host's archive has an absolute path: '{name}'")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BadInput(f"the host's archive has a path with '..': '{name}'")
    if member.ischr() or member.isblk():
        raise BadInput(f"the host's archive has a device file: '{name}'")
    if member.isfifo():
        raise BadInput(f"the host's archive has a FIFO: '{name}'")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise BadInput(f"the host's archive has a member of an unknown type: '{name}'")
    if member.islnk():
        target = member.linkname
        if target.startswith("/") or ".." in target.split("/"):
            raise BadInput(f"the host's archive has a hard link out of its folders: '{name}' -> '{target}'")
    return "/".join(parts) or None


@dataclass
class HostArchive:
    """The host's configuration archive, read and validated once."""

    archive: tarfile.TarFile
    members: list[tuple[str, tarfile.TarInfo]] = field(default_factory=list)

    def under(self, paths: Sequence[str]) -> list[tuple[str, tarfile.TarInfo]]:
        """Members that are one of ``paths`` (absolute) or inside one, in archive order."""
        relative = [path.lstrip("/") for path in paths]
        return [(name, m) for name, m in self.members if any(name == p or name.startswith(p + "/") for p in relative)]


def read_host_archive(data: bytes) -> HostArchive:
    """Open the host's tar (any compression tar reads) and validate every member; BadInput if unsafe."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - HostArchive keeps it open
        members = archive.getmembers()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BadInput(f"the host's configuration archive cannot be read: {error}") from None
    checked = []
    for member in members:
        name = member_name(member)
        if name is not None:
            checked.append((name, member))
    return HostArchive(archive, checked)


def loadable_member(host: HostArchive, member: tarfile.TarInfo) -> str | None:
    """Why ``member`` is code a checker could load or run (None when it is not).

    ``nginx -t`` honours ``load_module``, ``haproxy -c`` runs ``lua-load`` scripts,
    ``kea-dhcp4 -t`` loads ``hooks-libraries``, ``named-checkconf`` loads ``plugin``
    modules: a shared object or Lua file from the host is host-supplied code. Refused: a
    member (file or link) named ``*.so``, ``*.so.*``, ``*.lua`` or ``*.luac``, and a
    regular file that starts like an ELF file or compiled Lua, whatever its name.
    """
    if member.isdir():
        return None
    base = member.name.rstrip("/").rsplit("/", 1)[-1].lower()
    for pattern in LOADABLE_NAMES:
        if fnmatch.fnmatchcase(base, pattern):
            return f"is named {pattern}"
    if member.isreg():
        stream = host.archive.extractfile(member)
        head = stream.read(len(max(LOADABLE_MAGIC, key=len))) if stream is not None else b""
        for magic, kind in LOADABLE_MAGIC.items():
            if head.startswith(magic):
                return f"is {kind}"
    return None


def _walk_to(root: Path, name: str, *, create: bool) -> Path:
    """``root/name`` after checking that no parent of it below ``root`` is a link (or a file)."""
    parts = name.split("/")
    current = root
    for part in parts[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            if not create:
                return root.joinpath(*parts)
            os.mkdir(current, 0o755)
            continue
        if not stat.S_ISDIR(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
            raise BadInput(
                f"'{name}': its parent '{current.relative_to(root)}' is {kind}; refusing to extract through it"
            )
    return current / parts[-1]


def _clear(path: Path) -> None:
    """Remove whatever ``path`` is (a link is removed, never followed)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def extract_members(
    host: HostArchive,
    members: Sequence[tuple[str, tarfile.TarInfo]],
    root: Path,
    owner: tuple[int, int] | None = None,
) -> int:
    """Extract ``members`` under ``root`` without ever writing through a link; return how many.

    Regular files are created with O_EXCL|O_NOFOLLOW after removing any existing entry,
    links are made as written, folders get their modes last. Owners are not kept: root
    owns everything, or ``owner`` (uid, gid), who is then also given read access to every
    file and full access to every folder (the checker must read what root reads on the
    host). Set-id and sticky bits are dropped.
    """
    folders: list[tuple[str, int]] = []
    done: set[str] = set()
    for name, member in members:
        target = _walk_to(root, name, create=True)
        mode = member.mode & 0o777
        if owner is not None:
            mode |= 0o700 if member.isdir() else 0o400
        if member.isdir():
            if not (target.is_dir() and not target.is_symlink()):
                _clear(target)
                os.mkdir(target, 0o700)
            folders.append((name, mode))
            continue
        _clear(target)
        if member.issym():
            os.symlink(member.linkname, target)
            if owner is not None:
                os.chown(target, *owner, follow_symlinks=False)
        elif member.islnk():
            linked = "/".join(part for part in member.linkname.split("/") if part not in ("", "."))
            if linked not in done:
                raise BadInput(f"'{name}': a hard link to '{member.linkname}', which is not extracted before it")
            os.link(_walk_to(root, linked, create=False), target, follow_symlinks=False)
        else:
            stream = host.archive.extractfile(member)
            if stream is None:
                raise BadInput(f"'{name}': the archive has no data for it")
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                shutil.copyfileobj(stream, out)
                if owner is not None:
                    os.fchown(out.fileno(), *owner)
                os.fchmod(out.fileno(), mode)
        done.add(name)
    for name, mode in reversed(folders):
        # A later member may have replaced the folder (or a parent) with a link: walk again, never follow.
        try:
            descriptor = os.open(_walk_to(root, name, create=False), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except (BadInput, OSError):
            continue
        try:
            if owner is not None:
                os.fchown(descriptor, *owner)
            os.fchmod(descriptor, mode)
        finally:
            os.close(descriptor)
    return len(members)


# -- running things -----------------------------------------------------------------


def _run(
    argv: Sequence[str | Path],
    what: str,
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (never a shell); raise ScratchError naming ``what`` and stderr's end on failure."""
    args = [str(arg) for arg in argv]
    try:
        result = subprocess.run(
            args, capture_output=True, text=True, errors="replace", timeout=timeout, env=env, check=False
        )
    except FileNotFoundError:
        raise ScratchError(f"{what}: {args[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise ScratchError(f"{what}: `{' '.join(args)}` timed out after {timeout:.0f} s") from None
    if check and result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).strip().splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith(("E:", "W:", "debootstrap:"))] or lines
        detail = " / ".join(errors[-3:]) if errors else f"exit {result.returncode}"
        raise ScratchError(f"{what}: `{' '.join(args)}` failed (exit {result.returncode}): {detail}")
    return result


def sandbox_argv(root: Path, argv: Sequence[str], timeout: float = CHECK_TIMEOUT) -> list[str]:
    """The argv that runs ``argv`` in ``root`` unprivileged and isolated (see the module's docstring).

    Outside in: ``unshare`` (new mount, network, PID, IPC and UTS namespaces; no user
    namespace), ``/bin/sh`` as the namespace's PID 1 (as root, not chrooted: it lets the
    empty network namespace bind any port and address, then waits for the checker, so
    when it goes every process of the namespace goes), ``timeout`` (a wall clock that
    does not depend on this process), ``prlimit`` (memory, processes, CPU, file sizes,
    open files, no core), ``setpriv`` (no new privileges, bounding set cut to what
    ``chroot`` needs), ``chroot --userspec`` (the last step as root: into ``root``,
    then to ``CHECKER_UID``, which drops every capability), and the checker.
    """
    nproc = CHECK_NPROC + 2 * (os.cpu_count() or 1)
    return [
        "unshare",
        "--mount",
        "--net",
        "--pid",
        "--ipc",
        "--uts",
        "--fork",
        "--kill-child",
        "--",
        "/bin/sh",
        "-c",
        SANDBOX_INIT,
        "fossp-check",
        "timeout",
        "--signal=KILL",
        f"{timeout + 5:.0f}",
        "prlimit",
        f"--as={CHECK_ADDRESS_SPACE}",
        f"--nproc={nproc}",
        f"--cpu={timeout:.0f}",
        f"--fsize={CHECK_FILE_SIZE}",
        f"--nofile={CHECK_OPEN_FILES}",
        "--core=0",
        "--",
        "setpriv",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all,+setuid,+setgid,+sys_chroot",
        "--",
        "chroot",
        f"--userspec={CHECKER_UID}:{CHECKER_GID}",
        f"--groups={CHECKER_GID}",
        str(root),
        *argv,
    ]


def _run_sandboxed(root: Path, argv: Sequence[str], timeout: float) -> tuple[int | None, str]:
    """Run ``argv`` in ``root`` through ``sandbox_argv``; (exit status or None on timeout, stdout and stderr)."""
    process = subprocess.Popen(
        sandbox_argv(root, argv, timeout),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=CHECK_ENV,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        # unshare and the namespace's PID 1 are in this group: PID 1 gone, the kernel kills the rest
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            output, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # should not happen: nothing outlives the PID namespace
            assert process.stdout is not None
            process.stdout.close()
            process.wait()
            output = b""
        code = None
    return code, output.decode("utf-8", errors="replace")


def _require_tools(*tools: str) -> None:
    if os.geteuid() != 0:
        raise ScratchError("scratch roots need root (debootstrap, chroot, mount)")
    for tool in tools:
        if shutil.which(tool) is None:
            package = {"debootstrap": "debootstrap", "chroot": "coreutils"}.get(tool, "mount")
            raise ScratchError(f"{tool} not found; install it with `apt-get install {package}`")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this mount namespace, deepest first."""
    prefix = os.path.realpath(path)
    with open("/proc/self/mountinfo") as mountinfo:
        points = [_unescape(line.split()[4]) for line in mountinfo]
    inside = [point for point in points if point == prefix or point.startswith(prefix + "/")]
    return sorted(dict.fromkeys(inside), key=lambda point: point.count("/"), reverse=True)


def _unmount(point: Path | str) -> None:
    """Unmount ``point``; lazily when something still holds it (a checker's stray child)."""
    try:
        _run(["umount", point], f"unmount {point}", timeout=60)
    except ScratchError:
        _run(["umount", "--lazy", point], f"unmount {point}", timeout=60)


def _unmount_under(path: Path) -> None:
    for point in mounts_under(path):
        _unmount(point)


def _remove_tree(path: Path) -> None:
    """Delete ``path`` only when nothing is mounted inside it (rmtree would go into a mount)."""
    _unmount_under(path)
    if mounts_under(path):
        raise ScratchError(f"{path} still has mounts inside; not deleting it")
    shutil.rmtree(path, ignore_errors=True)


# -- the scratch root ---------------------------------------------------------------


def _base(spec: SuiteSpec) -> Path:
    if not spec.key or not set(spec.key) <= KEY_CHARS or spec.key.strip(".") == "":
        raise BadInput(f"'{spec.key}' cannot name a scratch root folder")
    if not spec.sources or not spec.sources[0].suites:
        raise BadInput(f"{spec.key}: no apt source with a suite to debootstrap")
    return SCRATCH_ROOT / spec.key


@contextlib.contextmanager
def _locked(base: Path, *, exclusive: bool, report: Report) -> Iterator[None]:
    """flock ``base/lock``: exclusive to build or install, shared to run checks."""
    base.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with open(base / "lock", "a") as handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            report(f"waiting for another run using {base} (lock {base / 'lock'})")
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                time.sleep(0.5)
                try:
                    fcntl.flock(handle, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ScratchError(f"{base / 'lock'} is still held after {LOCK_TIMEOUT:.0f} s") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sources_text(spec: SuiteSpec) -> str:
    """The spec's apt sources as deb822 stanzas (every suite of every source)."""
    stanzas = [
        f"Types: deb\nURIs: {source.uri}\nSuites: {' '.join(source.suites)}\n"
        f"Components: {' '.join(source.components)}\nSigned-By: {KEYRING}\n"
        for source in spec.sources
    ]
    return f"# Written by fossp: the sources of {spec.key}.\n" + "\n".join(stanzas)


def _read_state(base: Path) -> dict[str, Any]:
    try:
        state = json.loads((base / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(base: Path, state: dict[str, Any]) -> None:
    temporary = base / "state.json.new"
    temporary.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    temporary.replace(base / "state.json")


def _write_in_root(root: Path, name: str, text: str | bytes, mode: int = 0o644) -> bool:
    """Write ``root/name`` (replacing a link rather than following it); True when it changed."""
    data = text.encode() if isinstance(text, str) else text
    target = _walk_to(root, name, create=True)
    if not target.is_symlink() and target.is_file() and target.read_bytes() == data:
        return False
    _clear(target)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
        os.fchmod(out.fileno(), mode)
    return True


def _debootstrap(spec: SuiteSpec, base: Path, report: Report) -> None:
    first = spec.sources[0]
    codename = first.suites[0]
    report(f"building the {spec.key} scratch root: debootstrap {codename} from {first.uri} (once, about half a minute)")
    building = Path(tempfile.mkdtemp(prefix="build-", dir=base))
    try:
        target = building / "root"
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--arch={spec.architecture}",
                f"--components={','.join(first.components)}",
                codename,
                target,
                first.uri,
            ],
            f"debootstrap {codename} from {first.uri}",
            timeout=DEBOOTSTRAP_TIMEOUT,
        )
        _unmount_under(building)
        target.chmod(0o755)
        target.rename(base / "root")
    finally:
        _remove_tree(building)


def _configure(root: Path, spec: SuiteSpec) -> bool:
    """Sources, policy-rc.d, apt settings and resolv.conf; True when the sources changed."""
    (root / "etc" / "apt" / "sources.list").unlink(missing_ok=True)
    changed = _write_in_root(root, SOURCES_FILE, sources_text(spec))
    _write_in_root(root, "usr/sbin/policy-rc.d", POLICY_RC_D, 0o755)
    _write_in_root(root, "etc/apt/apt.conf.d/90fossp-scratch", APT_CONF)
    with contextlib.suppress(OSError):
        _write_in_root(root, "etc/resolv.conf", Path("/etc/resolv.conf").read_text())
    return changed


def _install(root: Path, spec: SuiteSpec, packages: list[str], refresh: bool, report: Report) -> None:
    what = f"the {spec.key} scratch root"
    report(f"installing {', '.join(packages)} in {what}")
    proc = root / "proc"
    proc.mkdir(exist_ok=True)
    _run(["mount", "-t", "proc", "proc", proc], f"mount /proc in {what}", timeout=30)
    try:
        chroot = ["chroot", str(root)]
        _run([*chroot, "dpkg", "--configure", "-a"], f"finish dpkg in {what}", timeout=APT_TIMEOUT, env=APT_ENV)
        if refresh:
            _run([*chroot, "apt-get", "update"], f"apt-get update in {what}", timeout=APT_TIMEOUT, env=APT_ENV)
        _run(
            [*chroot, "apt-get", "install", "--yes", "--no-install-recommends", "--", *packages],
            f"install {', '.join(packages)} in {what}",
            timeout=APT_TIMEOUT,
            env=APT_ENV,
        )
        _run([*chroot, "apt-get", "clean"], f"apt-get clean in {what}", timeout=300, env=APT_ENV)
    finally:
        _unmount(proc)


def scratch_root(spec: SuiteSpec, packages: list[str], report: Report = _quiet) -> Path:
    """The cached scratch root of ``spec`` with ``packages`` installed; build or complete it first.

    The root is ``SCRATCH_ROOT/<spec.key>/root``: a minbase debootstrap of the first suite
    of the first source from that source's mirror, apt sources set to all of the spec's.
    Packages already installed by an earlier call are not asked for again. Raises
    ScratchError when the root cannot be built or a package cannot be installed (the
    message has apt's error, e.g. "Unable to locate package"); the root is then left as
    it was before the install, usable for other packages.
    """
    _require_tools("debootstrap", "chroot", "mount", "umount")
    base = _base(spec)
    codename = spec.sources[0].suites[0]
    with _locked(base, exclusive=True, report=report):
        for leftover in [*base.glob("build-*"), *base.glob("checks/*")]:
            _remove_tree(leftover)
        root = base / "root"
        state = _read_state(base)
        if root.is_dir() and state.get("codename") not in (None, codename):
            report(f"{root} is {state.get('codename')}, not {codename}: building it again")
            _remove_tree(root)
            state = {}
        if root.is_dir():
            _unmount_under(root)  # a /proc left by a killed install
        else:
            _debootstrap(spec, base, report)
            state = {}
        state["codename"] = codename
        if _configure(root, spec):
            state["lists_updated"] = 0.0
        installed = set(state.get("packages", []))
        missing = sorted(set(packages) - installed)
        if missing:
            stale = time.time() - float(state.get("lists_updated", 0.0)) > LISTS_MAX_AGE
            _install(root, spec, missing, stale, report)
            if stale:
                state["lists_updated"] = time.time()
            state["packages"] = sorted(installed | set(missing))
        _write_state(base, state)
    return root


# -- the checks ---------------------------------------------------------------------


def _mount_overlay(root: Path, work: Path) -> Path:
    """An overlay over ``root`` at ``work/merged``, its upper layer on a capped tmpfs; nosuid."""
    if any(char in f"{root}{work}" for char in ",:\\"):
        raise ScratchError(f"{root} or {work} cannot be named in overlayfs options")
    layer, merged = work / "layer", work / "merged"
    layer.mkdir()
    merged.mkdir()
    _run(
        ["mount", "-t", "tmpfs", "-o", f"{CHECK_TMPFS},mode=0700", "fossp-check", layer],
        f"mount a tmpfs for an overlay over {root}",
        timeout=60,
    )
    upper, overlay_work = layer / "upper", layer / "work"
    upper.mkdir()
    overlay_work.mkdir()
    options = f"lowerdir={root},upperdir={upper},workdir={overlay_work},nosuid"
    _run(["mount", "-t", "overlay", "overlay", "-o", options, merged], f"mount an overlay over {root}", timeout=60)
    return merged


@contextlib.contextmanager
def _pristine(root: Path, work: Path, report: Report) -> Iterator[Path]:
    """A throwaway copy of ``root`` for one check: an overlay, or a reflink copy without overlayfs."""
    try:
        merged = _mount_overlay(root, work)
        mounted = True
    except ScratchError as error:
        report(f"overlayfs unavailable ({error.message}); copying the scratch root instead")
        merged = work / "copy"
        _run(["cp", "-a", "--reflink=auto", root, merged], f"copy {root} for a check", timeout=1800)
        mounted = False
    try:
        yield merged
    finally:
        if mounted:
            _unmount(merged)


def _trim(text: str, limit: int = OUTPUT_LIMIT) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters left out ...]\n{text[-half:]}"


def _skipped(role: str, check: CheckSpec, why: str) -> ConfigCheck:
    return ConfigCheck(role, tuple(check.command), ok=False, skipped=why)


def _original(root: Path, name: str) -> tuple[bytes, int] | None:
    """The scratch root's own regular file ``name`` (content, mode), None when it has none."""
    try:
        path = _walk_to(root, name, create=False)
        info = os.lstat(path)
    except (BadInput, OSError):
        return None
    return (path.read_bytes(), stat.S_IMODE(info.st_mode)) if stat.S_ISREG(info.st_mode) else None


def _make_writable(root: Path, names: Iterable[str]) -> None:
    """Create the folders ``names`` (relative) where missing and give them to the checker, links not followed."""
    for name in names:
        target = _walk_to(root, name, create=True)
        if not os.path.lexists(target):
            os.mkdir(target, 0o755)
        if not stat.S_ISDIR(os.lstat(target).st_mode):
            raise BadInput(f"'/{name}' is not a folder; it cannot be made writable for the checker")
        os.chown(target, CHECKER_UID, CHECKER_GID, follow_symlinks=False)
        for folder, subfolders, files in os.walk(target):
            for entry in (*subfolders, *files):
                os.chown(os.path.join(folder, entry), CHECKER_UID, CHECKER_GID, follow_symlinks=False)


def _put_in_place(root: Path, merged: Path, check: CheckSpec, host: HostArchive, members: list[Member]) -> None:
    """The host's paths in place of the package's, the kept files restored, the writable folders given away."""
    kept = {name: _original(root, name) for name in (path.lstrip("/") for path in check.keep)}
    for path in check.paths:
        _clear(_walk_to(merged, path.lstrip("/"), create=False))
    extract_members(host, members, merged, owner=(CHECKER_UID, CHECKER_GID))
    for name, original in kept.items():
        if original is not None:
            _write_in_root(merged, name, original[0], original[1])
    _make_writable(merged, (path.lstrip("/") for path in check.writable))


def _check_one(root: Path, base: Path, role: str, check: CheckSpec, host: HostArchive, report: Report) -> ConfigCheck:
    command = tuple(check.command)
    members = host.under(check.paths)
    if not members:
        return _skipped(role, check, f"the host's archive has none of {', '.join(check.paths)}")
    kept = [path.lstrip("/") for path in check.keep]
    members = [(n, m) for n, m in members if not any(n == k or n.startswith(k + "/") for k in kept)]
    for name, member in members:
        why = loadable_member(host, member)
        if why is not None:
            return _skipped(
                role, check, f"the host's /{name} {why}: code `{command[0]}` could load or run; not checked"
            )
    checks = base / "checks"
    checks.mkdir(mode=0o700, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{role}-", dir=checks))
    try:
        with _pristine(root, work, report) as merged:
            try:
                _put_in_place(root, merged, check, host, members)
            except (BadInput, OSError, tarfile.TarError) as error:
                reason = error.message if isinstance(error, BadInput) else str(error)
                return _skipped(role, check, f"the host's configuration cannot be put in place: {reason}")
            report(f"checking {role} with `{' '.join(command)}` ({base.name}, isolated, uid {CHECKER_UID})")
            code, output = _run_sandboxed(merged, command, CHECK_TIMEOUT)
    except ScratchError as error:  # no overlay and no copy, or an unmount that failed
        return _skipped(role, check, error.message)
    finally:
        _remove_tree(work)  # raises when something stays mounted there
    if code is None:
        return _skipped(role, check, f"`{' '.join(command)}` timed out after {CHECK_TIMEOUT:.0f} s")
    if code in (125, 126, 127) and output.startswith("chroot:"):
        return _skipped(role, check, f"{command[0]} cannot run in the scratch root: {_trim(output, 300)}")
    if code != 0 and output.startswith(tuple(f"{tool}:" for tool in SANDBOX_TOOLS if tool != "chroot")):
        return _skipped(role, check, f"the checker cannot be isolated on this controller: {_trim(output, 300)}")
    return ConfigCheck(role, command, ok=code == 0, output=_trim(output))


def _prepare(
    spec: SuiteSpec, checks: list[tuple[str, CheckSpec]], report: Report
) -> tuple[Path | None, dict[str, str]]:
    """The scratch root with every checker installed, and why each role that could not be is skipped."""
    everything = list(dict.fromkeys(package for _, check in checks for package in check.packages))
    try:
        return scratch_root(spec, everything, report), {}
    except FosspError as error:
        first_error = error.message
    try:
        root = scratch_root(spec, [], report)
    except FosspError as error:
        why = f"the {spec.key} scratch root cannot be built: {error.message}"
        return None, {role: why for role, _ in checks}
    if len(checks) == 1:
        return root, {checks[0][0]: f"the checker's packages cannot be installed: {first_error}"}
    skipped = {}
    for role, check in checks:
        try:
            scratch_root(spec, list(check.packages), report)
        except FosspError as error:
            skipped[role] = f"the checker's packages cannot be installed: {error.message}"
    return root, skipped


def run_config_checks(
    spec: SuiteSpec, roles: list[str], family: str, host_files: bytes, report: Report = _quiet
) -> list[ConfigCheck]:
    """Run the target release's checker of each of ``roles`` against the host's configuration.

    ``host_files`` is a tar of the host's configuration (relative to /, as made by
    ``host_tar_argv(config_folders(roles, family))``). Roles without a checker for
    ``family`` are left out of the result; a checker that cannot run (no scratch root,
    a package missing in the target, an unsafe archive) comes back with ``skipped``.
    """
    checks = _checks_for(roles, family)
    if not checks:
        return []
    if _family(family) is not Family.DEBIAN:
        why = f"scratch roots are Debian roots made with debootstrap; {family} checks cannot run on this controller"
        return [_skipped(role, check, why) for role, check in checks]
    try:
        host = read_host_archive(host_files)
    except BadInput as error:
        return [_skipped(role, check, error.message) for role, check in checks]
    missing = [tool for tool in SANDBOX_TOOLS if shutil.which(tool) is None]
    if missing:
        why = f"the checkers' sandbox needs {', '.join(missing)} (util-linux, coreutils), not found here"
        return [_skipped(role, check, why) for role, check in checks]
    root, skipped = _prepare(spec, checks, report)
    results = []
    base = _base(spec)
    with _locked(base, exclusive=False, report=report):
        for role, check in checks:
            if root is None or role in skipped:
                results.append(_skipped(role, check, skipped[role]))
            else:
                results.append(_check_one(root, base, role, check, host, report))
    return results
