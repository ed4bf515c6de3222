"""Entry point of `fossp`: registers the command groups and maps errors to exit codes.

Exit codes: 0 ok, 1 a finding (failed check, conflict, failed host), 2 bad input or error.

A command's module is imported only when that command runs or shows its help: building
every command group with typer, and importing their modules, was most of `fossp --help`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, MutableMapping, Sequence
from importlib import import_module
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from fossp.cli.common import new_app, plain_metavars, plain_params

#: The commands in the order of the flow (catalog, selection, hosts and deploy, test hosts,
#: governance): name -> (module in fossp.cli, its Typer app or command function, the first
#: sentence of its help). The sentence is what `fossp --help` lists without importing the
#: module; tests/cli/test_startup.py checks it against the command's own help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "roles": (
        "catalog_cmds",
        "roles_app",
        "List and show server roles: role IDs, packages, ports, settings, lifecycle.",
    ),
    "lifecycle": (
        "catalog_cmds",
        "lifecycle",
        "The lifecycle table: service, role, role ID, release, release date, support end.",
    ),
    "release": ("catalog_cmds", "release_app", "Release levels: major release, service pack, interim fix."),
    "platform": ("platform_cmds", "app", "The FOSSP platform components (kernel, systemd, SELinux, BTRFS, ...)."),
    "backup": ("backup_cmds", "app", "Back up and restore every role's data through the Bacula director."),
    "features": (
        "selection_cmds",
        "features",
        "List the feature vocabulary and the roles that provide each feature.",
    ),
    "recommend": (
        "selection_cmds",
        "recommend",
        "Choose roles for what you need: what was understood, why, alternatives, dependencies, conflicts, "
        "and whether FOSSP deploys each role.",
    ),
    "profile": ("selection_cmds", "profile_app", "Check profiles (roles plus settings) before deploying them."),
    "inventory": ("deploy_cmds", "inventory_app", "Hosts and groups FOSSP acts on."),
    "facts": ("deploy_cmds", "facts", "Gather and show each host's facts (one round trip per host; read-only)."),
    "plan": ("deploy_cmds", "plan", "Show what `fossp deploy` would change on each host, and why (a dry run)."),
    "deploy": (
        "deploy_cmds",
        "deploy",
        "Deploy roles: install, configure, start, open the firewall, then run the health probes.",
    ),
    "status": (
        "deploy_cmds",
        "status",
        "Each deployed role's state from live checks (units, packages, files, probes); a run that did not "
        "end shows its roles as interrupted (exit 1).",
    ),
    "health": (
        "health_cmds",
        "health",
        "Each host's and each role's health over SNMP, as the host's health timer last found it (exit 1 when "
        "anything is unhealthy).",
    ),
    "decommission": (
        "deploy_cmds",
        "decommission",
        "Remove what FOSSP added for the roles (all FOSSP roles if none are named), keeping their data.",
    ),
    "queue": (
        "queue_cmds",
        "app",
        "A task queue in PostgreSQL that workers on several controller machines take host shards from "
        "(`fossp plan|deploy --queue URL` submits).",
    ),
    "snapshot": (
        "snapshot_cmds",
        "app",
        "Snapshots of a host's BTRFS root (snapper's layout: `snapper list` shows them too); "
        "`fossp restore` returns a host to one.",
    ),
    "restore": (
        "snapshot_cmds",
        "restore",
        "Return hosts to a snapshot: packages, /etc, units and FOSSP's state; data subvolumes are kept.",
    ),
    "upgrade": (
        "upgrade_cmds",
        "app",
        "Upgrades: a compatibility report before (and after), and upgrades at every release level (major, "
        "service pack, interim fix) that restore the pre-upgrade snapshot on any failure.",
    ),
    "build": (
        "build_cmds",
        "app",
        "Installation methods from a profile: a kickstart (Fedora family), a preseed (Debian family), an "
        "offline root with the roles deployed (booted as a lab host, an image or a container).",
    ),
    "container": (
        "build_cmds",
        "container_app",
        "OS containers of a profile's roles: build one, run one and probe its roles.",
    ),
    "image": (
        "image_cmds",
        "app",
        "Whole-disk images of a profile's roles: build one, boot one under qemu and probe its roles.",
    ),
    "export": (
        "export_cmds",
        "app",
        "A profile's deploy for other tools: an Ansible playbook of ansible.builtin modules.",
    ),
    "lab": (
        "lab_cmds",
        "app",
        "Disposable local test hosts that behave like servers: systemd as PID 1, their own address, sshd "
        "with a key FOSSP manages, packages from a local repository.",
    ),
    "gate": (
        "gate_cmds",
        "gate_app",
        "The stage gate review process: propose, review and decide on server roles.",
    ),
    "users": ("gate_cmds", "users_app", "Accounts of the gate review participants."),
    "serve": (
        "gate_cmds",
        "serve",
        "Run the web console and REST API (/api/v1, OpenAPI at /api/v1/openapi.json).",
    ),
}


def load_command(name: str) -> Any:
    """The click command ``name``, built from its module (typed Any: typer's own click)."""
    module, attribute, _ = COMMANDS[name]
    found = getattr(import_module(f"fossp.cli.{module}"), attribute)
    built: Any
    if isinstance(found, typer.Typer):
        built = typer.main.get_group(found)  # a group even with one command, as add_typer makes it
    else:
        single = new_app("")  # the conventions (plain help, -h) for a lone command
        single.command(name)(found)
        built = typer.main.get_command(single)
    built.name = name
    return plain_metavars(built)


class LazyCommands(MutableMapping[str, Any]):
    """The root's commands by name, each built on first use; the names (listing, "did you
    mean") need no import."""

    def __init__(self) -> None:
        self.built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.built:
            if name not in COMMANDS:
                raise KeyError(name)
            self.built[name] = load_command(name)
        return self.built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        del self.built[name]

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self.built

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(COMMANDS), **self.built})

    def __len__(self) -> int:
        return len({**dict.fromkeys(COMMANDS), **self.built})


