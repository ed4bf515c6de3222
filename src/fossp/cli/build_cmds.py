"""`fossp build kickstart`: installation media from a profile (more methods follow)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fossp.cli.common import JsonOption, new_app
from fossp.errors import BadInput

app = new_app(
    "Installation methods from a profile: a kickstart file for the Fedora family, "
    "an offline root with the roles deployed (booted by a lab host, an image or a container)."
)

ProfileOption = Annotated[Path, typer.Option("--profile", "-p", help="Profile file (fossp recommend --save).")]


@app.command("kickstart")
def kickstart(
    profile: ProfileOption,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (default: stdout).")] = None,
    fedora: Annotated[int | None, typer.Option("--fedora", help="Fedora release (default: the newest).")] = None,
    hostname: Annotated[str, typer.Option("--hostname", help="The installed host's name.")] = "fossp",
    ssh_key: Annotated[Path | None, typer.Option("--ssh-key", help="Public key file root may log in with.")] = None,
    disk_size: Annotated[int, typer.Option("--disk-size", min=4, help="GiB at least for the BTRFS root.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """A kickstart installing the profile's roles' packages on FOSSP's BTRFS layout, their units
    enabled and firewall open, checked by pykickstart; `fossp deploy` configures them after."""
    from fossp.build.kickstart import kickstart_text
    from fossp.catalog import Family
    from fossp.catalog.status import governed_catalog
    from fossp.output import emit
    from fossp.selection.profile import load_profile

    catalog = governed_catalog()
    choices = load_profile(profile, catalog).roles
    given = [f"{c.id}.{name}" for c in choices for name in c.settings]
    if given:
        raise BadInput(
            f"{profile}: a kickstart installs the roles' packages, units and firewall only; their settings "
            f"({', '.join(given)}) are applied by `fossp deploy` after the install"
        )
    roles = [catalog.roles[choice.id] for choice in choices]
    key = _public_key(ssh_key) if ssh_key else None
    platform = [package for c in catalog.platform for package in c.packages.get(Family.FEDORA, [])]
    text = kickstart_text(roles, platform, fedora, _hostname(hostname), key, disk_size)
    if output is not None:
        output.write_text(text)
    elif not as_json:
        typer.echo(text, nl=False)
    data: dict[str, Any] = {"roles": [r.id for r in roles], "output": str(output) if output else None}
    if as_json and output is None:
        data["kickstart"] = text
    emit(data, as_json, lambda: typer.echo(f"wrote {output}", err=True) if output else None)


@app.command("root")
def root(
    profile: ProfileOption,
    name: Annotated[str, typer.Option("--name", help="The root's name in the lab pool (builds/NAME).")] = "fossp",
    as_json: JsonOption = False,
) -> None:
    """Deploy the profile's roles into a fresh Debian root without booting it (needs root):
    packages, files and units now, through a chroot; what needs the running services at
    its first boot (fossp-firstboot.service). Boot it with `fossp lab up NAME --from ROOT`."""
    import sys

    from fossp.build.offline import Steps, check_profile, make_root
    from fossp.lab.paths import validate_name
    from fossp.output import emit

    build = check_profile(profile)
    steps = Steps(lambda line: print(line, file=sys.stderr, flush=True))
    built = make_root(build, validate_name(name), steps)
    data = {"roles": build.role_ids, **built.summary(), "steps": steps.finish()}
    emit(
        data,
        as_json,
        lambda: typer.echo(
            f"built {built.folder} ({len(built.applied)} change(s); "
            f"at first boot: {', '.join(built.deferred) or 'nothing'})"
        ),
    )


def _hostname(name: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*", name):
        raise BadInput(f"--hostname {name!r}: not a host name")
    return name


def _public_key(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except OSError as error:
        raise BadInput(f"--ssh-key {path}: cannot read it ({error.strerror})") from None
    if len(key.splitlines()) != 1 or not key.startswith(("ssh-", "ecdsa-", "sk-")):
        raise BadInput(f"--ssh-key {path}: not one OpenSSH public key line")
    return key
