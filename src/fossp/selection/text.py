"""Free-text matching of what an administrator asks for against the feature vocabulary.

"windows domain logins and network boot" -> features windows-domain and network-boot.
Phrases are matched greedily, longest first, on normalised word tokens, so "load balancer"
wins over "balancer" and each word is used once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fossp.catalog.loader import Catalog, closest

STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "also",
        "are",
        "as",
        "be",
        "but",
        "can",
        "for",
        "from",
        "have",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "need",
        "needs",
        "of",
        "on",
        "or",
        "our",
        "please",
        "plus",
        "server",
        "servers",
        "service",
        "services",
        "so",
        "some",
        "support",
        "that",
        "the",
        "their",
        "them",
        "to",
        "too",
        "us",
        "use",
        "want",
        "we",
        "which",
        "with",
        "would",
        "like",
        "should",
        "must",
        "able",
        "run",
        "running",
        "host",
        "hosts",
    }
)
_TOKEN = re.compile(r"[a-z0-9]+")


def _stem(token: str) -> str:
    """Fold simple plurals so "logins" matches "login" (applied to text and phrases alike)."""
    return token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") else token


def tokens(text: str) -> list[str]:
    return [_stem(t) for t in _TOKEN.findall(text.lower())]


@dataclass(frozen=True)
class Phrase:
    """A phrase that asks for a feature (kind "feature") or names a role (kind "role")."""

    words: tuple[str, ...]
    kind: str
    target: str
    text: str


@dataclass
class TextMatch:
    features: dict[str, str] = field(default_factory=dict)  # feature key -> phrase that matched
    roles: dict[str, str] = field(default_factory=dict)  # role id -> phrase that matched
    ignored: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.features and not self.roles


def phrases(catalog: Catalog) -> list[Phrase]:
    """Every phrase of the vocabulary and every role name, longest first."""
    found: list[Phrase] = []
    for feature in catalog.features.values():
        for text in [feature.key.replace("-", " "), *feature.synonyms]:
            found.append(Phrase(tuple(tokens(text)), "feature", feature.key, text))
    for role in catalog.roles.values():
        for text in {role.id, role.name, role.implementation}:
            found.append(Phrase(tuple(tokens(text)), "role", role.id, text))
    return sorted((p for p in found if p.words), key=lambda p: (-len(p.words), p.kind == "feature"))


def match_text(text: str, catalog: Catalog) -> TextMatch:
    """Find the features and roles asked for in ``text``; leftover words are reported."""
    words = tokens(text)
    used = [False] * len(words)
    result = TextMatch()
    for phrase in phrases(catalog):
        size = len(phrase.words)
        for start in range(len(words) - size + 1):
            span = range(start, start + size)
            if any(used[i] for i in span) or tuple(words[start : start + size]) != phrase.words:
                continue
            for i in span:
                used[i] = True
            bucket = result.features if phrase.kind == "feature" else result.roles
            bucket.setdefault(phrase.target, phrase.text)
    vocabulary = {word for phrase in phrases(catalog) for word in phrase.words}
    result.ignored = [w for w, u in zip(words, used, strict=True) if not (u or w in STOPWORDS or w in vocabulary)]
    return result


def closest_features(word: str, catalog: Catalog) -> list[str]:
    """Feature keys whose key or synonyms look like ``word``."""
    owners: dict[str, str] = {}
    for phrase in phrases(catalog):
        owners.setdefault(phrase.text.lower(), phrase.target if phrase.kind == "feature" else phrase.text)
    hits = closest(word, list(owners), limit=6)
    return list(dict.fromkeys(owners[h.lower()] for h in hits))[:3]
