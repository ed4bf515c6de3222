"""`fossp build`: installation methods from a profile (kickstart, preseed, an offline root)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import JsonOption, new_app
from fossp.errors import BadInput

if TYPE_CHECKING:
    from fossp.catalog.schema import Family, Role

app = new_app(
    "Installation methods from a profile: a kickstart (Fedora family), a preseed (Debian family), "
    "an offline root with the roles deployed (booted as a lab host, an image or a container)."
)

ProfileOption = Annotated[Path, typer.Option("--profile", "-p", help="Profile file (fossp recommend --save).")]


OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (default: stdout).")]
HostnameOption = Annotated[str, typer.Option("--hostname", help="The installed host's name.")]
DiskSizeOption = Annotated[int, typer.Option("--disk-size", min=4, help="GiB at least for the BTRFS root.")]


@app.command("kickstart")
def kickstart(
    profile: ProfileOption,
    output: OutputOption = None,
    fedora: Annotated[int | None, typer.Option("--fedora", help="Fedora release (default: the newest).")] = None,
    hostname: HostnameOption = "fossp",
    ssh_key: Annotated[Path | None, typer.Option("--ssh-key", help="Public key file root may log in with.")] = None,
    disk_size: DiskSizeOption = 20,
    as_json: JsonOption = False,
) -> None:
    """A kickstart installing the profile's roles' packages on FOSSP's BTRFS layout, their units
    enabled and firewall open, checked by pykickstart; `fossp deploy` configures them after."""
    from fossp.build.kickstart import kickstart_text
    from fossp.catalog import Family

    roles, platform = _profile_roles(profile, "a kickstart", Family.FEDORA)
    key = _public_key(ssh_key) if ssh_key else None
    text = kickstart_text(roles, platform, fedora, _hostname(hostname), key, disk_size)
    _put(text, output, as_json, {"roles": [r.id for r in roles]}, "kickstart")


@app.command("preseed")
def preseed(
    profile: ProfileOption,
    ssh_key: Annotated[Path, typer.Option("--ssh-key", help="Public key file root logs in with (it has no password).")],
    output: OutputOption = None,
    debian: Annotated[int | None, typer.Option("--debian", help="Debian release, 12 or 13 (default: 12).")] = None,
    hostname: HostnameOption = "fossp",
    disk_size: DiskSizeOption = 20,
    as_json: JsonOption = False,
) -> None:
    """A preseed for Debian's installer: the profile's roles' packages on FOSSP's BTRFS layout
    (made by its late command), their units enabled, root logging in with the key only;
    checked by debconf-set-selections and FOSSP's table; `fossp deploy` configures them after."""
    from fossp.build.preseed import build_preseed, check_preseed
    from fossp.catalog import Family
    from fossp.output import emit

    roles, platform = _profile_roles(profile, "a preseed", Family.DEBIAN)
    built = build_preseed(roles, platform, _public_key(ssh_key), debian, _hostname(hostname), disk_size)
    checks = check_preseed(built.text)
    data: dict[str, Any] = {
        "suite": built.suite,
        "roles": [r.id for r in roles],
        "packages": built.packages,
        "units": built.units,
        "data_folders": built.data_folders,
        "login": f"ssh root@{hostname} with the private key of {ssh_key}",
        "checks": {name: [{"line": f.line, "message": f.message} for f in found] for name, found in checks.items()},
    }
    failed = [f"{name}: line {f.line}: {f.message}" for name, found in checks.items() for f in found]
    if failed:
        emit({**data, "output": None}, as_json, lambda: typer.echo("\n".join(failed), err=True))
        raise typer.Exit(1)
    _put(built.text, output, as_json, data, "preseed")


def _profile_roles(profile: Path, method: str, family: Family) -> tuple[list[Role], list[str]]:
    """The profile's roles and the platform's packages on ``family``; a profile's settings are
    refused (the media install packages, units and firewall; `fossp deploy` applies settings)."""
    from fossp.catalog.status import governed_catalog
    from fossp.selection.profile import load_profile

    catalog = governed_catalog()
    choices = load_profile(profile, catalog).roles
    given = [f"{c.id}.{name}" for c in choices for name in c.settings]
    if given:
        raise BadInput(
            f"{profile}: {method} installs the roles' packages, units and firewall only; their settings "
            f"({', '.join(given)}) are applied by `fossp deploy` after the install"
        )
    platform = [package for c in catalog.platform for package in c.packages.get(family, [])]
    return [catalog.roles[choice.id] for choice in choices], platform


def _put(text: str, output: Path | None, as_json: bool, data: dict[str, Any], key: str) -> None:
    """The file written atomically to ``output`` or printed (under ``key`` with --json)."""
    from fossp.build.common import write_atomically
    from fossp.output import emit

    if output is not None:
        write_atomically(output, text)
    elif not as_json:
        typer.echo(text, nl=False)
    data = {**data, "output": str(output) if output else None}
    if as_json and output is None:
        data[key] = text
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
