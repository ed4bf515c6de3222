"""Entry point of `fossp`: registers the command groups and maps errors to exit codes.

Exit codes: 0 ok, 1 a finding (failed check, conflict, failed host), 2 bad input or error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from fossp.cli import (
    build_cmds,
    catalog_cmds,
    deploy_cmds,
    export_cmds,
    gate_cmds,
    image_cmds,
    lab_cmds,
    platform_cmds,
    selection_cmds,
    snapshot_cmds,
    upgrade_cmds,
)
from fossp.cli.common import new_app, plain_metavars

app = new_app(
    "FOSSP, the FedoraOS Server Platform: choose, deploy and govern server roles.\n\n"
    "Exit codes: 0 ok, 1 a finding (failed check, conflict, failed host), 2 bad input or error.",
    completion=True,
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


# In the order of the flow: catalog, selection, hosts and deploy, test hosts, governance.
app.add_typer(catalog_cmds.roles_app, name="roles")
app.command("lifecycle")(catalog_cmds.lifecycle)
app.add_typer(catalog_cmds.release_app, name="release")
app.add_typer(platform_cmds.app, name="platform")
app.command("features")(selection_cmds.features)
app.command("recommend")(selection_cmds.recommend)
app.add_typer(selection_cmds.profile_app, name="profile")
app.add_typer(deploy_cmds.inventory_app, name="inventory")
app.command("facts")(deploy_cmds.facts)
app.command("plan")(deploy_cmds.plan)
app.command("deploy")(deploy_cmds.deploy)
app.command("status")(deploy_cmds.status)
app.command("decommission")(deploy_cmds.decommission)
app.add_typer(snapshot_cmds.app, name="snapshot")
app.command("restore")(snapshot_cmds.restore)
app.add_typer(upgrade_cmds.app, name="upgrade")
app.add_typer(build_cmds.app, name="build")
app.add_typer(build_cmds.container_app, name="container")
app.add_typer(image_cmds.app, name="image")
app.add_typer(export_cmds.app, name="export")
app.add_typer(lab_cmds.app, name="lab")
app.add_typer(gate_cmds.gate_app, name="gate")
app.add_typer(gate_cmds.users_app, name="users")
app.command("serve")(gate_cmds.serve)


def command() -> Any:
    """The click command tree `fossp` runs (also what the man pages are made from); typed
    Any since typer builds it with its own copy of click."""
    from typer.main import get_command

    return plain_metavars(get_command(app))


def wants_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for JSON (``--json`` or ``--format json`` before any ``--``)."""
    from itertools import pairwise

    words = list(args[: list(args).index("--")] if "--" in args else args)
    return "--json" in words or "--format=json" in words or ("--format", "json") in pairwise(words)


def _fail(message: str, where: str | None, code: str, exit_code: int, as_json: bool) -> None:
    """End with an error: a JSON error document on stdout under --json, else (or after the
    command's own document) one line on stderr."""
    from fossp.output import print_error
    from fossp.secrets import redact

    if not (as_json and print_error(redact(message), where and redact(where), code)):
        sys.stderr.write(f"fossp: {redact(message)}\n")
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
        if not as_json and hasattr(error, "show"):
            error.show()
            sys.exit(error.exit_code)
        _fail(error.format_message(), None, "usage", error.exit_code, as_json)
    except typer.Abort:
        _fail("aborted", None, "aborted", 1, as_json)
    except KeyboardInterrupt:
        _fail("interrupted", None, "interrupted", 130, as_json)
    sys.exit(code if isinstance(code, int) else 0)
