"""Offline roots: a profile's roles applied to a Debian root folder that has never booted.

The root starts as a snapshot of the lab's debootstrap base in the lab pool (BTRFS, so
the roles' data folders become subvolumes as on a live host). FOSSP's own planner deploys
the profile into it through a chroot, from the lab's package repository: packages, files,
Augeas edits, enabled units. What needs a running service is deferred: FOSSP is installed
in the root (/usr/lib/fossp/venv) and fossp-firstboot.service runs `fossp deploy` there at
the first boot, whose live plan finds everything else done. Images and OS containers are
this root, packaged.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fossp.build.firstboot import FIRSTBOOT_DIR, VENV, unit_text
from fossp.build.firstboot import HOST_PACKAGES as FIRSTBOOT_PACKAGES
from fossp.build.firstboot import UNIT as FIRSTBOOT_UNIT
from fossp.catalog import Family
from fossp.engine.operations import Operation, OpKind
from fossp.engine.planner import Wanted
from fossp.errors import BadInput, FosspError

if TYPE_CHECKING:
    from fossp.engine.apply import Outcome

HOST_PACKAGES = FIRSTBOOT_PACKAGES[Family.DEBIAN]
REPO_BIND = "/srv/fossp-repo"
WHEELS_BIND = "/srv/fossp-wheels"
DEBIAN_SOURCES = """\
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://security.debian.org/debian-security bookworm-security main
"""
UNITS = (FIRSTBOOT_UNIT, "fossp-ssh-hostkeys.service")
Report = Callable[[str], None]


@dataclass
class BuildInput:
    """A profile checked for an offline build: every problem is known before long work."""

    profile: Path
    wanted: list[Wanted]

    @property
    def role_ids(self) -> list[str]:
        return [w.role.id for w in self.wanted]

    def firstboot_profile(self) -> str:
        """The profile the first boot deploys: the roles with the settings resolved now
        (generated secrets included, so the first boot uses the same values)."""
        from fossp.selection.profile import Profile, RoleChoice, dump_profile

        roles = [RoleChoice(id=w.role.id, settings=w.settings) for w in self.wanted]
        return dump_profile(Profile(description=f"built from {self.profile.name}", roles=roles))


def check_profile(profile: Path) -> BuildInput:
    """The profile's roles as an offline Debian build takes them (BadInput naming the first
    problem): known, single-host, packaged for Debian, with a recipe, not in conflict."""
    from fossp.build.common import check_roles
    from fossp.catalog.status import governed_catalog
    from fossp.engine.planner import wanted_roles
    from fossp.engine.recipe import load_recipe
    from fossp.engine.recipe_files import has_recipe
    from fossp.selection.profile import load_profile

    catalog = governed_catalog()
    loaded = load_profile(profile, catalog)
    if not loaded.roles:
        raise BadInput(f"{profile}: no roles to build")
    roles = [catalog.roles[choice.id] for choice in loaded.roles]
    check_roles(roles, Family.DEBIAN, str(profile))
    for role in roles:
        if not has_recipe(role.name):
            raise BadInput(f"{profile}: FOSSP has no deploy recipe for {role.id} ({role.implementation})")
        load_recipe(role.name)
    choices = [(choice.id, dict(choice.settings)) for choice in loaded.roles]
    wanted = wanted_roles(catalog, choices, {}, str(profile))
    return BuildInput(profile, wanted)


@dataclass
class Steps:
    """Progress by step with elapsed time (stderr lines, or a caller's report)."""

    report: Report
    started: float = field(default_factory=time.monotonic)
    done: list[dict[str, Any]] = field(default_factory=list)

    def step(self, name: str) -> None:
        elapsed = time.monotonic() - self.started
        if self.done:
            self.done[-1]["seconds"] = round(elapsed - self.done[-1]["start_seconds"], 1)
        self.done.append({"step": name, "start_seconds": round(elapsed, 1)})
        self.report(f"[{elapsed:6.1f} s] {name}")

    def finish(self) -> list[dict[str, Any]]:
        self.step("done")
        return self.done[:-1]


def built_document(build: BuildInput, built: dict[str, Any], steps: Steps) -> dict[str, Any]:
    """The --json document of a build from an offline root (a root, a container, an image):
    the profile's roles, what the build made, and its steps with their times."""
    return {"roles": build.role_ids, **built, "steps": steps.finish()}


def project_dir() -> Path:
    """FOSSP's source tree, which the wheel for the root is built from."""
    here = Path(__file__).resolve().parents[3]
    if not (here / "pyproject.toml").exists():
        raise FosspError(f"FOSSP's source tree is not beside its package ({here}): cannot install it in a root")
    return here


def ensure_wheels(cache: Path, folder: Path) -> None:
    """FOSSP and its dependencies as wheels for the root's Python 3.11, in ``folder`` (this
    build's own: builds side by side never share FOSSP's wheel). The dependencies are
    taken from and kept in ``cache``, so a warm build only makes FOSSP's own wheel."""
    cache.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    argv = [sys.executable, "-m", "pip", "wheel", "-q", "--find-links", str(cache), "-w", str(folder)]
    result = subprocess.run([*argv, str(project_dir())], capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise FosspError(f"pip wheel of FOSSP for the root failed: {result.stderr.strip()[-800:]}")
    for wheel in folder.glob("*.whl"):
        if not wheel.name.startswith("fossp-") and not (cache / wheel.name).exists():
            shutil.copy2(wheel, cache / wheel.name)


def root_folder(name: str) -> Path:
    from fossp.lab.paths import LabPaths

    return LabPaths.current().pool / "builds" / name


@dataclass
class BuiltRoot:
    """A root made by :func:`make_root`: where it is, what the offline deploy did, and
    what it left to the first boot."""

    folder: Path
    applied: list[str]
    deferred: list[str]
    #: the changes the offline deploy made, in order, with their content (an export renders them)
    operations: list[Operation] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"root": str(self.folder), "applied": self.applied, "deferred_to_first_boot": self.deferred}


def make_root(
    build: BuildInput, name: str, steps: Steps, ssh_key: str | None = None, extra_packages: tuple[str, ...] = ()
) -> BuiltRoot:
    """A fresh root in the lab pool with the profile deployed offline and FOSSP's first
    boot ready; build scaffolding (the lab repository, policy-rc.d) removed again, and
    nothing that must differ between hosts (machine ID, SSH host keys) kept. ``ssh_key``
    is a public key root may log in with; ``extra_packages`` are put in the lab repository
    for a later step (an image's kernel)."""
    from fossp.lab import pool
    from fossp.lab.hosts import prepare
    from fossp.lab.paths import LabPaths

    paths = LabPaths.current()
    steps.step("lab repository: the roles' packages")
    prepare(paths, packages=[*HOST_PACKAGES, *extra_packages], roles=[w.role.name for w in build.wanted])
    steps.step("FOSSP wheels for the root")
    wheels = paths.root / "wheels" / "builds" / name
    ensure_wheels(paths.root / "wheels", wheels)
    folder = root_folder(name)
    steps.step(f"root {folder}: a snapshot of the Debian base")
    folder.parent.mkdir(exist_ok=True)
    pool.delete_subvolume(folder)
    pool.snapshot(paths.base, folder)
    _scaffold(folder)
    try:
        outcome = asyncio.run(_deploy(build, folder, ((str(paths.repo), REPO_BIND), (str(wheels), WHEELS_BIND)), steps))
    finally:
        _unscaffold(folder)
        shutil.rmtree(wheels, ignore_errors=True)
    _make_anonymous(folder, ssh_key)
    plan = outcome.plan.operations if outcome.plan else []
    return BuiltRoot(
        folder,
        [f"{op.kind.value} {op.target}" for op in outcome.applied],
        [f"{op.role} {op.target}" for op in plan if op.kind is OpKind.DEFER],
        outcome.applied,
    )


def _scaffold(root: Path) -> None:
    """The lab repository as the root's only source, and no daemon started by a package."""
    from fossp.lab.image import _configure_apt

    _configure_apt(root)
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\n# fossp build: no service starts in a root being built\nexit 101\n")
    policy.chmod(0o755)


def _unscaffold(root: Path) -> None:
    """Debian's own sources back; no lab source, policy-rc.d, package lists or cache."""
    apt = root / "etc" / "apt"
    (root / "usr" / "sbin" / "policy-rc.d").unlink(missing_ok=True)
    for leftover in [apt / "sources.list.d" / "fossp-lab.list", apt / "apt.conf.d" / "90fossp-lab"]:
        leftover.unlink(missing_ok=True)
    (apt / "sources.list").write_text(DEBIAN_SOURCES)
    for cached in [*(root / "var/lib/apt/lists").glob("*_*"), *(root / "var/cache/apt/archives").glob("*.deb")]:
        cached.unlink()
    for leftover in (root / "run").iterdir():  # a booted host mounts a tmpfs here: nothing is kept
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(leftover)], check=True, timeout=60)
    for empty in [root / REPO_BIND.lstrip("/"), root / WHEELS_BIND.lstrip("/")]:
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()


