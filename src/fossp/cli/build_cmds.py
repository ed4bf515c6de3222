"""`fossp build`: installation methods from a profile (kickstart, preseed, an offline root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import JsonOption, new_app
from fossp.errors import BadInput
from fossp.files import UnreadableFile, read_text

if TYPE_CHECKING:
    from fossp.catalog.schema import Family, Role

app = new_app(
    "Installation methods from a profile: a kickstart (Fedora family), a preseed (Debian family), "
    "an offline root with the roles deployed (booted as a lab host, an image or a container)."
)

container_app = new_app("OS containers of a profile's roles: build one, run one and probe its roles.")

ProfileOption = Annotated[Path, typer.Option("--profile", "-p", help="Profile file (fossp recommend --save).")]


OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (default: stdout).")]
HostnameOption = Annotated[str, typer.Option("--hostname", help="The installed host's name.")]
DiskSizeOption = Annotated[int, typer.Option("--disk-size", min=4, help="GiB at least for the BTRFS root.")]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--fossp-source",
        metavar="URL",
        help="FOSSP's wheels for the installed host (`fossp build wheels`, served over HTTP): it "
        "then installs FOSSP and deploys the profile, settings included, at its first boot.",
    ),
]


@app.command("kickstart")
def kickstart(
    profile: ProfileOption,
    output: OutputOption = None,
    fedora: Annotated[int | None, typer.Option("--fedora", help="Fedora release (default: the newest).")] = None,
    hostname: HostnameOption = "fossp",
    ssh_key: Annotated[Path | None, typer.Option("--ssh-key", help="Public key file root may log in with.")] = None,
    disk_size: DiskSizeOption = 20,
    fossp_source: SourceOption = None,
    as_json: JsonOption = False,
) -> None:
    """A kickstart installing the profile's roles' packages on FOSSP's BTRFS layout, their units
    enabled and firewall open, checked by pykickstart; with --fossp-source the host finishes
    the profile at its first boot, otherwise `fossp deploy` configures the roles after."""
    from fossp.build.kickstart import kickstart_text
    from fossp.catalog import Family

    media = _profile_roles(profile, "a kickstart", Family.FEDORA, fossp_source)
    key = read_public_key(ssh_key) if ssh_key else None
    text = kickstart_text(media.roles, media.platform, fedora, _hostname(hostname), key, disk_size, media.first_boot)
    _put(text, output, as_json, media.summary(), "kickstart", media.secret)


@app.command("preseed")
def preseed(
    profile: ProfileOption,
    ssh_key: Annotated[Path, typer.Option("--ssh-key", help="Public key file root logs in with (it has no password).")],
    output: OutputOption = None,
    debian: Annotated[int | None, typer.Option("--debian", help="Debian release, 12 or 13 (default: 12).")] = None,
    hostname: HostnameOption = "fossp",
    disk_size: DiskSizeOption = 20,
    fossp_source: SourceOption = None,
    as_json: JsonOption = False,
) -> None:
    """A preseed for Debian's installer: the profile's roles' packages on FOSSP's BTRFS layout
    (made by its late command), their units enabled, root logging in with the key only;
    checked by debconf-set-selections and FOSSP's table; with --fossp-source the host
    finishes the profile at its first boot, otherwise `fossp deploy` configures the roles after."""
    from fossp.build.preseed import build_preseed, check_preseed
    from fossp.catalog import Family
    from fossp.output import emit

    media = _profile_roles(profile, "a preseed", Family.DEBIAN, fossp_source)
    key = read_public_key(ssh_key)
    built = build_preseed(media.roles, media.platform, key, debian, _hostname(hostname), disk_size, media.first_boot)
    checks = check_preseed(built.text)
    data: dict[str, Any] = {
        **media.summary(),
        "suite": built.suite,
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
    _put(built.text, output, as_json, data, "preseed", media.secret)


@dataclass
class Media:
    """What an installer's file is made from: the roles, the platform's packages and, with a
    FOSSP source, the first-boot script (``secret``: its profile holds a secret value)."""

    roles: list[Role]
    platform: list[str]
    first_boot: str | None
    secret: bool

    def summary(self) -> dict[str, Any]:
        return {"roles": [r.id for r in self.roles], "first_boot": self.first_boot is not None}


def _profile_roles(profile: Path, method: str, family: Family, source: str | None) -> Media:
    """The profile's roles and the platform's packages on ``family``. Without a FOSSP source
    the profile's settings are refused: the media install packages, units and firewall only,
    and `fossp deploy` applies the settings."""
    from fossp.build.common import defaults
    from fossp.build.firstboot import firstboot_script, installer_profile
    from fossp.catalog.status import governed_catalog
    from fossp.selection.profile import held_secrets, load_profile

    catalog = governed_catalog()
    loaded = load_profile(profile, catalog)
    given = [f"{c.id}.{name}" for c in loaded.roles for name in c.settings]
    if given and source is None:
        raise BadInput(
            f"{profile}: {method} installs the roles' packages, units and firewall only; their settings "
            f"({', '.join(given)}) are applied by `fossp deploy` after the install, or at the first "
            "boot with --fossp-source"
        )
    platform = [package for c in catalog.platform for package in c.packages.get(family, [])]
    roles = [catalog.roles[choice.id] for choice in loaded.roles]
    if source is None:
        return Media(roles, platform, None, False)
    units = [unit for role in roles for unit in role.units_for(family, defaults(role))]
    script = firstboot_script(source, installer_profile(loaded, catalog, str(profile)), units)
    return Media(roles, platform, script, bool(held_secrets(loaded, catalog)))


def _put(text: str, output: Path | None, as_json: bool, data: dict[str, Any], key: str, secret: bool = False) -> None:
    """The file written atomically to ``output`` or printed (under ``key`` with --json); one
    that holds a secret is written 0600 and never printed."""
    from fossp.build.common import write_atomically
    from fossp.output import emit

    if secret and output is None:
        raise BadInput(f"the profile holds secrets: give --output FILE for the {key} (it is written 0600)")
    if output is not None:
        write_atomically(output, text, 0o600 if secret else 0o644)
    elif not as_json:
        typer.echo(text, nl=False)
    data = {**data, "output": str(output) if output else None}
    if as_json and output is None:
        data[key] = text
    emit(data, as_json, lambda: typer.echo(f"wrote {output}", err=True) if output else None)


@app.command("wheels")
def wheels(
    output: Annotated[Path, typer.Option("--output", "-o", help="The folder to fill (made if missing).")],
    python: Annotated[
        str | None, typer.Option("--python", metavar="X.Y", help="The installed host's Python (default: this one's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """FOSSP and its dependencies as wheels, for a kickstart's or a preseed's --fossp-source:
    serve the folder over HTTP (e.g. `python3 -m http.server -d DIR`) where installs reach it."""
    from fossp.build.firstboot import write_wheelhouse
    from fossp.output import emit

    if output.exists() and not output.is_dir():
        raise BadInput(f"--output {output}: exists and is not a folder")
    others = [p.name for p in output.iterdir() if p.suffix != ".whl"] if output.is_dir() else []
    if others:
        raise BadInput(f"--output {output}: holds other files than wheels ({others[0]}, ...): give a new folder")
    names = write_wheelhouse(output.absolute(), python)
    data = {"output": str(output), "wheels": names}
    emit(data, as_json, lambda: typer.echo(f"wrote {len(names)} wheel(s) to {output}"))


@app.command("root")
def root(
    profile: ProfileOption,
    name: Annotated[str, typer.Option("--name", help="The root's name in the lab pool (builds/NAME).")] = "fossp",
    ssh_key: Annotated[Path | None, typer.Option("--ssh-key", help="Public key file root may log in with.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a root built earlier under this name.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Deploy the profile's roles into a fresh Debian root without booting it (needs root):
    packages, files and units now, through a chroot; what needs the running services at
    its first boot (fossp-firstboot.service). Boot it with `fossp lab up NAME --from ROOT`."""
    import sys

    from fossp.build.offline import Steps, built_document, check_profile, make_root, root_folder
    from fossp.lab.paths import validate_name
    from fossp.output import emit

    build = check_profile(profile)
    key = read_public_key(ssh_key) if ssh_key else None
    if root_folder(validate_name(name)).exists() and not force:
        raise BadInput(f"--name {name}: {root_folder(name)} exists (a root built earlier); give --force to replace it")
    steps = Steps(lambda line: print(line, file=sys.stderr, flush=True))
    built = make_root(build, validate_name(name), steps, key)
    data = built_document(build, built.summary(), steps)
    emit(
        data,
        as_json,
        lambda: typer.echo(
            f"built {built.folder} ({len(built.applied)} change(s); "
            f"at first boot: {', '.join(built.deferred) or 'nothing'})"
        ),
    )


