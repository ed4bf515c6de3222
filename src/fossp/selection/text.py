"""Free text -> what it asks for: features, roles by name, and needs FOSSP has no role for.

"I need a file share for windows clients" is read through the vocabulary
(``data/vocabulary.yaml``): words are stemmed with Snowball's English stemmer, so a
phrase matches however it is inflected ("shares", "sharing"); the longest phrase wins and
each word is used once; a phrase of several words also matches its words in another
order with a word or two between them ("a file share for windows clients" is "windows
file share"), but never across a comma or an "and" (two needs, not one). Filler words
("I", "need", "a", "for") are skipped and reported as such; any other word left over is
reported as ignored, with the known words it looks like (rapidfuzz) when some are close
enough to be a typing slip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from fossp.catalog.loader import Catalog
from fossp.selection.vocabulary import VOCABULARY_FILE, Terms, Vocabulary, load_vocabulary

TargetKind = Literal["role", "feature", "unserved"]
#: Phrases are tried in this order when they are equally long: a role named wins, so a
#: site role named like an unserved need ("gitea") serves it.
_TARGET_ORDER: dict[TargetKind, int] = {"role": 0, "feature": 1, "unserved": 2}
#: Words that join two needs: a phrase never spans them (nor a comma, a semicolon, ...).
_CONJUNCTIONS = frozenset({"and", "or", "plus", "also", "then", "but"})
_CLAUSE_BREAK = re.compile(r"[,;:!?&()\[\]]|\.(?=\s|$)")
_WORD = re.compile(r"[^\W_]+")
#: A loose phrase may spread over its own length plus this many words.
_LOOSE_SLACK = 2
#: rapidfuzz ratio (0-100) a left-over word needs to be offered as "did you mean": "ngnix"
#: is 80 from "nginx", while "storage" and "s3" or "wifi" and "wiki" stay below it.
SUGGESTION_CUTOFF = 80.0
_SUGGESTION_MIN_LENGTH = 4


@cache
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@cache
def stem(word: str) -> str:
    """The word's Snowball stem, so "shares", "sharing" and "share" are one word."""
    return str(_stemmer().stemWord(word))


@dataclass(frozen=True)
class Word:
    """One word of a request as typed (lower case), its stem, and the clause it is in."""

    text: str
    stem: str
    clause: int
    filler: bool


def words(text: str, stop_words: frozenset[str]) -> list[Word]:
    """The request's words; a comma or a conjunction starts a new clause."""
    found: list[Word] = []
    clause = 0
    for part in _CLAUSE_BREAK.split(text.casefold()):
        clause += 1
        for token in _WORD.findall(part):
            joins = token in _CONJUNCTIONS
            clause += joins  # the conjunction and what follows it start new clauses
            found.append(Word(token, stem(token), clause, joins or token in stop_words))
            clause += joins
    return found


@dataclass(frozen=True)
class Term:
    """A phrase of the vocabulary and what it means."""

    text: str
    kind: str  # synonym, protocol, product, or name (a role's ID, name or implementation)
    target_kind: TargetKind
    target: str  # feature key, role ID or unserved need key
    label: str  # how the answer names the target: the feature key, the role's name, the need's name
    stems: tuple[str, ...]
    content: tuple[str, ...]  # the stems that are not filler: what a loose match must find

    @property
    def loose(self) -> bool:
        return len(self.content) > 1

    def order(self) -> tuple[int, int, int]:
        return (-len(self.content), -len(self.stems), _TARGET_ORDER[self.target_kind])


def _term(entry: _Entry, stop_words: frozenset[str]) -> Term | None:
    """The term for a phrase (None for one with no word in it)."""
    text, kind, target_kind, target, label = entry
    tokens = _WORD.findall(text.casefold())
    if not tokens:
        return None
    stems = tuple(stem(t) for t in tokens)
    content = tuple(stem(t) for t in tokens if t not in stop_words) or stems  # "deploy hosts": all filler
    return Term(text, kind, target_kind, target, label, stems, content)


