"""`fossp lab`: disposable local test hosts (systemd as PID 1, own address, sshd, local repo)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fossp.cli.common import FormatOption, JsonOption, new_app

if TYPE_CHECKING:
    from fossp.lab import LabHost

app = new_app(
    "Disposable local test hosts that behave like servers: systemd as PID 1, their own "
    "address, sshd with a key FOSSP manages, packages from a local repository. "
    "Other commands reach them with --target lab:NAME. Needs root."
)
repo_app = new_app("The local package repository that lab hosts install from (offline).")
app.add_typer(repo_app, name="repo")

NamesArgument = Annotated[list[str], typer.Argument(help="Host names: ^[a-z][a-z0-9-]{0,14}$.")]
PackagesOption = Annotated[list[str], typer.Option("--package", "-p", help="Extra Debian package for the local repo.")]
RolesOption = Annotated[list[str], typer.Option("--role", "-r", help="Catalog role whose Debian packages to add.")]


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """A status line on stderr for slow steps; its update() is the library's report hook."""
    from fossp.output import console

    with console(stderr=True).status("preparing the lab", spinner="dots") as status:
        yield status.update


def _host_row(host: LabHost) -> list[str]:
    state = "running" if host.running else "stopped"
    return [host.name, host.address, state, "yes" if host.ssh else "no", host.ssh_user, str(host.key_path)]


def _show_hosts(hosts: list[LabHost], as_json: bool, title: str) -> None:
    from fossp.output import emit, table

    data = [host.model_dump(mode="json") for host in hosts]
    columns = ["name", "address", "state", "ssh", "user", "key"]
    emit({"hosts": data}, as_json, lambda: table(title, columns, [_host_row(h) for h in hosts]))


@app.command("up")
def up_cmd(
    names: NamesArgument,
    packages: PackagesOption = [],  # noqa: B006 - typer reads the default, never mutates it
    roles: RolesOption = [],  # noqa: B006
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="A new host's root: a built root folder (fossp build root) or OS container archive "
            "(fossp build container) instead of plain Debian.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Bring up lab hosts (concurrently); a host that already runs is left as it is."""
    from fossp.lab import up

    with _progress() as report:
        hosts = up(names, list(packages), list(roles), report, source)
    _show_hosts(hosts, as_json, "lab hosts up")


@app.command("restart")
def restart_cmd(names: NamesArgument, as_json: JsonOption = False) -> None:
    """Restart lab hosts like servers: clean power-off, same root, address and keys.

    A pending root left by `fossp restore` is switched in while the host is stopped.
    """
    from fossp.lab import restart

    with _progress() as report:
        hosts = restart(names, report)
    _show_hosts(hosts, as_json, "lab hosts restarted")


@app.command("down")
def down_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Host names.")] = None,
    all_hosts: Annotated[bool, typer.Option("--all", help="Remove every lab host.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Stop lab hosts and delete their roots, network and records."""
    from fossp.errors import BadInput
    from fossp.lab import down, list_hosts
    from fossp.output import emit

    if all_hosts == bool(names):
        raise BadInput("fossp lab down: name hosts or give --all (not both)")
    chosen = [host.name for host in list_hosts()] if all_hosts else list(names or [])
    removed = down(chosen) if chosen else []
    emit({"removed": removed}, as_json, lambda: typer.echo(f"removed: {', '.join(removed) or 'nothing'}"))


@app.command("list")
def list_cmd(as_json: JsonOption = False, output_format: FormatOption = None) -> None:
    """Lab hosts with their live state: is PID 1 alive, does sshd answer."""
    from fossp.lab import list_hosts

    _show_hosts(list_hosts(), as_json, "lab hosts")


@app.command("ssh", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ssh_cmd(
    name: Annotated[str, typer.Argument(help="Host name.")],
    command: Annotated[list[str] | None, typer.Argument(help="Command to run (after --).")] = None,
) -> None:
    """Open a shell on a lab host, or run a command there, with its key and known_hosts."""
    from fossp.lab import get
    from fossp.lab.keys import ssh_argv

    host = get(name)
    destination = f"{host.ssh_user}@{host.address}"
    argv = ssh_argv(host.key_path, host.known_hosts_path, destination, batch=bool(command))
    if command:
        argv = host.ssh_command(*command)
    sys.stdout.flush()
    os.execvp(argv[0], argv)


@repo_app.command("add")
def repo_add_cmd(
    packages: Annotated[list[str] | None, typer.Argument(help="Debian packages.")] = None,
    roles: RolesOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Add packages (and their dependencies) to the local repository the hosts use."""
    from fossp.lab.hosts import prepare
    from fossp.lab.paths import LabPaths

    with _progress() as report:
        state = prepare(LabPaths.current(), list(packages or []), list(roles), report)
    _show_repo(state, as_json)


@repo_app.command("list")
def repo_list_cmd(as_json: JsonOption = False) -> None:
    """Roles and packages asked for so far (their dependencies are in the repository too)."""
    from fossp.lab.paths import LabPaths
    from fossp.lab.repo import repo_state

    _show_repo(repo_state(LabPaths.current()), as_json)


def _show_repo(state: dict[str, list[str]], as_json: bool) -> None:
    from fossp.output import emit

    def render() -> None:
        typer.echo(f"roles: {', '.join(state['roles']) or '-'}")
        typer.echo(f"packages: {', '.join(state['packages']) or '-'}")

    emit(state, as_json, render)
