"""`fossp features`, `fossp recommend` and `fossp profile`: from wanted features to a profile."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import FormatOption, JsonOption, new_app

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog
    from fossp.catalog.schema import Family, Role, Setting
    from fossp.selection.conflicts import Conflict
    from fossp.selection.recommend import Choice, Recommendation, Request
    from fossp.selection.text import Match

profile_app = new_app("Check profiles (roles plus settings) before deploying them.")


def features(as_json: JsonOption = False, output_format: FormatOption = None) -> None:
    """List the feature vocabulary and the roles that provide each feature."""
    from fossp.catalog.status import governed_catalog
    from fossp.output import emit, table
    from fossp.selection.vocabulary import Terms, load_vocabulary

    catalog = governed_catalog()
    vocabulary = load_vocabulary()
    rows = [
        {
            "feature": f.key,
            "description": f.description,
            **vocabulary.features.get(f.key, Terms()).model_dump(),
            "implies": f.implies,
            "roles": [r.id for r in catalog.providers(f.key)],
        }
        for f in catalog.features.values()
    ]
    emit(
        {"features": rows},
        as_json,
        lambda: table(
            f"{len(rows)} features",
            ["Feature", "Description", "Asked for as", "Roles"],
            [
                [
                    r["feature"],
                    r["description"],
                    ", ".join([*r["synonyms"], *r["protocols"], *r["products"]][:6]),
                    ", ".join(catalog.roles[i].name for i in r["roles"]),
                ]
                for r in rows
            ],
        ),
    )


def parse_assignments(values: list[str], catalog: Catalog) -> dict[str, dict[str, Any]]:
    """ROLE.SETTING=VALUE strings -> {role id: {setting: value}}; values are YAML scalars,
    but a secret is the text as typed (12345678 stays text) unless it is a reference
    such as {from_env: VAR}."""
    from fossp.errors import BadInput, shorten
    from fossp.secrets import reference
    from fossp.selection.profile import typed_value

    result: dict[str, dict[str, Any]] = {}
    for text in values:
        target, sep, raw = text.partition("=")
        role_ref, dot, setting = target.rpartition(".")
        if not (sep and dot and role_ref and setting):
            # the part before '=' only: a value is never echoed (it may be a secret)
            raise BadInput(f"--set {shorten(target)}: expected ROLE.SETTING=VALUE, e.g. nginx.http_port=8080")
        role = catalog.role(role_ref)
        definition = role.setting(setting)
        value = typed_value(definition, raw)
        if definition is not None and definition.secret and reference(value) is None:
            sys.stderr.write(
                f"fossp: warning: --set {role.name}.{setting}: a secret on the command line can be read by other "
                "users of this machine (ps); prefer {from_env: VAR} or {from_file: PATH}\n"
            )
        result.setdefault(role.id, {})[setting] = value
    return result


def _conflict_rows(conflicts: list[Conflict]) -> list[list[str]]:
    return [[f"{c.first} / {c.second}", c.reason, c.resolution] for c in conflicts]


def recommendation_data(result: Recommendation) -> dict[str, Any]:
    """The answer as JSON (snake_case keys): what was understood, the roles, and what is left."""
    return {
        "family": result.family.value if result.family else None,
        "requests": [_request_data(r) for r in result.requests],
        "roles": [_choice_data(c) for c in result.choices],
        "conflicts": [c.as_dict() for c in result.conflicts],
        "unmet": [{"feature": u.feature, "reason": u.reason} for u in result.unmet],
        "unserved": [
            {
                "need": u.need.key,
                "name": u.need.name,
                "asked_as": u.asked_as,
                "message": u.message,
                "nearest": [{"id": n.role.id, "name": n.role.name, "why": n.why} for n in u.nearest],
            }
            for u in result.unserved
        ],
        "settings_to_choose": [_to_choose_data(role, setting) for role, setting in result.to_choose()],
        "ok": result.ok,
    }


def _request_data(request: Request) -> dict[str, Any]:
    from fossp.selection.recommend import describe_term

    return {
        "text": request.text,
        "understood": [
            {
                "words": m.words,
                "term": m.term.text,
                "term_kind": m.term.kind,
                "means": m.term.target_kind,
                "target": m.term.target,
            }
            for m in request.understood
        ],
        "features": request.features,
        "roles": request.roles,
        "unserved": request.targets("unserved"),
        "ignored": request.ignored,
        "filler": request.filler,
        "did_you_mean": {word: [describe_term(t) for t in terms] for word, terms in request.suggestions.items()},
    }


def _choice_data(choice: Choice) -> dict[str, Any]:
    return {
        "id": choice.role.id,
        "name": choice.role.name,
        "implementation": choice.role.implementation,
        "reasons": choice.reasons,
        "required_by": choice.required_by,
        "settings": choice.settings,
        "deploys": choice.deploy_problem is None,
        "deploys_on": [f.value for f in choice.deploys_on],
        "deploy_problem": choice.deploy_problem,
        "alternatives": [{"id": a.role.id, "name": a.role.name, "why_not": a.why_not} for a in choice.alternatives],
    }


def _to_choose_data(role: Role, setting: Setting) -> dict[str, Any]:
    from fossp.cli.ask import how_to_give

    return {
        "role_id": role.id,
        "name": role.name,
        "setting": setting.name,
        "type": setting.type.value,
        "secret": setting.secret,
        "description": setting.description.strip(),
        "example": setting.example,
        "give_as": how_to_give(role, setting),
    }


def understood_line(request: Request) -> str:
    """'TEXT': understood 'WORDS' as TARGET, ...; ignored ...; filler ... (one line per argument)."""
    from fossp.selection.recommend import describe_term

    parts = [f"'{m.words}' as {_meaning(m)}" for m in request.understood]
    line = f"'{request.text}': understood {', '.join(parts)}"
    if request.ignored:
        ignored = [
            f"{word} (did you mean {', '.join(describe_term(t) for t in request.suggestions[word])}?)"
            if word in request.suggestions
            else word
            for word in request.ignored
        ]
        line += f"; ignored (not known): {', '.join(ignored)}"
    if request.filler:
        line += f"; skipped as filler: {', '.join(request.filler)}"
    return line


def _meaning(match: Match) -> str:
    term = match.term
    kind = "" if term.kind in ("synonym", "name") else f", a {term.kind}"
    target = {"feature": term.label, "role": f"role {term.label}", "unserved": f"{term.label} (no role)"}
    via = f" ('{term.text}'{kind})" if term.text.casefold() != match.words or kind else ""
    return target[term.target_kind] + via


def _deploys_cell(choice: Choice, family: Family | None) -> str:
    """Where FOSSP deploys the role: the chosen family, or every family it can ("fedora only")."""
    if choice.deploy_problem:
        return f"no: {choice.deploy_problem}"
    shown = ", ".join(f.value for f in choice.deploys_on)
    return shown if family is not None or len(choice.deploys_on) > 1 else f"{shown} only"


def _render_recommendation(result: Recommendation, saved: Path | None) -> None:
    from fossp.output import console, plain, table

    out = console()
    for request in result.requests:
        out.print(plain(understood_line(request)))
    if result.choices:
        table(
            "Recommended roles",
            ["Role", "Why", "Deploys on", "Alternatives"],
            [
                [
                    f"{c.role.implementation} ({c.role.id})",
                    "\n".join(c.reasons),
                    _deploys_cell(c, result.family),
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
        out.print(f"[red]No role offered for {plain(unmet.feature)}[/red]: {plain(unmet.reason)}")
    for unserved in result.unserved:
        out.print(f"[yellow]{plain(unserved.message)}[/yellow] (asked as '{plain(unserved.asked_as)}')")
    _render_to_choose(result, saved)
    if saved:
        out.print(f"Profile saved to {plain(saved)}")


def _render_to_choose(result: Recommendation, saved: Path | None) -> None:
    from fossp.output import table

    missing = result.to_choose()
    if missing and saved is None:
        table(
            "Settings with no safe default: give them (--set), or --save at a terminal to be asked",
            ["Setting", "What", "Give as"],
            [[f"{r.name}.{s.name}", s.description.strip(), _to_choose_data(r, s)["give_as"]] for r, s in missing],
        )


def recommend(
    wanted: Annotated[list[str], typer.Argument(help="What you need, as keywords or sentences, e.g. 'load balancer'.")],
    family: Annotated[str | None, typer.Option(help="fedora or debian: only roles packaged there.")] = None,
    include_preview: Annotated[bool, typer.Option("--include-preview", help="Offer preview roles too.")] = False,
    assign: Annotated[list[str] | None, typer.Option("--set", help="ROLE.SETTING=VALUE for the profile.")] = None,
    save: Annotated[Path | None, typer.Option("--save", help="Write the chosen roles as a profile.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Choose roles for what you need: what was understood, why, alternatives,
    dependencies, conflicts, and whether FOSSP deploys each role.

    Exit 1 when chosen roles conflict, a need has no role or a chosen role cannot deploy;
    2 when nothing in an argument is understood. With --save, settings that have no safe
    default (a DHCP subnet, a domain realm) are asked for at a terminal and must be given
    with --set in a script; a secret typed at the prompt is kept in a 0600 file beside the
    profile, which names it.
    """
    from fossp.catalog.schema import Family
    from fossp.catalog.status import governed_catalog
    from fossp.cli.catalog_cmds import parse_choice
    from fossp.errors import EXIT_FINDING
    from fossp.output import emit
    from fossp.selection.profile import keep_secrets_apart, save_profile
    from fossp.selection.recommend import recommend as choose

    catalog = governed_catalog()
    wanted_family = parse_choice("--family", family, Family) if family else None
    given = parse_assignments(assign or [], catalog)
    result = choose(wanted, catalog, wanted_family, include_preview, given)
    if save is not None:
        typed = _ask_for_the_rest(result)
        if typed:
            merged = {role_id: {**given.get(role_id, {}), **values} for role_id, values in typed.items()}
            result = choose(wanted, catalog, wanted_family, include_preview, {**given, **merged})
        secrets = {
            role_id: {name: value for name, value in values.items() if catalog.roles[role_id].setting(name).secret}  # type: ignore[union-attr]
            for role_id, values in typed.items()
        }
        save_profile(keep_secrets_apart(result.profile(), secrets, save, catalog), save, catalog)
    emit(recommendation_data(result), as_json, lambda: _render_recommendation(result, save))
    if not result.ok:
        raise typer.Exit(EXIT_FINDING)


def _ask_for_the_rest(result: Recommendation) -> dict[str, dict[str, Any]]:
    """The settings with no safe default that --set did not give: asked at a terminal,
    refused (one line, nothing written) in a script."""
    from fossp.cli import ask

    missing = result.to_choose()
    if not missing:
        return {}
    if not ask.interactive():
        raise ask.refuse(missing)
    return ask.ask(missing)


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
