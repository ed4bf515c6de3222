"""`fossp image boot`: start a whole-disk image under qemu and run FOSSP's probes on it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import JsonOption, new_app
from fossp.errors import EXIT_FINDING

if TYPE_CHECKING:
    from fossp.build.qemu import Vm
    from fossp.engine.status import RoleStatus

app = new_app("Whole-disk images of a profile's roles: build one, boot one under qemu and probe its roles.")

DEFAULT_KEY = Path("~/.ssh/id_ed25519")


@app.command("build")
def build(
    profile: Annotated[Path, typer.Option("--profile", "-p", help="Profile file (fossp recommend --save).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The disk image to write.")],
    fmt: Annotated[str, typer.Option("--format", help="raw or qcow2.")] = "raw",
    size: Annotated[float, typer.Option("--size", min=0.25, help="GiB of disk.")] = 4,
    hostname: Annotated[str, typer.Option("--hostname", help="Its name until a seed gives one.")] = "fossp",
    ssh_key: Annotated[
        Path | None, typer.Option("--ssh-key", help="Public key file root may log in with (also from a seed).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """A bootable disk (BIOS and UEFI) of the profile's roles, deployed offline like `fossp build
    root`, on FOSSP's BTRFS layout, with cloud-init for a cloud's name and key and FOSSP's first
    boot finishing the roles (needs root). Boot it with `fossp image boot OUTPUT`."""
    import sys

    from fossp.build.disk import Format
    from fossp.build.image import GIB, build_image
    from fossp.build.offline import Steps, built_document, check_profile
    from fossp.cli.build_cmds import read_public_key
    from fossp.errors import BadInput
    from fossp.output import emit

    if fmt not in ("raw", "qcow2"):
        raise BadInput(f"--format {fmt!r}: raw or qcow2")
    build = check_profile(profile)
    key = read_public_key(ssh_key) if ssh_key else None
    steps = Steps(lambda line: print(line, file=sys.stderr, flush=True))
    chosen: Format = "raw" if fmt == "raw" else "qcow2"
    built = build_image(build, output.absolute(), chosen, int(size * GIB), _hostname(hostname), key, steps, force)
    data = built_document(build, built, steps)
    emit(data, as_json, lambda: typer.echo(f"wrote {data['output']}"))


@app.command("boot")
def boot(
    file: Annotated[Path, typer.Argument(help="A raw or qcow2 disk image (fossp build image).")],
    ssh_key: Annotated[
        Path, typer.Option("--ssh-key", help="Private key root logs in with (its public half goes in the seed).")
    ] = DEFAULT_KEY,
    port: Annotated[int | None, typer.Option("--port", help="Loopback port for SSH (default: a free one).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=10, help="Seconds the boot may take.")] = 900,
    memory: Annotated[int, typer.Option("--memory", help="MiB of guest memory.")] = 1024,
    hostname: Annotated[str, typer.Option("--hostname", help="The guest's name (NoCloud seed).")] = "fossp-vm",
    firmware: Annotated[str, typer.Option("--firmware", help="bios or uefi (OVMF).")] = "bios",
    keep_running: Annotated[bool, typer.Option("--keep-running", help="Leave the VM running after it.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Boot FILE (never changed: writes go to a snapshot), log in over SSH with the host key
    the guest prints on its console, and run `fossp status` probes for the roles FOSSP
    recorded on it. Exit 1 if a role is not healthy."""
    import asyncio
    import signal
    import sys

    from fossp.build.qemu import boot_image
    from fossp.output import emit

    # qemu runs in its own session (so --keep-running outlives us): a TERM must still stop it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    name, key = _hostname(hostname), ssh_key.expanduser()
    from fossp.build.image import forwarded_ports

    vm = boot_image(file, key, port, timeout, memory, name, keep_running, firmware, forwarded_ports(file))
    try:
        statuses = asyncio.run(_probe(vm))
    finally:
        if not keep_running:
            vm.stop()
    data = _result(vm, statuses, keep_running)
    emit(data, as_json, lambda: _render(data))
    if any(s.state in ("error", "interrupted") for s in statuses):
        raise typer.Exit(EXIT_FINDING)


def _hostname(name: str) -> str:
    import re

    from fossp.errors import BadInput

    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", name):
        raise BadInput(f"--hostname {name!r}: use lower-case letters, digits and '-' (at most 63)")
    return name


async def _probe(vm: Vm) -> list[RoleStatus]:
    """FOSSP's own status check over its SSH connector (the VM's host key verified)."""
    from fossp.catalog.loader import load_catalog
    from fossp.engine.status import status_host
    from fossp.hosts.connector import open_connector

    connector = await open_connector(vm.host_spec())
    try:
        return (await status_host(connector, load_catalog(), probe=True)).roles
    finally:
        await connector.close()


def _result(vm: Vm, statuses: list[RoleStatus], running: bool) -> dict[str, Any]:
    return {
        "image": str(vm.image),
        "hostname": vm.hostname,
        "port": vm.port,
        "known_hosts_path": str(vm.known_hosts) if running else None,
        "console_path": str(vm.console) if running else None,
        "pid": vm.process.pid if running else None,
        "running": running,
        "seconds_to_ssh": vm.seconds_to_ssh,
        "seconds_to_ready": vm.seconds_to_ready,
        "system_state": vm.system_state,
        "roles": [{**vars(s), "probes": [vars(p) for p in s.probes]} for s in statuses],
    }


def _render(data: dict[str, Any]) -> None:
    from fossp.output import table

    typer.echo(
        f"{data['image']}: SSH after {data['seconds_to_ssh']} s, started up after {data['seconds_to_ready']} s "
        f"({data['system_state']})"
    )
    rows = [(r["name"], r["state"], "; ".join(r["problems"]) or "-") for r in data["roles"]]
    if rows:
        table("roles", ["role", "state", "problems"], rows)
    else:
        typer.echo("no roles recorded by FOSSP on this image")
    if data["running"]:
        typer.echo(
            f"running (qemu pid {data['pid']}): ssh -p {data['port']} -o UserKnownHostsFile={data['known_hosts_path']} "
            "root@127.0.0.1"
        )
