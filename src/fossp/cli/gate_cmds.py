"""`fossp gate`, `fossp users` and `fossp serve`: the stage gate process from the shell.

The CLI runs on the server as the administrator's console: `--as USER` names whose
permissions a gate command uses (and who the audit trail records); the web console
instead requires a sign-in. Heavy imports stay inside the commands.
"""

import inspect
import socket
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import FormatOption, JsonOption, new_app
from fossp.errors import BadInput, shorten

if TYPE_CHECKING:
    from fossp.gate.service import GateService

gate_app = new_app("The stage gate review process: propose, review and decide on server roles.")
actions_app = new_app("Corrective actions: open, complete and approve them.")
gate_app.add_typer(actions_app, name="actions")
maintainers_app = new_app("Application maintainers: the accounts that work on an application.")
gate_app.add_typer(maintainers_app, name="maintainers")
users_app = new_app("Accounts of the gate review participants.")

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="FOSSP_DB", help="Database URL (sqlite:///FILE or postgresql://...)."),
]
AsOption = Annotated[str, typer.Option("--as", help="Act as this user, with their permissions.")]
AppArg = Annotated[str, typer.Argument(help="Application name or number.")]


def _service(db: str | None, changes: bool = False) -> "GateService":
    """The gate service on ``db``; a command that only reads never creates the database."""
    from fossp.gate.db import open_database
    from fossp.gate.service import GateService

    return GateService(open_database(db, create=changes))


def _show(view: dict[str, Any], as_json: bool) -> None:
    from fossp.output import console, emit, table

    def render() -> None:
        out = console()
        out.print(f"[bold]{view['name']}[/bold] #{view['id']} ({view['kind']}): {view['summary']}")
        roles = ", ".join(f"{r['role_id']} {r['name'] or '(new)'} {r['status']}" for r in view["catalog"])
        out.print(
            f"roles {roles}; phase {view['phase_name']}; state {view['state']}; "
            f"lead {view['lead']}; maintainers {', '.join(view['maintainers'])}"
        )
        for change in view["catalog_changes"]:
            out.print(f"catalog: {change['role_id']} {change['status']} at {change['at']}")
        gate = view.get("gate")
        if gate:
            out.print(f"\n{gate['name']}, round {gate['round']}")
            table(
                None,
                ["", "item", "status"],
                [("deliverable", d["key"], d["reference"] or "missing") for d in gate["deliverables"]]
                + [("criterion", c["key"], "met" if c["met"] else "not met") for c in gate["criteria"]]
                + [("review", r["by"], r["recommendation"]) for r in gate["reviews"]],
            )
            blockers = gate["go_blockers"]
            out.print("go blocked: " + "; ".join(blockers) if blockers else "ready for a go")
            out.print(gate["catalog_on_go"]["summary"])
        for action in view.get("actions", []):
            out.print(f"action #{action['id']} {action['status']}: {action['title']} ({action['owner']})")

    emit(view, as_json, render)


View = dict[str, Any]


def _view_command(
    group: typer.Typer, name: str, changes: bool = True
) -> Callable[[Callable[..., View]], Callable[..., View]]:
    """Register ``func(gate, ...)`` as command ``name`` that shows the view ``func`` returns.

    Every gate change answers with the application as it now stands, so opening the
    database (--db) and showing the view (--json) are written once, here: the command's
    own parameters are ``func``'s after the service, then --db and --json.
    """

    def register(func: Callable[..., View]) -> Callable[..., View]:
        def command(db: str | None = None, as_json: bool = False, **arguments: Any) -> None:
            _show(func(_service(db, changes), **arguments), as_json)

        own = list(inspect.signature(func).parameters.values())[1:]
        shared = [
            inspect.Parameter("db", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DbOption),
            inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOption),
        ]
        command.__signature__ = inspect.Signature([*own, *shared])  # type: ignore[attr-defined]
        command.__doc__ = func.__doc__
        group.command(name)(command)
        return func

    return register


