"""`fossp roles`, `fossp lifecycle` and `fossp release`: explore the catalog and its releases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import FormatOption, JsonOption, complete_role, new_app

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog
    from fossp.catalog.schema import Role, Setting

roles_app = new_app("List and show server roles: role IDs, packages, ports, settings, lifecycle.")
release_app = new_app("Release levels: major release, service pack, interim fix.")

ServiceOption = Annotated[str | None, typer.Option("--service", help="Service key or name, e.g. database.")]
FamilyOption = Annotated[str | None, typer.Option("--family", help="fedora or debian: only roles packaged there.")]
StatusOption = Annotated[str | None, typer.Option("--status", help="launched, preview or retired.")]


def _service_key(catalog: Catalog, wanted: str) -> str:
    from fossp.errors import BadInput

    for service in catalog.services.values():
        if wanted.lower() in (service.key, service.name.lower(), service.code.lower()):
            return service.key
    raise BadInput(f"--service: unknown service '{wanted}' (one of {', '.join(catalog.services)})")


def parse_choice(option: str, value: str, enum: type[Any]) -> Any:
    from fossp.errors import BadInput

    try:
        return enum(value.lower())
    except ValueError:
        raise BadInput(f"{option}: '{value}' is not one of {', '.join(e.value for e in enum)}") from None


def filter_roles(catalog: Catalog, service: str | None, family: str | None, status: str | None) -> list[Role]:
    """The catalog's roles narrowed by the common filters (bad values are BadInput)."""
    from fossp.catalog.schema import CatalogStatus, Family

    roles = list(catalog.roles.values())
    if service:
        key = _service_key(catalog, service)
        roles = [r for r in roles if r.service == key]
    if family:
        wanted_family = parse_choice("--family", family, Family)
        roles = [r for r in roles if r.available_on(wanted_family)]
    if status:
        wanted_status = parse_choice("--status", status, CatalogStatus)
        roles = [r for r in roles if r.lifecycle.status is wanted_status]
    return sorted(roles, key=lambda r: r.id)


def _packages_cell(role: Role, family: Any) -> str:
    """The main package, and how many more: the full list is in `roles show` and JSON."""
    entry = role.packages[family]
    if not entry.available:
        return "-"
    more = len(entry.packages) - 1
    return entry.packages[0] + (f" +{more}" if more else "")