def _make_anonymous(root: Path, ssh_key: str | None) -> None:
    """Every copy of a built root must become a host of its own: systemd makes the machine
    ID at first boot (an empty file), fossp-ssh-hostkeys.service the SSH host keys."""
    (root / "etc" / "machine-id").write_text("")
    for key in (root / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    if ssh_key:
        folder = root / "root" / ".ssh"
        folder.mkdir(mode=0o700, exist_ok=True)
        keys = folder / "authorized_keys"
        keys.write_text(ssh_key + "\n")
        keys.chmod(0o600)


async def _deploy(build: BuildInput, folder: Path, binds: tuple[tuple[str, str], ...], steps: Steps) -> Outcome:
    from fossp.engine.apply import deploy_host
    from fossp.engine.backends import APT
    from fossp.hosts.chroot import ChrootConnector
    from fossp.hosts.timeouts import Timeouts

    connector = ChrootConnector(folder, f"build:{folder.name}", Timeouts(command=1800), binds)
    steps.step(f"deploy offline: {', '.join(build.role_ids)}")
    outcome = await deploy_host(connector, build.wanted, lambda message: None)
    steps.step("FOSSP on the host, for its first boot")
    for argv in APT.install(list(HOST_PACKAGES)):
        await connector.check(argv)
    await connector.check(["python3", "-m", "venv", "--system-site-packages", VENV])
    pip = [f"{VENV}/bin/pip", "install", "-q", "--no-index", "--find-links", WHEELS_BIND, "fossp"]
    await connector.check(pip, timeout=900)
    await _first_boot(build, connector)
    return outcome


async def _first_boot(build: BuildInput, connector: Any) -> None:
    """The profile (0600: it may hold secrets) and the units that finish the roles."""
    units = [unit for w in build.wanted for unit in w.role.units_for(Family.DEBIAN, w.settings)]
    await connector.write_file(f"{FIRSTBOOT_DIR}/profile.yaml", build.firstboot_profile().encode(), 0o600)
    for unit in UNITS:
        await connector.write_file(f"/etc/systemd/system/{unit}", unit_text(unit, units).encode())
    await connector.check(["systemctl", "enable", *UNITS])