@_view_command(gate_app, "propose")
def propose(
    gate: "GateService",
    name: Annotated[str, typer.Argument(help="Name of the application or stack.")],
    actor: AsOption,
    summary: Annotated[str, typer.Option("--summary", help="What it is and why.")],
    role: Annotated[list[str] | None, typer.Option("--role", help="Catalog role ID or name (repeat).")] = None,
    new_role: Annotated[
        str | None, typer.Option("--new-role", help="ID of a role the catalog lacks (its role file is delivered).")
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="application or stack")] = "application",
    lead: Annotated[str | None, typer.Option("--lead", help="Review lead (default: FESCo liaison).")] = None,
    maintainer: Annotated[list[str] | None, typer.Option("--maintainer", help="Maintainer (repeat).")] = None,
) -> View:
    """Propose an application or application stack for catalog roles, or a new role (you maintain it)."""
    new_roles = [new_role] if new_role else []
    return gate.propose(actor, name, summary, role or [], kind, lead, maintainer or [], new_roles)


@_view_command(gate_app, "deliver")
def deliver(
    gate: "GateService",
    app: AppArg,
    key: Annotated[str, typer.Argument(help="Deliverable key of the open gate.")],
    actor: AsOption,
    ref: Annotated[
        str, typer.Option("--ref", help="Where the deliverable is (URL, document; a new role's file: its path).")
    ],
) -> View:
    """Record a deliverable of the open gate; a new role's role file or recipe is validated and kept."""
    local = Path(ref).expanduser()
    return gate.deliver(actor, app, key, str(local.resolve()) if local.exists() else ref)


@_view_command(gate_app, "assess")
def assess(
    gate: "GateService",
    app: AppArg,
    key: Annotated[str, typer.Argument(help="Exit criterion key of the open gate.")],
    actor: AsOption,
    met: Annotated[bool, typer.Option("--met/--unmet", help="Whether the criterion is met.")] = True,
    note: Annotated[str, typer.Option("--note", help="What the assessment rests on.")] = "",
) -> View:
    """Record whether an exit criterion of the open gate is met."""
    return gate.assess(actor, app, key, met, note)


@_view_command(gate_app, "review")
def review(
    gate: "GateService",
    app: AppArg,
    actor: AsOption,
    recommend: Annotated[str, typer.Option("--recommend", help="go, no-go, recycle or hold")],
    findings: Annotated[str, typer.Option("--findings", help="Your findings.")],
) -> View:
    """Add your review (findings and recommendation) to the open gate."""
    return gate.review(actor, app, recommend, findings)


@_view_command(gate_app, "decide")
def decide(
    gate: "GateService",
    app: AppArg,
    outcome: Annotated[str, typer.Argument(help="go, no-go, recycle or hold")],
    actor: AsOption,
    rationale: Annotated[str, typer.Option("--rationale", help="Why.")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Record a go that changes the catalog without asking (scripts).")
    ] = False,
) -> View:
    """Record the review lead's decision; a refused go exits 1 with every reason. A go that
    changes the catalog (launches, retires or installs a role) says so first and asks."""
    if outcome == "go" and not yes:
        _confirm_catalog_change(gate.show(app))
    return gate.decide(actor, app, outcome, rationale)


def _confirm_catalog_change(view: View) -> None:
    """Say what a go at the open gate changes in the catalog, and ask (a script gives --yes)."""
    from fossp.errors import BadInput, Finding

    on_go = (view.get("gate") or {}).get("catalog_on_go")
    if not on_go or not on_go["changes"]:
        return
    if not sys.stdin.isatty():
        raise BadInput(f"{on_go['summary']}; nothing recorded: give --yes to record the go")
    typer.echo(on_go["summary"], err=True)
    if not typer.confirm("Record the go?", err=True):
        raise Finding("nothing recorded")


@_view_command(gate_app, "resume")
def resume(gate: "GateService", app: AppArg, actor: AsOption) -> View:
    """Resume an application on hold, or reopen one stopped by a no-go (review lead)."""
    return gate.resume(actor, app)


