"""Running the controller's tools: argv lists only, and one clear error when a step fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from fossp.errors import FosspError

#: Debian packages that provide the tools the lab runs (installed by scripts/setup.d/lab.sh).
TOOL_PACKAGES = {
    "debootstrap": "debootstrap",
    "mkfs.btrfs": "btrfs-progs",
    "btrfs": "btrfs-progs",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "apt-ftparchive": "apt-utils",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "losetup": "mount",
}


class LabError(FosspError):
    """A lab step failed here: a missing tool, a failed command, a host that won't boot."""

    code = "lab_failed"


def require_root() -> None:
    """The lab makes namespaces, loop mounts and network links, which all need root."""
    if os.geteuid() != 0:
        raise LabError("fossp lab needs root (namespaces, loop mounts, network links)")


def require_tools(*tools: str) -> None:
    """Fail early with the package to install rather than midway with 'No such file'."""
    for tool in tools:
        if shutil.which(tool) is None:
            package = TOOL_PACKAGES.get(tool, tool)
            raise LabError(
                f"{tool} not found; install it with `apt-get install {package}` (or run scripts/setup.d/lab.sh)"
            )


def run(
    argv: Sequence[str | Path],
    what: str,
    *,
    check: bool = True,
    timeout: float | None = 600,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (never through a shell); on failure raise a LabError naming ``what``."""
    args = [str(arg) for arg in argv]
    try:
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=cwd,
        )
    except FileNotFoundError as error:
        raise LabError(f"{what}: {args[0]} not found") from error
    except subprocess.TimeoutExpired as error:
        raise LabError(f"{what}: `{' '.join(args)}` timed out after {timeout} s") from error
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        tail = detail[-1] if detail else f"exit {result.returncode}"
        raise LabError(f"{what}: `{' '.join(args)}` failed: {tail}")
    return result


def tail(path: Path, lines: int = 15) -> str:
    """The end of a log file, for error messages about a host that did not come up."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
