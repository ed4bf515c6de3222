"""The seed's "Infrastructure Tool": wanted features in, a reasoned choice of roles out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fossp.catalog.loader import Catalog
from fossp.catalog.schema import CatalogStatus, Family, Role, Setting
from fossp.errors import BadInput, plain, shorten
from fossp.selection.conflicts import Conflict, find_conflicts
from fossp.selection.offer import (
    deploys_on,
    packaging_notes,
    requirements,
    why_not_deployable,
    why_not_offered,
)
from fossp.selection.profile import Profile, RoleChoice, resolve_settings
from fossp.selection.text import Lexicon, Match, TargetKind, Term, TextMatch, match_text
from fossp.selection.vocabulary import Need, load_vocabulary


@dataclass
class Request:
    """One argument as typed, and how it was understood: which words meant what, which
    were filler, which were not understood (with what they may be a slip for)."""

    text: str
    understood: list[Match]
    ignored: list[str] = field(default_factory=list)
    filler: list[str] = field(default_factory=list)
    suggestions: dict[str, list[Term]] = field(default_factory=dict)

    def targets(self, kind: TargetKind) -> dict[str, str]:
        """Feature key, role ID or unserved need -> the words that asked for it."""
        found: dict[str, str] = {}
        for match in self.understood:
            if match.term.target_kind == kind:
                found.setdefault(match.term.target, match.words)
        return found

    @property
    def features(self) -> dict[str, str]:
        return self.targets("feature")

    @property
    def roles(self) -> dict[str, str]:
        return self.targets("role")


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
    deploys_on: list[Family] = field(default_factory=list)
    deploy_problem: str | None = None


@dataclass
class Unmet:
    feature: str
    reason: str


@dataclass
class Nearest:
    role: Role
    why: str


@dataclass
class Unserved:
    """A need FOSSP understood but has no role for, and what (if anything) comes near."""

    need: Need
    asked_as: str
    nearest: list[Nearest]

    @property
    def message(self) -> str:
        if not self.nearest:
            return f"FOSSP has no role for {self.need.name}; nothing in the catalog is near it"
        names = "; ".join(f"{n.role.implementation} ({n.role.name}): {n.why}" for n in self.nearest)
        return f"FOSSP has no role for {self.need.name}; the nearest: {names}"


@dataclass
class Recommendation:
    requests: list[Request]
    choices: list[Choice]
    conflicts: list[Conflict]
    unmet: list[Unmet]
    family: Family | None
    unserved: list[Unserved] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing to act on: no conflict, every need served, every chosen role deploys."""
        undeployable = any(c.deploy_problem for c in self.choices)
        return not (self.conflicts or self.unmet or self.unserved or undeployable)

    def profile(self) -> Profile:
        return Profile(roles=[RoleChoice(id=c.role.id, settings=c.settings) for c in self.choices])

    def to_choose(self) -> list[tuple[Role, Setting]]:
        """Settings with no safe default (``required`` in the role file) that no --set gave:
        a profile must not be saved without them."""
        return [
            (choice.role, setting)
            for choice in self.choices
            for setting in choice.role.settings
            if setting.required
            and setting.name not in choice.settings
            and (self.family is None or setting.families is None or self.family in setting.families)
        ]


def understand(texts: list[str], catalog: Catalog, lexicon: Lexicon | None = None) -> list[Request]:
    """Match each argument; an argument in which nothing is understood is bad input,
    naming the known words it may be a slip for."""
    lexicon = lexicon or Lexicon.build(catalog)
    requests = []
    for text in texts:
        found = match_text(text, lexicon)
        if found.empty:
            shown = f"'{text}'" if plain(text) else shorten(text)  # the error stays one short line
            raise BadInput(f"unknown feature {shown}: {_nothing_known(found)}")
        requests.append(Request(text, found.matches, found.ignored, found.filler, found.suggestions))
    return requests


def _nothing_known(found: TextMatch) -> str:
    hints = list(dict.fromkeys(describe_term(t) for terms in found.suggestions.values() for t in terms))
    if hints:
        return f"no word of it is known; closest: {', '.join(hints[:4])}"
    what = "only filler words" if found.filler and not found.ignored else "no word of it is known"
    return f"{what}; `fossp features` lists what FOSSP provides"


def describe_term(term: Term) -> str:
    """A term and what it means, for hints: 'postgres (postgresql-database)'."""
    meaning = {"feature": term.label, "role": f"role {term.label}", "unserved": "no role"}[term.target_kind]
    return f"{term.text} ({meaning})"


