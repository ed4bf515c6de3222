"""Package-manager backends: the argv lists that install and remove packages.

apt for the Debian family, dnf for the Fedora family. dnf acts on an offline root
through ``--installroot``; apt cannot run maintainer scripts outside the root, so a
Debian root is reached through a chroot (fossp.hosts.chroot) and apt runs as on a host. Removal is checked first with
a dry run, so decommission never takes away a package FOSSP did not install. Before an
install, a dry run names every package it will add (dependencies included), so the
ledger knows them before the first one lands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fossp.catalog.schema import Family
from fossp.errors import BadInput
from fossp.hosts.facts import Facts

APT_ENV = ["env", "DEBIAN_FRONTEND=noninteractive", "NEEDRESTART_MODE=a"]
#: Decommission purges only packages FOSSP installed. sudo's prerm refuses to go on a host
#: with no root password (lest the admin be locked out) unless told; where FOSSP pulled
#: it in (python3-oslo.rootwrap depends on it), the host was reached without it before.
APT_PURGE_ENV = [*APT_ENV, "SUDO_FORCE_REMOVE=yes"]
#: A package manager that starts during the run (unattended-upgrades) is waited for too.
APT_OPTIONS = [
    "-y",
    "-q",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
    "-o",
    "DPkg::Lock::Timeout=300",
]


@dataclass(frozen=True)
class Backend:
    """How one package manager installs, removes and dry-runs a removal."""

    name: str
    install_argv: tuple[str, ...]
    remove_argv: tuple[str, ...]
    check_remove_argv: tuple[str, ...]
    refresh_argv: tuple[str, ...]  # run before an install (empty: the manager refreshes itself)
    list_argv: tuple[str, ...]  # installed packages as ``ii NAME VERSION`` lines
    affected_pattern: str  # a line of the dry run naming a package the removal takes along
    predict_argv: tuple[str, ...]  # a dry run of the install
    repair_argv: tuple[str, ...]  # finishes work a killed run left (empty: nothing to finish)

    def predict(self, packages: list[str]) -> list[str]:
        return [*self.predict_argv, *packages]

    def predicted(self, dry_run_output: str) -> list[str]:
        """The packages an install dry run says it would add."""
        if self.name == "apt":
            return sorted(set(re.findall(r"^Inst (\S+) (?!\[)", dry_run_output, re.MULTILINE)))
        return parse_dnf_transaction(dry_run_output)

    def install(self, packages: list[str]) -> list[list[str]]:
        refresh = [list(self.refresh_argv)] if self.refresh_argv else []
        return [*refresh, [*self.install_argv, *packages]]

    def remove(self, packages: list[str]) -> list[str]:
        return [*self.remove_argv, *packages]

    def check_remove(self, packages: list[str]) -> list[str]:
        return [*self.check_remove_argv, *packages]

    def others_affected(self, dry_run_output: str, packages: list[str]) -> set[str]:
        """Packages besides ``packages`` that the removal would take away or break."""
        return set(re.findall(self.affected_pattern, dry_run_output, re.MULTILINE)) - set(packages)


APT = Backend(
    name="apt",
    install_argv=(*APT_ENV, "apt-get", "install", "--no-install-recommends", *APT_OPTIONS),
    remove_argv=(*APT_PURGE_ENV, "apt-get", "purge", *APT_OPTIONS),
    check_remove_argv=("apt-get", "-s", "purge"),
    refresh_argv=(*APT_ENV, "apt-get", "update", "-q"),
    list_argv=("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n"),
    affected_pattern=r"^(?:Purg|Remv) (\S+)",
    predict_argv=("apt-get", "-s", "install", "--no-install-recommends"),
    repair_argv=(*APT_ENV, "dpkg", "--configure", "-a", "--force-confdef", "--force-confold"),
)

_ARCHES = {"noarch", "x86_64", "aarch64", "i686", "ppc64le", "s390x"}


def parse_dnf_transaction(text: str) -> list[str]:
    """Package names under dnf's ``Installing...:`` headings (a name too long for its
    column is wrapped onto a line of its own, the rest follows on the next line)."""
    names: set[str] = set()
    installing = False
    for line in text.splitlines():
        if line and not line.startswith(" "):
            installing = line.startswith("Installing")
            continue
        fields = line.split()
        if installing and fields and fields[0] not in _ARCHES:
            names.add(fields[0])
    return sorted(names)


def dnf_backend(root: str | None, release: str) -> Backend:
    """dnf, with ``--installroot`` (and a release version) for an offline root."""
    prefix: tuple[str, ...] = ("dnf", "-y", "-q")
    if root:
        prefix += (f"--installroot={root}", f"--releasever={release or '/'}")
    no_autoremove = "--setopt=clean_requirements_on_remove=False"
    root_option = ("--root", root) if root else ()
    return Backend(
        name="dnf",
        install_argv=(*prefix, "install"),
        remove_argv=(*prefix, no_autoremove, "remove"),
        check_remove_argv=("rpm", *root_option, "-e", "--test"),
        refresh_argv=(),
        list_argv=("rpm", *root_option, "-qa", "--qf", "ii  %{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\n"),
        affected_pattern=r"is needed by \(installed\) (\S+)",
        predict_argv=(*prefix[:1], *prefix[3:], "--assumeno", "install"),
        repair_argv=(),
    )


def backend_for(facts: Facts) -> Backend:
    """The backend for the host's family; a Debian root is worked on from inside (chroot)."""
    if facts.family is Family.FEDORA:
        return dnf_backend(facts.root_prefix or None, facts.os.version_id)
    if facts.family is Family.DEBIAN:
        if facts.root_prefix:
            raise BadInput(
                f"{facts.host}: apt cannot install into a Debian root from outside it "
                "(its maintainer scripts run in the root): use a chroot connection"
            )
        return APT
    raise BadInput(f"{facts.host}: no package backend for OS {facts.os.id!r} (families: fedora, debian)")
