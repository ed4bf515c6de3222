"""`fossp platform`: the fifteen platform components and their state on a host."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import FormatOption, JsonOption, new_app
from fossp.cli.deploy_cmds import BecomeOption, InventoryOption, TargetOption, TimeoutOption

if TYPE_CHECKING:
    from fossp.catalog.schema import PlatformComponent
    from fossp.platform.checks import CheckResult

app = new_app("The FOSSP platform components (kernel, systemd, SELinux, BTRFS, ...).")


def _report(host: str, results: list[CheckResult]) -> dict[str, Any]:
    from fossp.platform.checks import Outcome

    counts = {o.value: sum(r.outcome is o for r in results) for o in Outcome}
    return {
        "host": host,
        "ok": counts["pass"] + counts["skip"] == len(results),
        "counts": counts,
        "components": [r.as_dict() for r in results],
    }


def _render(report: dict[str, Any]) -> None:
    from fossp.output import table

    counts = report["counts"]
    table(
        f"Platform check of {report['host']}: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, "
        f"{counts['skip']} skipped",
        ["Component", "Result", "Detail", "What to do"],
        [[c["name"], c["outcome"].upper(), c["detail"], c["remedy"] or ""] for c in report["components"]],
    )


def remote_reports(
    components: list[PlatformComponent], targets: list[str], inventory: Any, become: bool, error_object: bool = False
) -> list[dict[str, Any]]:
    """Run the same read-only facts script on each target host, one round trip each. A
    host that failed has its ``error``: its message, or with ``error_object`` the
    {message, where, code} of the JSON documents (the web console still reads the message)."""
    import asyncio

    from fossp.cli.deploy_cmds import target_hosts
    from fossp.engine.fleet import run_fleet
    from fossp.platform.checks import check_platform
    from fossp.platform.facts import gather_script, parse_facts

    script = gather_script(components).encode()

    async def action(connector: Any, host: Any, report: Any) -> list[CheckResult]:
        done = await connector.run(["sh", "-s"], stdin=script)
        return check_platform(components, parse_facts(done.stdout))

    results = asyncio.run(run_fleet(target_hosts(targets, inventory, become), action, lambda host, message: None))

    def failed(result: Any) -> dict[str, Any]:
        error = result.error_data() if error_object else result.error
        return {"host": result.host, "ok": False, "error": error}

    return [_report(r.host, r.value) if r.ok else failed(r) for r in results]


@app.command("check")
def check(
    target: TargetOption = [],  # noqa: B006 - typer reads the default
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """Check each platform component: pass, warn or fail, and what to do.

    Without --target this machine is checked; with it, every target host (over SSH).
    A component a host cannot have (the kernel of a container) is skipped, saying why.
    Exit 0 only when every other component passes on every host, 1 otherwise.
    """
    from fossp.catalog import load_catalog
    from fossp.errors import EXIT_FINDING
    from fossp.output import console, emit
    from fossp.platform.checks import check_platform
    from fossp.platform.facts import gather_local

    components = load_catalog().platform
    if target:
        reports = remote_reports(components, target, inventory, become, error_object=True)
    else:
        reports = [_report("localhost", check_platform(components, gather_local(components)))]

    def render() -> None:
        for report in reports:
            if "error" in report:
                console().print(f"{report['host']}: [red]error[/red]: {report['error']['message']}")
            else:
                _render(report)

    emit({"hosts": reports}, as_json, render)
    if not all(report["ok"] for report in reports):
        raise typer.Exit(EXIT_FINDING)


#: The catalog role that is the platform's configured components (data/roles/platform.yaml).
PLATFORM_ROLE = "platform"


@app.command("apply")
def apply(
    target: TargetOption = [],  # noqa: B006 - typer reads the default
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    set_: Annotated[
        list[str],
        typer.Option(
            "--set", help="A platform setting, NAME=VALUE (YAML value), e.g. ntp_servers=[ntp.example]; repeatable."
        ),
    ] = [],  # noqa: B006
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change, and why; change nothing.")
    ] = False,
    timeout: TimeoutOption = [],  # noqa: B006
    backup_director: Annotated[
        str | None,
        typer.Option(
            "--backup-director",
            help="Register each host with the Bacula director on this host (the role bacula): the same as "
            "--set backup_director=HOST.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Bring each target host to the platform: chrony, the SNMP agent, the Bacula file daemon,
    multipathd, OpenSSH settings, SSSD (with a directory), SELinux and firewalld (Fedora),
    and on a BTRFS root /home, /srv and /var/log as subvolumes of their own.

    SSSD joins the directory of a host running the 389ds or the Samba AD role with
    --set directory=HOST (how the role was deployed there is read first; a Samba AD domain
    is joined with adcli), or the one --set ldap_uri=... (and ad_domain=...) gives.

    The same as `fossp deploy platform` (the role platform, which a profile may include):
    one plan/apply run per host, recorded in its ledger, undone by `fossp decommission platform`.
    With --set backup_director=HOST (or --backup-director HOST) each host is registered with
    the Bacula director there (reached first: exit 1 if it cannot be): the director gets a
    file per host with its file daemon and a job per role deployed on it, recorded in its
    ledger too (`fossp decommission bacula` there removes them). Every later deploy or
    decommission on a registered host registers its roles again.
    """
    from fossp.cli.deploy_cmds import deploy_hosts, plan_hosts
    from fossp.errors import BadInput

    if not target:
        raise BadInput("platform apply: give --target (a host, a group, all or lab:NAME)")
    sets = [f"{PLATFORM_ROLE}.{value}" for value in set_]
    if backup_director is not None:
        if any(value.startswith("backup_director=") for value in set_):
            raise BadInput("--backup-director: give it or --set backup_director=..., not both")
        sets.append(f"{PLATFORM_ROLE}.backup_director={backup_director}")
    where = (target, inventory, become, None, sets)
    if dry_run:
        plan_hosts([PLATFORM_ROLE], *where, False, False, timeout, False, as_json)
    else:
        deploy_hosts([PLATFORM_ROLE], *where, (False, False, False), timeout, as_json)