def _warnings(role: Role) -> list[str]:
    """What a user must know about a role that is offered anyway (preview, no package)."""
    found = []
    if role.lifecycle.status is not CatalogStatus.LAUNCHED:
        found.append(f"warning: {role.implementation} is {role.lifecycle.status.value}, not launched")
    if not any(role.available_on(f) for f in Family):
        found.append(f"warning: no distribution package ({packaging_notes(role)})")
    return found


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
        self.wanted: set[str] = set()

    def pin(self, role: Role, phrase: str) -> None:
        """A role asked for by name is chosen even when it cannot deploy, but says so and
        names the providers of its features that do."""
        reason = f"asked for by name ('{phrase}')"
        problem = why_not_offered(role, self.family, include_preview=True)
        if problem:
            reason += f"; warning: {problem}"
        choice = self._add(role, reason)
        if choice.deploy_problem is None:
            return
        for feature in role.features:
            for other in self.catalog.providers(feature):
                if other is not role and self._deployable(other) and self._offerable(other):
                    choice.alternatives.append(Alternative(other, f"deploys, and provides {feature} too"))

    def best(self, providers: list[Role]) -> list[Role]:
        """The providers that can be offered: those FOSSP deploys (on the family) first, then
        those that provide more of what was asked for (one role for RTMP and streaming),
        then by preference."""
        eligible = [r for r in providers if self._offerable(r)]
        return sorted(eligible, key=lambda r: (not self._deployable(r), -len(self.wanted & set(r.features))))

    def provide(self, feature: str, implied_by: str | None) -> None:
        asked = f"implied by {implied_by}" if implied_by else "asked for"
        for choice in self.choices.values():
            if feature in choice.role.features:
                choice.reasons.append(f"also provides {feature} ({asked})")
                return
        providers = self.catalog.providers(feature)
        eligible = self.best(providers)
        if not eligible:
            self._replace_or_give_up(feature, providers)
            return
        chosen = eligible[0]
        choice = self._add(chosen, f"provides {feature} ({asked}); chosen: {self._why(chosen, eligible, feature)}")
        for other in (r for r in providers if r is not chosen):
            problem = why_not_offered(other, self.family, self.include_preview) or self._undeployable(other)
            choice.alternatives.append(Alternative(other, problem or f"lower preference ({other.preference})"))

    def _why(self, chosen: Role, eligible: list[Role], feature: str) -> str:
        """Why ``chosen`` won over the eligible role of highest preference."""
        top = max(eligible, key=lambda r: r.preference)
        if chosen is top or top.preference == chosen.preference:
            return f"preference {chosen.preference}"
        if not self._deployable(top):
            return f"{top.implementation} ranks higher but FOSSP does not deploy it"
        also = sorted((self.wanted & set(chosen.features)) - {feature})
        return f"it also provides {', '.join(also)}, over {top.implementation}'s preference {top.preference}"

    def _offerable(self, role: Role) -> bool:
        return why_not_offered(role, self.family, self.include_preview) is None

    def _deployable(self, role: Role) -> bool:
        return why_not_deployable(role, self.family) is None

    def _undeployable(self, role: Role) -> str | None:
        problem = why_not_deployable(role, self.family)
        return f"FOSSP does not deploy it: {problem}" if problem else None

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
            problem = why_not_deployable(role, self.family)
            self.choices[role.id] = Choice(
                role, [reason, *_warnings(role)], deploys_on=deploys_on(role, self.family), deploy_problem=problem
            )
        return self.choices[role.id]

    def nearest(self, need: Need) -> list[Nearest]:
        """What the catalog has near an unserved need: a named role, or a feature's best provider."""
        found: list[Nearest] = []
        for near in need.near:
            if near.role is not None:
                found.append(Nearest(self.catalog.role(near.role), near.why))
                continue
            feature = near.feature or ""
            chosen = [c.role for c in self.choices.values() if feature in c.role.features]
            providers = chosen or self.best(self.catalog.providers(feature))
            if providers:
                found.append(Nearest(providers[0], near.why))
        return found


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
    """Choose roles for the wanted features: reasons, alternatives, dependencies,
    conflicts, whether each deploys, and the needs no role serves."""
    requests = understand(texts, catalog)
    chooser = _Chooser(catalog, family, include_preview)
    for request in requests:
        for role_id, phrase in request.roles.items():
            chooser.pin(catalog.roles[role_id], phrase)
    wanted = [f for request in requests for f in request.features]
    expanded = _expand(wanted, catalog)
    chooser.wanted = {feature for feature, _ in expanded}
    for feature, implied_by in expanded:
        chooser.provide(feature, implied_by)
    chooser.add_dependencies()
    choices = list(chooser.choices.values())
    apply_settings(choices, overrides or {}, catalog)
    resolved = [(c.role, resolve_settings(c.role, c.settings, "--set", complete=False)) for c in choices]
    unserved = _unserved(requests, chooser)
    return Recommendation(requests, choices, find_conflicts(resolved), chooser.unmet, family, unserved)


def _unserved(requests: list[Request], chooser: _Chooser) -> list[Unserved]:
    needs = {need.key: need for need in load_vocabulary().unserved}
    found: dict[str, Unserved] = {}
    for request in requests:
        for key, words in request.targets("unserved").items():
            if key not in found:
                found[key] = Unserved(needs[key], words, chooser.nearest(needs[key]))
    return list(found.values())
