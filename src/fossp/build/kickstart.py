"""Kickstart files for the Fedora family: the platform and the chosen roles' packages on
FOSSP's BTRFS layout (``@`` at ``/``, ``@home``, ``@snapshots``), checked by pykickstart.

The text is parsed by pykickstart's own handler for the Fedora release and written back
from its object model, so what FOSSP hands out is what Anaconda will read. The check adds
what pykickstart's validator misses: a ``btrfs`` volume whose member no ``part`` defines,
and the subvolumes FOSSP's snapshots and restore rely on.
"""

from __future__ import annotations

import shlex
import warnings

from fossp.build.common import Finding, check_roles, defaults
from fossp.build.firstboot import HOST_PACKAGES
from fossp.catalog.schema import Family, Role
from fossp.errors import BadInput
from fossp.platform.osrelease import install_script

SUBVOLUMES = (("@", "/"), ("@home", "/home"), ("@snapshots", "/.snapshots"))
VOLUME_LABEL = "fossp"
OLDEST_FEDORA = 38  # the first release whose pykickstart handler accepts FOSSP's layout


def fedora_releases() -> list[int]:
    """The Fedora releases this pykickstart knows and FOSSP's layout installs on."""
    from pykickstart.version import versionMap

    found = {int(name[1:]) for name in versionMap if name.startswith("F") and name[1:].isdigit()}
    return sorted(n for n in found if n >= OLDEST_FEDORA)


def _release(fedora: int | None) -> int:
    known = fedora_releases()
    if fedora is None:
        from pykickstart.version import versionMap

        return max(n for n in known if versionMap[f"F{n}"] != versionMap["DEVEL"])
    if fedora not in known:
        raise BadInput(
            f"--fedora {fedora}: FOSSP's kickstart needs Fedora {known[0]}-{known[-1]} "
            "(older handlers and RHEL refuse its BTRFS layout)"
        )
    return fedora


def _role_lines(roles: list[Role]) -> dict[str, list[str]]:
    """Packages, units, firewalld services and ports of single-host roles on Fedora."""
    check_roles(roles, Family.FEDORA, "a kickstart")
    found: dict[str, list[str]] = {"packages": [], "units": [], "services": [], "ports": []}
    for role in roles:
        found["packages"] += role.packages_for(Family.FEDORA)
        found["units"] += role.units_for(Family.FEDORA, defaults(role))
        found["services"] += role.firewall.services
        found["ports"] += _uncovered_ports(role)
    return {key: list(dict.fromkeys(items)) for key, items in found.items()}


def _uncovered_ports(role: Role) -> list[str]:
    """The role's exposed default ports that none of its firewalld services opens, as
    kickstart's ``firewall --port`` writes them (``8000:tcp``, ``10000-20000:udp``)."""
    from fossp.engine.access import Span, firewalld_services, uncovered

    known = firewalld_services()
    covered = [span for service in role.firewall.services for span in known.get(service, [])]
    spans = [Span(p.protocol.value, p.port, p.to_port or p.port) for p in role.ports if p.expose]
    gaps = [gap for span in spans for gap in uncovered(span, covered)]
    return [f"{g.low}:{g.protocol}" if g.low == g.high else f"{g.low}-{g.high}:{g.protocol}" for g in gaps]


def kickstart_text(
    roles: list[Role],
    platform_packages: list[str],
    fedora: int | None = None,
    hostname: str = "fossp",
    ssh_key: str | None = None,
    disk_gib: int = 20,
    first_boot: str | None = None,
) -> str:
    """The kickstart installing ``roles`` (their packages, units enabled, firewall open);
    ``first_boot`` is the script (:func:`fossp.build.firstboot.firstboot_script`) its %post
    runs so that the host deploys the profile, settings included, at its first boot."""
    release = _release(fedora)
    wanted = _role_lines(roles)
    if first_boot:
        wanted["packages"] += HOST_PACKAGES[Family.FEDORA]
    services, ports = ["ssh", *wanted["services"]], wanted["ports"]
    lines = [
        "text",
        "lang en_US.UTF-8",
        "keyboard us",
        "timezone UTC --utc",
        "rootpw --lock",
        f"network --bootproto=dhcp --hostname={hostname}",
        "selinux --enforcing",
        f"firewall --enabled --service={','.join(services)}" + (f" --port={','.join(ports)}" if ports else ""),
        f"services --enabled={','.join(['sshd', *wanted['units']])}",
        "zerombr",
        "clearpart --all --initlabel",
        "reqpart",
        "part /boot --fstype=ext4 --size=1024",
        f"part btrfs.01 --fstype=btrfs --size={disk_gib * 1024} --grow",
        f"btrfs none --label={VOLUME_LABEL} btrfs.01",
        *(f"btrfs {mount} --subvol --name={name} LABEL={VOLUME_LABEL}" for name, mount in SUBVOLUMES),
        "bootloader --location=mbr --timeout=1",
        "reboot",
    ]
    if ssh_key:
        lines.append(f"sshkey --username=root {shlex.quote(ssh_key)}")
    lines += ["", "%packages", "@core", *dict.fromkeys([*platform_packages, *wanted["packages"]]), "%end", ""]
    post = [install_script([role.id for role in roles]), *([first_boot] if first_boot else [])]
    lines += ["%post --erroronfail", *(script.rstrip("\n") for script in post), "%end", ""]
    handler, findings = _parse("\n".join(lines), release)
    if findings:
        raise BadInput(f"FOSSP wrote a kickstart pykickstart refuses: line {findings[0].line}: {findings[0].message}")
    return str(handler)


def _parse(text: str, release: int) -> tuple[object, list[Finding]]:
    from pykickstart.errors import KickstartError, KickstartParseWarning
    from pykickstart.parser import KickstartParser
    from pykickstart.version import makeVersion

    parser = KickstartParser(makeVersion(f"F{release}"))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=KickstartParseWarning)
        try:
            parser.readKickstartFromString(text)
        except (KickstartError, KickstartParseWarning) as error:
            return parser.handler, [Finding(getattr(error, "lineno", 0) or 0, str(error).strip())]
    return parser.handler, _layout_findings(parser.handler)


def _layout_findings(handler: object) -> list[Finding]:
    """What pykickstart accepts but Anaconda or FOSSP cannot use."""
    defined = {part.mountpoint for part in handler.partition.partitions}  # type: ignore[attr-defined]
    volumes = [b for b in handler.btrfs.btrfsList if not b.subvol]  # type: ignore[attr-defined]
    findings = [
        Finding(volume.lineno, f"btrfs volume {volume.label or volume.mountpoint}: member {member} is no part")
        for volume in volumes
        for member in volume.devices
        if member not in defined
    ]
    mounted = {b.name: b.mountpoint for b in handler.btrfs.btrfsList if b.subvol}  # type: ignore[attr-defined]
    findings += [
        Finding(0, f"subvolume {name} must be mounted at {mount} (FOSSP's snapshots and restore use it)")
        for name, mount in SUBVOLUMES
        if mounted.get(name) != mount
    ]
    return findings


def check_kickstart(text: str, fedora: int | None = None) -> list[Finding]:
    """pykickstart's validation for the release, then FOSSP's layout: empty when good."""
    return _parse(text, _release(fedora))[1]