@app.command("container")
@container_app.command("build")
def container(
    profile: ProfileOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="The image archive to write.")],
    fmt: Annotated[str, typer.Option("--format", help="oci (oci-archive) or docker (docker-archive).")] = "oci",
    tag: Annotated[str, typer.Option("--tag", help="The image's tag.")] = "latest",
    ssh_key: Annotated[Path | None, typer.Option("--ssh-key", help="Public key file root may log in with.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """An OS container image (systemd as PID 1) of the profile's roles, deployed offline like
    `fossp build root`, as an image archive plus OUTPUT.Containerfile (needs root). Run it with
    podman (--runtime=runc --systemd=always), systemd-nspawn, or `fossp lab up NAME --from OUTPUT`."""
    import re
    import sys

    from fossp.build.container import build_container, check_output
    from fossp.build.offline import Steps, built_document, check_profile
    from fossp.output import emit

    if fmt not in ("oci", "docker"):
        raise BadInput(f"--format {fmt!r}: oci or docker")
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", tag):
        raise BadInput(f"--tag {tag!r}: not an image tag (letters, digits, '_', '.', '-'; at most 128)")
    build = check_profile(profile)
    key = read_public_key(ssh_key) if ssh_key else None
    check_output(output.absolute(), force)
    steps = Steps(lambda line: print(line, file=sys.stderr, flush=True))
    built = build_container(build, output.absolute(), "oci" if fmt == "oci" else "docker", tag, steps, key)
    data = built_document(build, built, steps)
    emit(data, as_json, lambda: typer.echo(f"wrote {data['output']} and {data['containerfile']}"))


@container_app.command("run")
def run_container_cmd(
    archive: Annotated[Path, typer.Argument(help="An OS container archive from `fossp build container`.")],
    engine: Annotated[str, typer.Option("--engine", help="podman or nspawn (systemd-nspawn).")] = "podman",
    name: Annotated[str, typer.Option("--name", help="The container's name (and its lab network's).")] = "fossp-ct",
    timeout: Annotated[float, typer.Option("--timeout", min=10, help="Seconds to wait for its first boot.")] = 600,
    keep: Annotated[bool, typer.Option("--keep-running", help="Leave it running after the probes.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a built OS container under podman or systemd-nspawn on an address of its own in
    the lab network, wait for its first boot, and run its roles' probes over SSH (needs root;
    the archive must let the lab's key log in: build it with --ssh-key). Exit 1 if a role fails."""
    from fossp.build.run import check_engine, run_container
    from fossp.lab.paths import validate_name
    from fossp.output import emit, table

    if not archive.is_file():
        raise BadInput(f"{archive}: no such archive")
    result = run_container(archive.absolute(), check_engine(engine), validate_name(name), timeout, keep)
    rows = [[r["role"], r["state"], ", ".join(f"{p['name']}={p['ok']}" for p in r["probes"])] for r in result["roles"]]
    emit(
        result,
        as_json,
        lambda: table(f"{name} under {engine} at {result['address']}", ["role", "state", "probes"], rows),
    )
    if not result["ok"]:
        raise typer.Exit(1)


def _hostname(name: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*", name):
        raise BadInput(f"--hostname {name!r}: not a host name")
    return name


def read_public_key(path: Path) -> str:
    try:
        key = read_text(path).strip()
    except UnreadableFile as error:
        raise BadInput(f"--ssh-key {error.message}") from None
    if len(key.splitlines()) != 1 or not key.startswith(("ssh-", "ecdsa-", "sk-")):
        raise BadInput(f"--ssh-key {path}: not one OpenSSH public key line")
    return key