@roles_app.command("list")
def roles_list(
    service: ServiceOption = None,
    family: FamilyOption = None,
    status: StatusOption = None,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """List roles with their IDs, status and packages per family."""
    from fossp.catalog.schema import Family
    from fossp.catalog.status import governed_catalog
    from fossp.engine.recipe_files import has_recipe
    from fossp.output import emit, table

    catalog = governed_catalog()
    roles = filter_roles(catalog, service, family, status)
    rows = [
        {
            "id": r.id,
            "name": r.name,
            "service": r.service,
            "service_name": catalog.services[r.service].name,
            "implementation": r.implementation,
            "status": r.lifecycle.status.value,
            "deployable": has_recipe(r.name),
            "upstream": r.upstream.status,
            "features": r.features,
            "fedora": r.packages[Family.FEDORA].packages if r.available_on(Family.FEDORA) else None,
            "debian": r.packages[Family.DEBIAN].packages if r.available_on(Family.DEBIAN) else None,
        }
        for r in roles
    ]
    emit(
        {"roles": rows},
        as_json,
        lambda: table(
            f"{len(rows)} roles",
            ["Role ID", "Name", "Service", "Status", "Deploys", "Fedora", "Debian"],
            [
                [
                    r.id,
                    r.name,
                    catalog.services[r.service].name,
                    r.lifecycle.status.value,
                    "yes" if has_recipe(r.name) else "-",
                    _packages_cell(r, Family.FEDORA),
                    _packages_cell(r, Family.DEBIAN),
                ]
                for r in roles
            ],
        ),
    )


def _default_cell(setting: Setting) -> Any:
    """A required setting has no default: the site must choose it (an example shows its form)."""
    if not setting.required:
        return setting.default
    return f"(required, e.g. {setting.example})" if setting.example is not None else "(required)"


def _render_role(role: Role, catalog: Catalog) -> None:
    from fossp.output import console, table

    out = console()
    service = catalog.services[role.service]
    out.print(f"[bold]{role.implementation}[/bold]  {role.id}  ({service.name}, {role.lifecycle.status.value})")
    out.print(role.description)
    out.print(f"Features: {', '.join(role.features)}")
    for family, entry in role.packages.items():
        text = " ".join(entry.packages) if entry.available else f"not available: {entry.note}"
        units = ", ".join(role.units.get(family, [])) or "-"
        out.print(f"{family.value}: packages {text}; units {units}")
    if role.upstream.status == "dead":
        out.print(f"[red]Upstream is dead[/red]: {role.upstream.reason} Replacement: {role.upstream.replacement}")
    ports = [f"{p.port}/{p.protocol.value} ({p.purpose})" for p in role.ports]
    out.print(f"Ports: {', '.join(ports) or '-'}; firewalld: {', '.join(role.firewall.services) or '-'}")
    selinux = [f"{k}={'on' if v else 'off'}" for k, v in role.selinux.booleans.items()]
    selinux += [f"{label.type} {label.port}/{label.protocol.value}" for label in role.selinux.port_labels]
    out.print(f"SELinux: {', '.join(selinux) or '-'}")
    for kind, relations in (("Requires", role.requires), ("Conflicts", role.conflicts)):
        for relation in relations:
            out.print(f"{kind} {relation.role}: {relation.reason}")
    table(
        "Settings",
        ["Name", "Type", "Default", "Description"],
        [[s.name, s.type.value, _default_cell(s), s.description] for s in role.settings],
    )
    table(
        "Health probes",
        ["Name", "Kind", "What it proves"],
        [[p.name, p.kind.value, p.description] for p in role.probes],
    )
    cycle = role.lifecycle
    end = cycle.support_end or "Not announced"
    out.print(f"Release {cycle.release}, released {cycle.release_date}, fixes until {end}")


@roles_app.command("show")
def roles_show(
    role: Annotated[str, typer.Argument(help="Role ID or name.", autocompletion=complete_role)],
    as_json: JsonOption = False,
) -> None:
    """Show everything the catalog knows about one role."""
    from fossp.catalog.status import governed_catalog
    from fossp.output import emit

    catalog = governed_catalog()
    found = catalog.role(role)
    emit(found.model_dump(mode="json"), as_json, lambda: _render_role(found, catalog))


def lifecycle(
    service: ServiceOption = None,
    family: FamilyOption = None,
    status: StatusOption = None,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """The lifecycle table: service, role, role ID, release, release date, support end."""
    from fossp.catalog.status import governed_catalog
    from fossp.lifecycle.table import lifecycle_table
    from fossp.output import emit, table

    catalog = governed_catalog()
    rows = lifecycle_table(catalog, filter_roles(catalog, service, family, status))
    emit(
        {"roles": rows},
        as_json,
        lambda: table(
            "FedoraOS Server Platform support and life cycle",
            ["Service", "Server Role", "Server Role ID", "Release", "Release Date", "Fixes Available Until (EOL)"],
            [
                [
                    r["service_name"],
                    r["implementation"],
                    r["role_id"],
                    r["release_cycle"],
                    r["release_date"],
                    r["eol"] or "Not announced",
                ]
                for r in rows
            ],
        ),
    )


@release_app.command("check")
def release_check(
    source: Annotated[str, typer.Argument(help="Current release, e.g. 1.1.")],
    target: Annotated[str, typer.Argument(help="Wanted release, e.g. 2.0.")],
    as_json: JsonOption = False,
) -> None:
    """Say what moving between two releases means and whether it is allowed (exit 1 if not)."""
    from fossp.errors import EXIT_FINDING
    from fossp.lifecycle.version import ReleaseVersion, transition
    from fossp.output import console, emit

    move = transition(ReleaseVersion.parse(source), ReleaseVersion.parse(target))
    verdict = "allowed" if move.allowed else "refused"
    emit(
        move.as_dict(),
        as_json,
        lambda: console().print(
            f"{move.source} -> {move.target}: {move.level.value if move.level else 'no change'}, {verdict}: "
            f"{move.reason}" + ("; reboot required" if move.reboot and move.allowed else "")
        ),
    )
    if not move.allowed:
        raise typer.Exit(EXIT_FINDING)


@release_app.command("list")
def release_list(as_json: JsonOption = False, output_format: FormatOption = None) -> None:
    """The platform's releases with their level and support end."""
    from fossp.lifecycle.releases import level_of, platform_releases
    from fossp.output import emit, table

    releases = platform_releases()
    rows: list[dict[str, Any]] = [
        {
            "release_cycle": r.version,
            "release": r.release,
            "level": level_of(releases, i).value,
            "release_date": r.release_date.isoformat(),
            "eol": r.support_end.isoformat() if r.support_end else False,
            "changes": [c.model_dump(mode="json") for c in r.changes],
        }
        for i, r in enumerate(releases)
    ]
    emit(
        {"releases": rows},
        as_json,
        lambda: table(
            "FOSSP releases",
            ["Version", "Release", "Level", "Released", "Fixes until", "Changes"],
            [
                [
                    r["release_cycle"],
                    r["release"],
                    r["level"],
                    r["release_date"],
                    r["eol"] or "Not announced",
                    "; ".join(c["summary"] for c in r["changes"]),
                ]
                for r in rows
            ],
        ),
    )