#: (phrase, term kind, target kind, target, label)
_Entry = tuple[str, str, TargetKind, str, str]


@dataclass(frozen=True)
class Lexicon:
    """Every term of the vocabulary and of the catalog's role names, best first."""

    terms: tuple[Term, ...]
    stop_words: frozenset[str]
    #: (target kind, target) -> every content stem of its terms: a word left beside a match
    #: that is one of these belongs to it ("windows domain logins": "logins" of "domain logins")
    stems: dict[tuple[TargetKind, str], frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, catalog: Catalog, vocabulary: Vocabulary | None = None) -> Lexicon:
        """The lexicon of ``catalog`` and the vocabulary (the packaged one from the disk
        cache, keyed by the catalog's names, while it and this code are unchanged)."""
        if vocabulary is not None:
            return cls._build(catalog, vocabulary)
        from fossp.catalog.cache import cached

        roles = sorted((r.id, r.name, r.implementation, r.features) for r in catalog.roles.values())
        names = repr((list(catalog.features), roles))

        def make() -> Lexicon:
            return cls._build(catalog, load_vocabulary())

        return cached("lexicon", cls, [VOCABULARY_FILE, Path(__file__)], make, names)

    @classmethod
    def _build(cls, catalog: Catalog, vocabulary: Vocabulary) -> Lexicon:
        stop = frozenset(vocabulary.stop_words)
        entries: list[_Entry] = []
        for key in catalog.features:
            entries.append((key.replace("-", " "), "synonym", "feature", key, key))
            entries += _entries(vocabulary.features.get(key, Terms()), "feature", key, key)
        for role in catalog.roles.values():
            names = (role.id, role.name.replace("-", " "), role.implementation)
            entries += [(text, "name", "role", role.id, role.name) for text in names]
            entries += _entries(vocabulary.roles.get(role.name, Terms()), "role", role.id, role.name)
        for need in vocabulary.unserved:
            entries += _entries(need, "unserved", need.key, need.name)
        terms = [t for entry in entries if (t := _term(entry, stop)) is not None]
        stems: dict[tuple[TargetKind, str], set[str]] = {}
        for term in terms:
            stems.setdefault((term.target_kind, term.target), set()).update(term.content)
        for role in catalog.roles.values():  # a role also owns the words of what it provides ("hpc cluster")
            owned = stems.setdefault(("role", role.id), set())
            for feature in role.features:
                owned |= stems.get(("feature", feature), set())
        return cls(tuple(sorted(terms, key=Term.order)), stop, {k: frozenset(v) for k, v in stems.items()})


def _entries(terms: Terms, target_kind: TargetKind, target: str, label: str) -> list[_Entry]:
    return [(phrase, kind, target_kind, target, label) for kind, phrase in terms.by_kind()]


@dataclass(frozen=True)
class Match:
    """Words of the request that a term understood."""

    words: str  # as typed, in the request's order
    term: Term


@dataclass
class TextMatch:
    matches: list[Match] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    filler: list[str] = field(default_factory=list)
    suggestions: dict[str, list[Term]] = field(default_factory=dict)

    def targets(self, kind: TargetKind) -> dict[str, str]:
        """Target -> the words that asked for it, for one kind of target, in request order."""
        found: dict[str, str] = {}
        for match in self.matches:
            if match.term.target_kind == kind:
                found.setdefault(match.term.target, match.words)
        return found

    @property
    def empty(self) -> bool:
        return not self.matches


