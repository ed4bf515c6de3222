"""The lab's local apt repository: lab hosts have no outside network, so the
controller downloads what they may install and the hosts read it through a
read-only bind mount.

The repository holds the packages asked for plus every dependency the cached base
lacks, found by running apt against the base's dpkg status. Adding packages is
incremental: apt downloads only the .deb files that are not there yet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from fossp.errors import BadInput
from fossp.lab.paths import LabPaths
from fossp.lab.system import LabError, require_tools, run

DEFAULT_ROLES = ("postgresql", "nginx", "bind")
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
APT_LISTS = Path("/var/lib/apt/lists")


def role_packages(roles: list[str]) -> list[str]:
    """The Debian packages of catalog roles (BadInput naming an unknown role)."""
    if not roles:
        return []
    from fossp.catalog import load_catalog
    from fossp.catalog.schema import Family

    catalog = load_catalog()
    packages: list[str] = []
    for ref in roles:
        role = catalog.role(ref)
        implementation = role.packages.get(Family.DEBIAN)
        if implementation is None:
            raise BadInput(f"role {ref!r} has no Debian packages in the catalog")
        packages.extend(implementation.packages)
    return packages


def validate_packages(packages: list[str]) -> list[str]:
    for package in packages:
        if not PACKAGE_RE.fullmatch(package):
            raise BadInput(f"package name {package!r}: not a Debian package name")
    return packages


def _state_file(paths: LabPaths) -> Path:
    return paths.repo / "fossp-repo.json"


def repo_state(paths: LabPaths) -> dict[str, list[str]]:
    """The roles and packages asked for so far (dependencies are in the repository too)."""
    try:
        state = json.loads(_state_file(paths).read_text())
        return {"roles": list(state["roles"]), "packages": list(state["packages"])}
    except (FileNotFoundError, KeyError, ValueError, TypeError):
        return {"roles": [], "packages": []}


def _ensure_apt_lists() -> None:
    """The controller's package lists drive dependency resolution; fetch them if absent."""
    if not any(APT_LISTS.glob("*_Packages*")):
        run(["apt-get", "update", "-qq"], "apt-get update on the controller", timeout=900)


def _download(paths: LabPaths, packages: list[str]) -> None:
    status = paths.base / "var" / "lib" / "dpkg" / "status"
    (paths.repo / "partial").mkdir(parents=True, exist_ok=True)
    result = run(
        [
            "apt-get",
            "-q",
            "-y",
            "--download-only",
            "--no-install-recommends",
            "-o",
            f"Dir::State::status={status}",
            "-o",
            f"Dir::Cache::archives={paths.repo}",
            "-o",
            "Debug::NoLocking=true",
            "-o",
            "APT::Sandbox::User=root",
            "install",
            *packages,
        ],
        "download packages for the lab repository",
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.startswith("E:")]
        message = lines[0][3:] if lines else result.stderr.strip()[-300:]
        if "Unable to locate package" in message or "has no installation candidate" in message:
            raise BadInput(f"lab repository: {message}")
        raise LabError(f"download packages for the lab repository: {message}")


def _index(paths: LabPaths) -> None:
    """Write Packages and Release so apt inside the hosts accepts the flat repository."""
    require_tools("apt-ftparchive")
    packages = run(["apt-ftparchive", "packages", "."], "index the lab repository", cwd=paths.repo).stdout
    (paths.repo / "Packages").write_text(packages)
    release = run(["apt-ftparchive", "release", "."], "index the lab repository", cwd=paths.repo).stdout
    (paths.repo / "Release").write_text(release)


def ensure_repo(
    paths: LabPaths, packages: list[str], roles: list[str], report: Callable[[str], None]
) -> dict[str, list[str]]:
    """Make sure ``packages`` and those of ``roles`` (with dependencies) are in the repository.

    Callers hold the lab lock and have built the base. Roles already in the repository
    are not looked up again, so a warm `up` never reads the catalog. Only the packages
    not there yet are resolved, on their own: packages that no host installs together
    (busybox and busybox-static) can both be in the repository.
    """
    state = repo_state(paths)
    new_roles = [role for role in dict.fromkeys(roles) if role not in state["roles"]]
    missing = sorted(set(validate_packages(list(packages)) + role_packages(new_roles)) - set(state["packages"]))
    indexed = (paths.repo / "Release").exists()
    if not new_roles and not missing and indexed:
        return state
    if missing:
        report("filling the local package repository")
        _ensure_apt_lists()
        _download(paths, missing)
    if missing or not indexed:
        _index(paths)
    state = {
        "roles": sorted(set(state["roles"]) | set(new_roles)),
        "packages": sorted(set(state["packages"]) | set(missing)),
    }
    _state_file(paths).write_text(json.dumps(state, indent=2) + "\n")
    return state
