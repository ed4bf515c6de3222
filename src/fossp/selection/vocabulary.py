"""The words administrators use for what they need, as validated data (``data/vocabulary.yaml``).

Free text is understood through this vocabulary, not through code: each feature, each role
and each need the catalog has no role for lists its synonyms, protocols and product names.
Keeping them as data lets the Server Working Group teach FOSSP a new word without a code
change, and lets the loader refuse a word that would mean two things.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from fossp.catalog.loader import DATA_DIR, Catalog, CatalogError, parse_model, read_yaml
from fossp.catalog.schema import Slug, Strict

VOCABULARY_FILE = DATA_DIR / "vocabulary.yaml"
#: A word or phrase as typed: lower case letters, digits, spaces and the separators people use.
Phrase = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9 ./+-]*$", max_length=60)]
TermKind = Literal["synonym", "protocol", "product"]


class Terms(Strict):
    """The phrases that ask for one thing, by what they are (shown in the answer: 'SMB (a protocol)')."""

    synonyms: list[Phrase] = Field(default_factory=list)
    protocols: list[Phrase] = Field(default_factory=list)
    products: list[Phrase] = Field(default_factory=list)

    def by_kind(self) -> list[tuple[TermKind, str]]:
        """Every phrase with its kind, synonyms first."""
        kinds: tuple[TermKind, ...] = ("synonym", "protocol", "product")
        return [(kind, phrase) for kind in kinds for phrase in getattr(self, f"{kind}s")]


class Near(Strict):
    """Something the catalog has that comes close to an unserved need, and how close."""

    feature: Slug | None = None
    role: Slug | None = Field(default=None, description="a role name")
    why: str

    @model_validator(mode="after")
    def _one_target(self) -> Near:
        if (self.feature is None) == (self.role is None):
            raise ValueError("name exactly one of feature and role")
        return self


class Need(Terms):
    """A need FOSSP knows but has no role for (mail, VPN, ...): understood, and said so."""

    key: Slug
    name: str = Field(description="how the answer names it: 'FOSSP has no role for NAME'")
    near: list[Near] = Field(default_factory=list, description="only what is really near; empty: nothing is")


class Vocabulary(Strict):
    stop_words: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")]] = Field(
        description="words that carry no need ('I', 'need', 'a', 'for', 'our'): skipped, shown as filler"
    )
    features: dict[Slug, Terms] = Field(description="feature key -> the phrases that ask for it")
    roles: dict[Slug, Terms] = Field(
        default_factory=dict, description="role name -> product names that ask for that role by name"
    )
    unserved: list[Need] = Field(default_factory=list)

    @model_validator(mode="after")
    def _each_phrase_means_one_thing(self) -> Vocabulary:
        seen: dict[str, str] = {}
        for owner, terms in self.owners():
            for _, phrase in terms.by_kind():
                if seen.setdefault(phrase, owner) != owner:
                    raise ValueError(f"'{phrase}' is listed for {seen[phrase]} and for {owner}")
        keys = [need.key for need in self.unserved]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"unserved need '{duplicates[0]}' is listed twice")
        return self

    def owners(self) -> list[tuple[str, Terms]]:
        """(who the phrases mean, the phrases) for every feature, role and unserved need."""
        return [
            *((f"feature {key}", terms) for key, terms in self.features.items()),
            *((f"role {name}", terms) for name, terms in self.roles.items()),
            *((f"unserved need {need.key}", need) for need in self.unserved),
        ]


def check_against(vocabulary: Vocabulary, catalog: Catalog, source: str) -> None:
    """Refuse a vocabulary that names a feature or role the catalog does not have."""
    role_names = {role.name for role in catalog.roles.values()}
    for key in vocabulary.features:
        if key not in catalog.features:
            raise CatalogError(f"{source}: field 'features.{key}': unknown feature '{key}'")
    for name in vocabulary.roles:
        if name not in role_names:
            raise CatalogError(f"{source}: field 'roles.{name}': unknown role '{name}'")
    for index, need in enumerate(vocabulary.unserved):
        for near in need.near:
            if near.feature is not None and near.feature not in catalog.features:
                raise CatalogError(f"{source}: field 'unserved.{index}.near': unknown feature '{near.feature}'")
            if near.role is not None and near.role not in role_names:
                raise CatalogError(f"{source}: field 'unserved.{index}.near': unknown role '{near.role}'")


def parse_vocabulary(path: Path) -> Vocabulary:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise CatalogError(f"{path.name}: expected a mapping with stop_words, features, roles and unserved")
    return parse_model(Vocabulary, data, path.name)


@cache
def load_vocabulary() -> Vocabulary:
    """The packaged vocabulary, read once (from the disk cache while it is unchanged)."""
    from fossp.catalog.cache import cached

    return cached(
        "vocabulary", Vocabulary, [VOCABULARY_FILE, Path(__file__)], lambda: parse_vocabulary(VOCABULARY_FILE)
    )