class _Matcher:
    """Greedy matching of terms over one request's words, each word used once."""

    def __init__(self, found: list[Word]) -> None:
        self.words = found
        self.owner: list[int | None] = [None] * len(found)  # index into self.found
        self.found: list[tuple[list[int], Term]] = []

    def exact(self, term: Term) -> None:
        size = len(term.stems)
        for start in range(len(self.words) - size + 1):
            span = list(range(start, start + size))
            clause = self.words[start].clause
            if all(self._free(i, clause) and self.words[i].stem == s for i, s in zip(span, term.stems, strict=True)):
                self._take(span, term)

    def loose(self, term: Term) -> None:
        for start in range(len(self.words)):
            positions = self._gather(start, term)
            if positions:
                self._take(positions, term)

    def _gather(self, start: int, term: Term) -> list[int] | None:
        """Positions from ``start`` on that hold all of the term's content stems, in any order."""
        wanted = list(term.content)
        clause = self.words[start].clause
        positions = []
        for i in range(start, min(len(self.words), start + len(term.stems) + _LOOSE_SLACK)):
            if self._free(i, clause) and self.words[i].stem in wanted:
                wanted.remove(self.words[i].stem)
                positions.append(i)
        return positions if not wanted and positions[0] == start else None

    def absorb(self, stems: dict[tuple[TargetKind, str], frozenset[str]]) -> None:
        """Give a left-over word to the match beside it (filler between them aside) when it
        is a word of that match's target ("windows domain logins": "logins" joins "windows
        domain"), rather than call it unknown."""
        for i, word in enumerate(self.words):
            if self.owner[i] is not None or word.filler:
                continue
            for j in (self._neighbour(i, -1), self._neighbour(i, 1)):
                owner = None if j is None else self.owner[j]
                if owner is None:
                    continue
                positions, term = self.found[owner]
                if word.stem in stems.get((term.target_kind, term.target), frozenset()):
                    positions.append(i)
                    self.owner[i] = owner
                    break

    def _neighbour(self, index: int, step: int) -> int | None:
        """The nearest word before (step -1) or after (+1) that is not filler, in the same clause."""
        j = index + step
        while 0 <= j < len(self.words) and self.words[j].clause == self.words[index].clause:
            if not self.words[j].filler:
                return j
            j += step
        return None

    def _free(self, index: int, clause: int) -> bool:
        return self.owner[index] is None and self.words[index].clause == clause

    def _take(self, positions: list[int], term: Term) -> None:
        for i in positions:
            self.owner[i] = len(self.found)
        self.found.append((positions, term))

    def matches(self) -> list[Match]:
        """The matches in the order their first words were typed."""
        ordered = sorted(self.found, key=lambda pair: min(pair[0]))
        return [Match(" ".join(self.words[i].text for i in sorted(p)), term) for p, term in ordered]

    def left_over(self, filler: bool) -> list[str]:
        return [w.text for w, owner in zip(self.words, self.owner, strict=True) if owner is None and w.filler == filler]


def match_text(text: str, lexicon: Lexicon) -> TextMatch:
    """What ``text`` asks for: longest terms first, exact phrases before loose ones of
    the same length; left-over words are reported as filler or ignored."""
    matcher = _Matcher(words(text, lexicon.stop_words))
    groups: dict[int, list[Term]] = {}
    for term in lexicon.terms:
        groups.setdefault(len(term.content), []).append(term)
    for _, group in sorted(groups.items(), reverse=True):
        for term in group:
            matcher.exact(term)
        for term in (t for t in group if t.loose):
            matcher.loose(term)
    matcher.absorb(lexicon.stems)
    ignored = list(dict.fromkeys(matcher.left_over(filler=False)))
    result = TextMatch(
        matches=matcher.matches(),
        ignored=ignored,
        filler=list(dict.fromkeys(matcher.left_over(filler=True))),
    )
    result.suggestions = {w: hits for w in ignored if (hits := suggest(w, lexicon))}
    return result


def suggest(word: str, lexicon: Lexicon, limit: int = 3) -> list[Term]:
    """Known one-word terms that ``word`` may be a slip for, best first (none for short
    words, where any two are alike)."""
    if len(word) < _SUGGESTION_MIN_LENGTH:
        return []
    from rapidfuzz import fuzz, process

    choices = {term.text.casefold(): term for term in lexicon.terms if len(term.stems) == 1}
    hits = process.extract(
        word.casefold(), list(choices), scorer=fuzz.ratio, score_cutoff=SUGGESTION_CUTOFF, limit=limit
    )
    return [choices[text] for text, _, _ in hits]
