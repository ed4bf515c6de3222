"""FOSSP's first boot on a host an installer makes: FOSSP installed from a wheelhouse and
``fossp-firstboot.service``, which deploys the profile on the host itself at its first boot.

An offline root gets these files from :mod:`fossp.build.offline`; a kickstart's %post and a
preseed's late command get them as the shell script :func:`install_script` writes, because
the installer, not FOSSP, makes those hosts. The unit then does what the media cannot: the
profile's settings, config files, databases and probes, through the same live plan as
`fossp deploy` from a controller.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fossp.catalog import Family
from fossp.errors import BadInput, FosspError

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog
    from fossp.selection.profile import Profile

FIRSTBOOT_DIR = "/var/lib/fossp/firstboot"
VENV = "/usr/lib/fossp/venv"
UNIT = "fossp-firstboot.service"
#: What FOSSP itself needs on a host (the distribution's Augeas binding: no compiler needed).
HOST_PACKAGES = {Family.DEBIAN: ("python3-venv", "python3-augeas"), Family.FEDORA: ("python3", "python3-augeas")}


def unit_text(unit: str, units: list[str]) -> str:
    """A unit of FOSSP's first boot from the package's data, ordered after ``units``."""
    text = resources.files("fossp").joinpath("data", "build", unit).read_text()
    return text.replace("@UNITS@", " ".join(units))


def installer_profile(profile: Profile, catalog: Catalog, where: str) -> str:
    """The profile a first boot deploys, as given (FOSSP makes generated secrets on the host).
    A secret given as ``{from_env: ...}`` or ``{from_file: ...}`` is refused: the controller's
    environment and files are not on the installed host."""
    from fossp.secrets import reference
    from fossp.selection.profile import dump_profile

    for choice in profile.roles:
        for name, value in choice.settings.items():
            if reference(value) is not None:
                raise BadInput(
                    f"{where}: {catalog.roles[choice.id].name}.{name} is a reference to the controller's "
                    "environment or files, which the installed host does not have: give the value "
                    "in the profile (the output is then written 0600) or leave it for FOSSP to generate"
                )
    return dump_profile(profile)


def firstboot_script(source: str, profile_text: str, units: list[str]) -> str:
    """A POSIX shell script that, on the installed system, installs FOSSP from ``source`` (a
    wheelhouse: a folder or an http(s) URL whose page links FOSSP's wheels, as
    `fossp build wheels` writes; a plain-HTTP host is trusted as given, so serve it on the
    install network only) and enables the first-boot unit with the profile (0600)."""
    unit = unit_text(UNIT, units)
    host = urlsplit(source).hostname if source.startswith("http://") else None
    trusted = f" --trusted-host {shlex.quote(host)}" if host else ""  # pip ignores plain HTTP otherwise
    return "\n".join(
        [
            "# FOSSP: install FOSSP and its first boot, which deploys the profile below on this host",
            "set -eu",
            f"python3 -m venv --system-site-packages {VENV}",
            f"{VENV}/bin/pip install -q --no-index --find-links {shlex.quote(source)}{trusted} fossp",
            f"mkdir -p {FIRSTBOOT_DIR}",
            f"chmod 700 {FIRSTBOOT_DIR}",
            "(",
            "umask 077",
            _here_document(f"{FIRSTBOOT_DIR}/profile.yaml", profile_text),
            ")",
            _here_document(f"/etc/systemd/system/{UNIT}", unit),
            f"systemctl enable {UNIT}",
            "",
        ]
    )


def _here_document(path: str, text: str) -> str:
    """``cat > path`` of ``text`` verbatim (a quoted delimiter: no expansion in the shell),
    the delimiter chosen so that no line of ``text`` ends it early."""
    delimiter = "FOSSP_END"
    while delimiter in text.splitlines():
        delimiter += "_"
    body = text if text.endswith("\n") else text + "\n"
    return f"cat > {path} <<'{delimiter}'\n{body}{delimiter}"


#: the wheel platforms of the Fedora and Debian releases FOSSP installs on (x86_64, glibc >= 2.17)
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64", "linux_x86_64")


def write_wheelhouse(folder: Path, python: str | None) -> list[str]:
    """FOSSP and its dependencies as wheels in ``folder`` for the installed host's Python
    (``python``: "3.13"; None: this controller's), which `--fossp-source` serves. Another
    Python takes only published binary wheels (pip download), built for its version."""
    from fossp.build.offline import ensure_wheels, project_dir
    from fossp.lab.paths import LabPaths

    if python is not None and not re.fullmatch(r"3\.\d{1,2}", python):
        raise BadInput(f"--python {python!r}: a Python version such as 3.13")
    if python is None or python == f"{sys.version_info.major}.{sys.version_info.minor}":
        ensure_wheels(LabPaths.current().root / "wheels", folder)
        return sorted(wheel.name for wheel in folder.glob("*.whl"))
    folder.mkdir(parents=True, exist_ok=True)
    _pip(["wheel", "-q", "--no-deps", "-w", str(folder), str(project_dir())])
    (own,) = folder.glob("fossp-*.whl")
    platforms = [argument for platform in PLATFORMS for argument in ("--platform", platform)]
    _pip(["download", "-q", "--only-binary=:all:", "--python-version", python, *platforms, "-d", str(folder), str(own)])
    return sorted(wheel.name for wheel in folder.glob("*.whl"))


def _pip(arguments: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *arguments], capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise FosspError(f"pip {arguments[0]} failed: {result.stderr.strip()[-800:]}")
