"""`fossp features`, `fossp recommend` and `fossp profile`: from wanted features to a profile."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import JsonOption, new_app

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog
    from fossp.selection.conflicts import Conflict
    from fossp.selection.recommend import Recommendation

profile_app = new_app("Check profiles (roles plus settings) before deploying them.")


def features(as_json: JsonOption = False) -> None:
    """List the feature vocabulary and the roles that provide each feature."""
    from fossp.catalog.status import governed_catalog
    from fossp.output import emit, table

    catalog = governed_catalog()
    rows = [
        {
            "feature": f.key,
            "description": f.description,
            "synonyms": f.synonyms,
            "implies": f.implies,
            "roles": [r.id for r in catalog.providers(f.key)],
        }
        for f in catalog.features.values()
    ]
    emit(
        rows,
        as_json,
        lambda: table(
            f"{len(rows)} features",
            ["Feature", "Description", "Roles"],
            [[r["feature"], r["description"], ", ".join(catalog.roles[i].name for i in r["roles"])] for r in rows],
        ),
    )


def parse_assignments(values: list[str], catalog: Catalog) -> dict[str, dict[str, Any]]:
    """ROLE.SETTING=VALUE strings -> {role id: {setting: value}}; values are YAML scalars,
    but a secret is the text as typed (12345678 stays text) unless it is a reference
    such as {from_env: VAR}."""
    import yaml

    from fossp.errors import BadInput
    from fossp.secrets import reference

    result: dict[str, dict[str, Any]] = {}
    for text in values:
        target, sep, raw = text.partition("=")
        role_ref, dot, setting = target.rpartition(".")
        if not (sep and dot and role_ref and setting):
            # the part before '=' only: a value is never echoed (it may be a secret)
            raise BadInput(f"--set '{target}': expected ROLE.SETTING=VALUE, e.g. nginx.http_port=8080")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        role = catalog.role(role_ref)
        definition = role.setting(setting)
        if definition is not None and definition.secret and reference(value) is None:
            value = raw
            sys.stderr.write(
                f"fossp: warning: --set {role.name}.{setting}: a secret on the command line can be read by other "
                "users of this machine (ps); prefer {from_env: VAR} or {from_file: PATH}\n"
            )
        result.setdefault(role.id, {})[setting] = value
    return result


def _conflict_rows(conflicts: list[Conflict]) -> list[list[str]]:
    return [[f"{c.first} / {c.second}", c.reason, c.resolution] for c in conflicts]


def recommendation_data(result: Recommendation) -> dict[str, Any]:
    return {
        "family": result.family.value if result.family else None,
        "requests": [
            {"text": r.text, "features": r.features, "roles": r.roles, "ignored": r.ignored} for r in result.requests
        ],
        "roles": [
            {
                "id": c.role.id,
                "name": c.role.name,
                "implementation": c.role.implementation,
                "reasons": c.reasons,
                "requiredBy": c.required_by,
                "settings": c.settings,
                "alternatives": [{"id": a.role.id, "name": a.role.name, "whyNot": a.why_not} for a in c.alternatives],
            }
            for c in result.choices
        ],
        "conflicts": [c.as_dict() for c in result.conflicts],
        "unmet": [{"feature": u.feature, "reason": u.reason} for u in result.unmet],
        "ok": result.ok,
    }


def _render_recommendation(result: Recommendation, saved: Path | None) -> None:
    from fossp.output import console, table

    out = console()
    for request in result.requests:
        understood = [*request.features, *(f"role {r}" for r in request.roles)]
        line = f"'{request.text}' -> {', '.join(understood)}"
        if request.ignored:
            line += f" (ignored: {', '.join(request.ignored)})"
        out.print(line)
    table(
        "Recommended roles",
        ["Role", "Why", "Alternatives"],
        [
            [
                f"{c.role.implementation} ({c.role.id})",
                "\n".join(c.reasons),
                "\n".join(f"{a.role.implementation}: {a.why_not}" for a in c.alternatives) or "-",
            ]
            for c in result.choices
        ],
    )
    if result.conflicts:
        table(
            "Conflicts: these roles cannot share a host", ["Roles", "Why", "Way out"], _conflict_rows(result.conflicts)
        )
    for unmet in result.unmet:
        out.print(f"[red]No role offered for {unmet.feature}[/red]: {unmet.reason}")
    if saved:
        out.print(f"Profile saved to {saved}")


def recommend(
    wanted: Annotated[list[str], typer.Argument(help="Features as keywords or free text, e.g. 'load balancer'.")],
    family: Annotated[str | None, typer.Option(help="fedora or debian: only roles packaged there.")] = None,
    include_preview: Annotated[bool, typer.Option("--include-preview", help="Offer preview roles too.")] = False,
    assign: Annotated[list[str] | None, typer.Option("--set", help="ROLE.SETTING=VALUE for the profile.")] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Write the chosen roles as a profile.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Choose roles for the features you need: why, alternatives, dependencies, conflicts.

    Exit 1 when chosen roles conflict or a feature cannot be provided.
    """
    from fossp.catalog.schema import Family
    from fossp.catalog.status import governed_catalog
    from fossp.cli.catalog_cmds import parse_choice
    from fossp.errors import EXIT_FINDING
    from fossp.output import emit
    from fossp.selection.profile import save_profile
    from fossp.selection.recommend import recommend as choose

    catalog = governed_catalog()
    wanted_family = parse_choice("--family", family, Family) if family else None
    result = choose(wanted, catalog, wanted_family, include_preview, parse_assignments(assign or [], catalog))
    if save is not None:
        save_profile(result.profile(), save, catalog)
    emit(recommendation_data(result), as_json, lambda: _render_recommendation(result, save))
    if not result.ok:
        raise typer.Exit(EXIT_FINDING)


@profile_app.command("check")
def profile_check(
    path: Annotated[Path, typer.Argument(help="Profile file (YAML).")],
    as_json: JsonOption = False,
) -> None:
    """Validate a profile and report conflicts between its roles (exit 1 on conflicts);
    warn when it holds secrets that its group or others can read."""
    from fossp.catalog.status import governed_catalog
    from fossp.errors import EXIT_FINDING
    from fossp.output import emit, table
    from fossp.selection.conflicts import find_conflicts
    from fossp.selection.profile import exposure_warning, load_profile, resolve_settings

    catalog = governed_catalog()
    profile = load_profile(path, catalog)
    chosen = [
        (catalog.roles[c.id], resolve_settings(catalog.roles[c.id], c.settings, str(path), complete=False))
        for c in profile.roles
    ]
    conflicts = find_conflicts(chosen)
    warning = exposure_warning(profile, catalog, path)
    if warning:
        sys.stderr.write(f"fossp: warning: {warning}\n")
    data = {
        "profile": str(path),
        "roles": [{"id": role.id, "name": role.name, "settings": settings} for role, settings in chosen],
        "conflicts": [c.as_dict() for c in conflicts],
        "warnings": [warning] if warning else [],
        "ok": not conflicts,
    }

    def render() -> None:
        table(
            f"Profile {path}",
            ["Role", "Settings"],
            [
                [f"{role.implementation} ({role.id})", ", ".join(f"{k}={v}" for k, v in settings.items())]
                for role, settings in chosen
            ],
        )
        if conflicts:
            table("Conflicts", ["Roles", "Why", "Way out"], _conflict_rows(conflicts))

    emit(data, as_json, render)
    if conflicts:
        raise typer.Exit(EXIT_FINDING)