@_view_command(gate_app, "show", changes=False)
def show(gate: "GateService", app: AppArg) -> View:
    """An application with its open gate, corrective actions and decisions."""
    return gate.show(app)


@gate_app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False, output_format: FormatOption = None) -> None:
    """Every application with its phase, state and the catalog status its go decisions gave its roles."""
    from fossp.output import emit, table

    apps = _service(db).applications()
    rows = [
        (
            a["id"],
            a["name"],
            ", ".join(a["roles"]),
            a["phase_name"],
            a["state"],
            a["catalog_status"],
        )
        for a in apps
    ]
    emit(
        {"applications": apps},
        as_json,
        lambda: table(None, ["#", "name", "roles", "phase", "state", "catalog"], rows),
    )


@gate_app.command("audit")
def audit(
    app: Annotated[str | None, typer.Argument(help="Only this application.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """The audit trail, newest first."""
    from fossp.output import emit, table

    entries = _service(db).audit(app)
    rows = [(e["at"], e["actor"], e["action"], e["application_id"], e["detail"]) for e in entries]
    emit({"entries": entries}, as_json, lambda: table(None, ["at", "actor", "action", "app", "detail"], rows))


@gate_app.command("picture")
def picture(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="SVG file (default stdout).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The stage gate process picture as SVG, drawn from the phase definitions."""
    from fossp.gate.picture import process_svg
    from fossp.gate.process import load_process
    from fossp.output import print_json

    svg = process_svg(load_process())
    if output is not None:
        try:
            output.write_text(svg, encoding="utf-8")
        except OSError as error:
            raise BadInput(f"--output {output}: cannot write it: {error.strerror}") from None
    if as_json:
        print_json({"svg": svg if output is None else None, "output": None if output is None else str(output)})
    elif output is None:
        sys.stdout.write(svg + "\n")


@gate_app.command("agenda")
def agenda(
    at: Annotated[datetime, typer.Option("--at", help="Meeting start (ISO 8601, UTC if no zone).")],
    format_: Annotated[str, typer.Option("--format", help="md or ics")] = "md",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The meeting agenda of the open gate reviews, as Markdown or iCalendar."""
    from fossp.gate.agenda import agenda_ics, agenda_markdown
    from fossp.gate.errors import Invalid
    from fossp.output import print_json

    if format_ not in ("md", "ics"):
        raise Invalid("format", f"'{format_}' is not one of md, ics")
    service = _service(db)
    views = [service.show(a["id"]) for a in service.applications()]
    text = (agenda_ics if format_ == "ics" else agenda_markdown)(views, _utc(at))
    if as_json:
        print_json({"format": format_, "agenda": text})
    else:
        sys.stdout.write(text)


def _utc(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@_view_command(actions_app, "add")
def action_add(
    gate: "GateService",
    app: AppArg,
    actor: AsOption,
    title: Annotated[str, typer.Option("--title", help="What must be corrected.")],
    owner: Annotated[str, typer.Option("--owner", help="The account that carries it out.")],
    due: Annotated[str, typer.Option("--due", help="Due date, YYYY-MM-DD.")],
) -> View:
    """Open a corrective action with its owner and due date."""
    from fossp.gate.service import iso_date

    return gate.open_action(actor, app, title, owner, iso_date("due", due))


ActionArg = Annotated[int, typer.Argument(help="The action's number (fossp gate show APP).")]


@_view_command(actions_app, "done")
def action_done(gate: "GateService", action_id: ActionArg, actor: AsOption) -> View:
    """Mark a corrective action done (it still needs the working group's approval)."""
    return gate.complete_action(actor, action_id)


@_view_command(actions_app, "approve")
def action_approve(gate: "GateService", action_id: ActionArg, actor: AsOption) -> View:
    """Approve a completed corrective action (working group)."""
    return gate.approve_action(actor, action_id)


UserArg = Annotated[str, typer.Argument(help="Account name.")]


@_view_command(maintainers_app, "add")
def maintainers_add(gate: "GateService", app: AppArg, user: UserArg, actor: AsOption) -> View:
    """Let an account work on the application (review lead or admin)."""
    return gate.add_maintainer(actor, app, user)


@_view_command(maintainers_app, "remove")
def maintainers_remove(gate: "GateService", app: AppArg, user: UserArg, actor: AsOption) -> View:
    """Take the application away from a maintainer (review lead or admin; never the last one)."""
    return gate.remove_maintainer(actor, app, user)


@maintainers_app.command("list")
def maintainers_list(app: AppArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """The accounts that maintain the application."""
    from fossp.output import emit

    names = _service(db).show(app)["maintainers"]
    emit({"maintainers": names}, as_json, lambda: print("\n".join(names)))


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin (the default when it is not a terminal).")
]


def _password(from_stdin: bool, command: str) -> str:
    """A password typed without echo on a terminal (twice), else the first line of stdin;
    with neither (a script that gave nothing), one line saying how to give it."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line and not from_stdin:
            raise BadInput(f"{command}: no terminal to ask the password at: give it on stdin with --password-stdin")
        return line.rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _account(user: dict[str, Any], as_json: bool, done: str) -> None:
    from fossp.output import emit

    emit(user, as_json, lambda: print(f"{done} {user['name']} ({user['role']}, {user['operations']})"))


@users_app.command("add")
def users_add(
    name: UserArg,
    role: Annotated[
        str, typer.Option("--role", help="Gate role: liaison, member, maintainer, qa, releng, viewer, admin")
    ],
    operations: Annotated[
        str, typer.Option("--operations", help="Operations right: administrator, operator or viewer.")
    ] = "viewer",
    password_stdin: PasswordStdin = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="CLI-only account, no web sign-in.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add an account (administrator's console); the password is never echoed or printed."""
    password = None if no_password else _password(password_stdin, f"users add {shorten(name)}")
    _account(_service(db, changes=True).add_user(None, name, role, password, operations), as_json, "added")


@users_app.command("disable")
def users_disable(name: UserArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Disable an account: it cannot sign in or act, and its web sessions end."""
    _account(_service(db, changes=True).set_disabled(None, name, True), as_json, "disabled")


@users_app.command("enable")
def users_enable(name: UserArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Enable a disabled account again."""
    _account(_service(db, changes=True).set_disabled(None, name, False), as_json, "enabled")


@users_app.command("reset-password")
def users_reset_password(
    name: UserArg, password_stdin: PasswordStdin = False, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Give an account a new password (read without echo, never printed); its sessions end."""
    _account(
        _service(db, changes=True).reset_password(
            None, name, _password(password_stdin, f"users reset-password {shorten(name)}")
        ),
        as_json,
        "new password for",
    )


@users_app.command("list")
def users_list(db: DbOption = None, as_json: JsonOption = False, output_format: FormatOption = None) -> None:
    """Accounts and their roles."""
    from fossp.output import emit, table

    users = _service(db).users()
    rows = [
        (
            u["name"],
            u["role"],
            u["operations"],
            "no (disabled)" if u["disabled"] else "yes" if u["can_sign_in"] else "no",
        )
        for u in users
    ]
    emit({"users": users}, as_json, lambda: table(None, ["name", "gate role", "operations", "web sign-in"], rows))


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = 8080,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the web console and REST API (/api/v1, OpenAPI at /api/v1/openapi.json)."""
    import uvicorn

    from fossp.output import print_json
    from fossp.web.app import create_app

    listening = _listen(host, port)
    web = create_app(db)
    if as_json:
        print_json({"url": f"http://{host}:{port}/", "api": f"http://{host}:{port}/api/v1"})
    uvicorn.Server(uvicorn.Config(web, host=host, port=port, log_level="info")).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound here so that a port in use or a bad address is one line."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen()
    except (OSError, OverflowError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise BadInput(f"--host {host} --port {port}: cannot listen there: {reason}") from None
    return listening