class LazyGroup(TyperGroup):
    """The root group: its commands come from COMMANDS when used; its help lists them
    with the summaries there."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands()

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        from typer._click.utils import make_default_short_help

        limit = formatter.width - 6 - max(map(len, COMMANDS))
        with formatter.section("Commands"):
            formatter.write_dl(
                [(name, make_default_short_help(summary, limit)) for name, (*_, summary) in COMMANDS.items()]
            )


app = new_app(
    "FOSSP, the FedoraOS Server Platform: choose, deploy and govern server roles.\n\n"
    "Exit codes: 0 ok, 1 a finding (failed check, conflict, failed host), 2 bad input or error.",
    completion=True,
    group=LazyGroup,
)


def _print_version(wanted: bool) -> None:
    """--version: FOSSP's own version and the platform release its catalog describes."""
    if not wanted:
        return
    from fossp import __version__
    from fossp.lifecycle.releases import platform_releases

    latest = platform_releases()[-1]
    typer.echo(f"fossp {__version__} (FOSSP platform release {latest.version}, {latest.release})")
    raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and the platform release."
        ),
    ] = False,
) -> None:
    """Options before any command."""


def command() -> Any:
    """The click command tree `fossp` runs (also what the man pages are made from); typed
    Any since typer builds it with its own copy of click."""
    return plain_params(typer.main.get_command(app))


def wants_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for JSON (``--json`` or ``--format json`` before any ``--``)."""
    from itertools import pairwise

    words = list(args[: list(args).index("--")] if "--" in args else args)
    return "--json" in words or "--format=json" in words or ("--format", "json") in pairwise(words)


def _fail(message: str, where: str | None, code: str, exit_code: int, as_json: bool) -> None:
    """End with an error: a JSON error document on stdout under --json, else (or after the
    command's own document) one line on stderr; a long value in it is cut."""
    from fossp.errors import clip
    from fossp.output import print_error
    from fossp.secrets import redact

    message, where = clip(redact(message)), where and clip(redact(where))
    if not (as_json and print_error(message, where, code)):
        sys.stderr.write(f"fossp: {message}\n")
    sys.exit(exit_code)


def run() -> None:
    """Run the CLI; a FosspError (or a usage error) becomes one line on stderr, or under
    --json an error document on stdout, with its exit code."""
    from fossp.errors import FosspError
    from fossp.output import new_run

    as_json = wants_json(sys.argv[1:])
    new_run()
    try:
        code = command().main(prog_name="fossp", standalone_mode=False)
    except FosspError as error:
        _fail(error.message, error.where, error.code, error.exit_code, as_json)
    except typer.TyperException as error:  # click's usage errors (typer bundles its click)
        if hasattr(error, "message"):
            from fossp.errors import clip

            error.message = clip(error.message)  # the value it names may be any length
        if not as_json and hasattr(error, "show"):
            error.show()
            sys.exit(error.exit_code)
        _fail(error.format_message(), None, "usage", error.exit_code, as_json)
    except typer.Abort:
        _fail("aborted", None, "aborted", 1, as_json)
    except KeyboardInterrupt:
        _fail("interrupted", None, "interrupted", 130, as_json)
    sys.exit(code if isinstance(code, int) else 0)
