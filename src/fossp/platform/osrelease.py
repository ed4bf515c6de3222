"""The FOSSP keys in os-release(5): a host, image or container says it is a FOSSP server,
which FOSSP release and level it follows and which roles it carries.

/etc/os-release is derived, never edited by hand: the distribution's own file
(/usr/lib/os-release, which /etc/os-release links to as shipped) plus FOSSP's lines. Every
deploy and decommission writes it again from the roles then on the host; with no role left
the distribution's link comes back. So it needs no ledger entry: it is always recomputed.
"""

from __future__ import annotations

from datetime import date

from fossp.engine.operations import Operation, OpKind, noop
from fossp.hosts.facts import Facts

ETC = "/etc/os-release"
VENDOR = "/usr/lib/os-release"
VARIANT = 'VARIANT="FOSSP Server"'
#: FOSSP's keys: os-release(5) reserves no namespace; vendor keys carry a vendor prefix.
OWN_KEYS = ("VARIANT", "VARIANT_ID", "SUPPORT_END", "FOSSP_RELEASE", "FOSSP_RELEASE_LEVEL", "FOSSP_ROLES")
#: Written with the content as an argument, never through the shell's text: atomic rename.
WRITE = 'printf "%s" "$1" > "$2.fossp-tmp" && chmod 644 "$2.fossp-tmp" && mv -f -- "$2.fossp-tmp" "$2"'
RELINK = 'ln -sfn ../usr/lib/os-release "$1.fossp-tmp" && mv -Tf -- "$1.fossp-tmp" "$1"'


def fossp_lines(roles: list[str], vendor_support_end: str | None) -> list[str]:
    """FOSSP's lines: the platform release and its level, the roles, and the support end
    (the earlier of FOSSP's and the distribution's, where either is known)."""
    from fossp.lifecycle.releases import level_of, platform_releases

    releases = platform_releases()
    release = releases[-1]
    ends = [d for d in (release.support_end, _date(vendor_support_end)) if d is not None]
    lines = [VARIANT, "VARIANT_ID=fossp-server"]
    lines += [f"SUPPORT_END={min(ends).isoformat()}"] if ends else []
    lines += [f"FOSSP_RELEASE={release.version}", f"FOSSP_RELEASE_LEVEL={level_of(releases, len(releases) - 1)}"]
    return [*lines, f'FOSSP_ROLES="{" ".join(roles)}"']


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def os_release_text(vendor: str, roles: list[str]) -> str:
    """The distribution's lines without the keys FOSSP sets, then FOSSP's."""
    kept, support_end = [], None
    for line in vendor.splitlines():
        key = line.partition("=")[0].strip()
        if key == "SUPPORT_END":
            support_end = line.partition("=")[2].strip().strip("'\"")
        if key not in OWN_KEYS:
            kept.append(line)
    return "\n".join([*kept, *fossp_lines(roles, support_end)]) + "\n"


def install_script(roles: list[str]) -> str:
    """The same file made by a shell script at install time (a kickstart's %post), when the
    distribution's file is known only on the installed system: FOSSP's keys replace its own."""
    own = fossp_lines(roles, None)
    ends = any(line.startswith("SUPPORT_END=") for line in own)  # else the distribution's end stays
    keys = "|".join(key for key in OWN_KEYS if key != "SUPPORT_END" or ends)
    lines = "\n".join(own)
    return (
        "# FOSSP's keys in /etc/os-release (the distribution's lines first)\n"
        f"{{ grep -vE '^({keys})=' {VENDOR}; cat <<'FOSSP'\n{lines}\nFOSSP\n}} > {ETC}.fossp-tmp\n"
        f"chmod 644 {ETC}.fossp-tmp && mv -f {ETC}.fossp-tmp {ETC}\n"
    )


def os_release_op(facts: Facts, roles: list[str], owner: str) -> Operation:
    """Bring /etc/os-release in line with ``roles`` (the roles on the host after this run)."""
    current = facts.files.get(ETC)
    vendor = facts.files.get(VENDOR)
    if vendor is None or vendor.content is None:
        return noop(owner, OpKind.OS_RELEASE, ETC, f"no {VENDOR} on the host: FOSSP's keys are not written")
    path = facts.on_host(ETC)
    if not roles:
        if current is None or current.kind == "link" or b"VARIANT_ID=fossp-server" not in (current.content or b""):
            return noop(owner, OpKind.OS_RELEASE, ETC, "the distribution's, as shipped")
        return Operation(
            role=owner,
            kind=OpKind.OS_RELEASE,
            target=ETC,
            reason="no FOSSP role left: the distribution's link back",
            commands=[["sh", "-c", RELINK, "fossp-os-release", path]],
        )
    wanted = os_release_text(vendor.content.decode(errors="replace"), roles)
    if current is not None and current.kind == "file" and current.content == wanted.encode():
        return noop(owner, OpKind.OS_RELEASE, ETC, "names the FOSSP release and the roles")
    return Operation(
        role=owner,
        kind=OpKind.OS_RELEASE,
        target=ETC,
        reason=f"FOSSP's keys for the roles {' '.join(roles)}",
        commands=[["sh", "-c", WRITE, "fossp-os-release", wanted, path]],
        content=wanted.encode(),
    )
