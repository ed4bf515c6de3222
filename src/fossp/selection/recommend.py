"""The seed's "Infrastructure Tool": wanted features in, a reasoned choice of roles out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fossp.catalog.loader import Catalog
from fossp.catalog.schema import CatalogStatus, Family, Relation, Role
from fossp.errors import BadInput
from fossp.selection.conflicts import Conflict, find_conflicts
from fossp.selection.profile import Profile, RoleChoice, resolve_settings
from fossp.selection.text import closest_features, match_text


@dataclass
class Request:
    """What was asked for and how it was understood."""

    text: str
    features: dict[str, str]
    roles: dict[str, str]
    ignored: list[str]


@dataclass
class Alternative:
    role: Role
    why_not: str


@dataclass
class Choice:
    role: Role
    reasons: list[str]
    alternatives: list[Alternative] = field(default_factory=list)
    required_by: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Unmet:
    feature: str
    reason: str


@dataclass
class Recommendation:
    requests: list[Request]
    choices: list[Choice]
    conflicts: list[Conflict]
    unmet: list[Unmet]
    family: Family | None

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.unmet

    def profile(self) -> Profile:
        return Profile(roles=[RoleChoice(id=c.role.id, settings=c.settings) for c in self.choices])


def understand(texts: list[str], catalog: Catalog) -> list[Request]:
    """Match each argument; an argument that names nothing is bad input with close matches."""
    requests = []
    for text in texts:
        if text.strip() in catalog.features:
            requests.append(Request(text, {text.strip(): text.strip()}, {}, []))
            continue
        found = match_text(text, catalog)
        if found.empty:
            hints = closest_features(text.strip(), catalog)
            hint = f"; closest: {', '.join(hints)}" if hints else "; see `fossp features`"
            raise BadInput(f"unknown feature '{text}'{hint}")
        requests.append(Request(text, found.features, found.roles, found.ignored))
    return requests


def retired_reason(role: Role) -> str | None:
    """Why a role is retired (its upstream is dead, or the catalog retired it), or None."""
    if role.upstream.status == "dead":
        return f"upstream is dead ({role.upstream.reason}); consider {role.upstream.replacement}"
    if role.lifecycle.status is CatalogStatus.RETIRED:
        return f"catalog status is {role.lifecycle.status.value}"
    return None


def why_not_offered(
    role: Role, family: Family | None, include_preview: bool, include_retired: bool = False
) -> str | None:
    """Why a role cannot be offered, or None when it can (``include_retired``: a retired
    role, or one whose upstream is dead, is deployed anyway when asked for by name)."""
    retired = retired_reason(role)
    if retired and not include_retired:
        return f"{retired} (--include-retired deploys it anyway)"
    status = role.lifecycle.status
    if status is CatalogStatus.PREVIEW and not include_preview:
        return f"catalog status is {status.value} (use --include-preview for preview roles)"
    if family is not None and not role.available_on(family):
        return f"no {family.value} package: {role.packages[family].note}"
    if family is None and not include_preview and not any(role.available_on(f) for f in Family):
        return "not packaged for any family (use --include-preview to see it): " + _notes(role)
    return None


def _notes(role: Role) -> str:
    return "; ".join(f"{f.value}: {p.note}" for f, p in role.packages.items() if not p.available)


def _warnings(role: Role) -> list[str]:
    """What a user must know about a role that is offered anyway (preview, no package)."""
    found = []
    if role.lifecycle.status is not CatalogStatus.LAUNCHED:
        found.append(f"warning: {role.implementation} is {role.lifecycle.status.value}, not launched")
    if not any(role.available_on(f) for f in Family):
        found.append(f"warning: no distribution package ({_notes(role)})")
    return found


def requirements(catalog: Catalog, role_ids: list[str]) -> list[tuple[Role, Relation, str]]:
    """Every (required role, relation, requiring role ID), transitively, breadth first."""
    found: list[tuple[Role, Relation, str]] = []
    seen = set(role_ids)
    queue = list(role_ids)
    while queue:
        owner = queue.pop(0)
        for relation in catalog.roles[owner].requires:
            found.append((catalog.roles[relation.role], relation, owner))
            if relation.role not in seen:
                seen.add(relation.role)
                queue.append(relation.role)
    return found


def in_deploy_order(catalog: Catalog, role_ids: list[str]) -> list[str]:
    """The roles with each one's required roles before it (Bacula after the PostgreSQL
    holding its catalog), otherwise in the order given; a cycle is broken where it closes."""
    ordered: dict[str, None] = {}
    visiting: set[str] = set()

    def visit(role_id: str) -> None:
        if role_id in ordered or role_id in visiting:
            return
        visiting.add(role_id)
        for relation in catalog.roles[role_id].requires:
            if relation.role in role_ids:
                visit(relation.role)
        ordered[role_id] = None

    for role_id in role_ids:
        visit(role_id)
    return list(ordered)


def _expand(features: list[str], catalog: Catalog) -> list[tuple[str, str | None]]:
    """Features in request order, each followed by what it implies (with the implier)."""
    ordered: dict[str, str | None] = {}
    pending: list[tuple[str, str | None]] = [(f, None) for f in features]
    while pending:
        feature, implied_by = pending.pop(0)
        if feature in ordered:
            continue
        ordered[feature] = implied_by
        pending += [(i, feature) for i in catalog.features[feature].implies]
    return list(ordered.items())


class _Chooser:
    def __init__(self, catalog: Catalog, family: Family | None, include_preview: bool) -> None:
        self.catalog = catalog
        self.family = family
        self.include_preview = include_preview
        self.choices: dict[str, Choice] = {}
        self.unmet: list[Unmet] = []

    def pin(self, role: Role, phrase: str) -> None:
        reason = f"asked for by name ('{phrase}')"
        problem = why_not_offered(role, self.family, include_preview=True)
        if problem:
            reason += f"; warning: {problem}"
        self._add(role, reason)

    def provide(self, feature: str, implied_by: str | None) -> None:
        asked = f"implied by {implied_by}" if implied_by else "asked for"
        for choice in self.choices.values():
            if feature in choice.role.features:
                choice.reasons.append(f"also provides {feature} ({asked})")
                return
        providers = self.catalog.providers(feature)
        eligible = [r for r in providers if self._offerable(r)]
        if not eligible:
            self._replace_or_give_up(feature, providers)
            return
        best = eligible[0]
        choice = self._add(best, f"provides {feature} ({asked}); preferred: preference {best.preference}")
        for other in (r for r in providers if r is not best):
            why = why_not_offered(other, self.family, self.include_preview)
            choice.alternatives.append(Alternative(other, why or f"lower preference ({other.preference})"))

    def _offerable(self, role: Role) -> bool:
        return why_not_offered(role, self.family, self.include_preview) is None

    def _replace_or_give_up(self, feature: str, providers: list[Role]) -> None:
        """No provider can be offered: offer the catalog's replacement of a dead one, if any."""
        for role in providers:
            replacement_id = role.upstream.replacement_role
            if replacement_id and self._offerable(self.catalog.roles[replacement_id]):
                replacement = self.catalog.roles[replacement_id]
                reason = (
                    f"offered for {feature} in place of {role.implementation} ({role.id}): "
                    f"{why_not_offered(role, self.family, self.include_preview)}"
                )
                self._add(replacement, reason).alternatives.append(Alternative(role, "replaced: upstream is dead"))
                return
        reasons = "; ".join(
            f"{r.implementation}: {why_not_offered(r, self.family, self.include_preview)}" for r in providers
        )
        self.unmet.append(Unmet(feature, reasons or "no role provides it"))

    def add_dependencies(self) -> None:
        for needed, relation, owner in requirements(self.catalog, list(self.choices)):
            if needed.id in self.choices:
                self.choices[needed.id].reasons.append(f"required by {owner}")
            else:
                self._add(needed, f"required by {owner}: {relation.reason}").required_by = owner

    def _add(self, role: Role, reason: str) -> Choice:
        if role.id in self.choices:
            self.choices[role.id].reasons.append(reason)
        else:
            self.choices[role.id] = Choice(role, [reason, *_warnings(role)])
        return self.choices[role.id]


def apply_settings(choices: list[Choice], overrides: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    """Attach ``--set`` values (keyed by role ID) to the chosen roles, validated."""
    by_id = {c.role.id: c for c in choices}
    for role_id, values in overrides.items():
        if role_id not in by_id:
            raise BadInput(f"--set: {role_id} is not among the chosen roles")
        resolve_settings(catalog.roles[role_id], values, "--set", complete=False)
        by_id[role_id].settings = dict(values)


def recommend(
    texts: list[str],
    catalog: Catalog,
    family: Family | None = None,
    include_preview: bool = False,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Recommendation:
    """Choose roles for the wanted features: reasons, alternatives, dependencies, conflicts."""
    requests = understand(texts, catalog)
    chooser = _Chooser(catalog, family, include_preview)
    for request in requests:
        for role_id, phrase in request.roles.items():
            chooser.pin(catalog.roles[role_id], phrase)
    wanted = [f for request in requests for f in request.features]
    for feature, implied_by in _expand(wanted, catalog):
        chooser.provide(feature, implied_by)
    chooser.add_dependencies()
    choices = list(chooser.choices.values())
    apply_settings(choices, overrides or {}, catalog)
    resolved = [(c.role, resolve_settings(c.role, c.settings, "--set", complete=False)) for c in choices]
    return Recommendation(requests, choices, find_conflicts(resolved), chooser.unmet, family)
