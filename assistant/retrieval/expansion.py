"""Everyday words to the words a corpus uses: query expansion from synonym groups.

People ask with "Kiez", "Kohle" or "Amt" where the guide writes "Quartier", "Fördermittel" and
"Verwaltung". Two sources of synonym groups are read, in the OpenThesaurus text format (one group per
line, words separated by ";", "#" comments, annotations such as "(ugs.)" in parentheses):

- a small reviewed domain file (``bench/data/alltagswoerter.txt``), whose groups weigh more;
- OpenThesaurus (``bench/data/openthesaurus.txt.gz``, LGPL, see the licence beside it), of which
  only groups of nouns are used by default: its verb and adjective groups mix too many senses.

A question's word adds the other words of its groups as extra BM25 terms, weighted below the question's
own terms, and only those the index knows (a synonym no passage uses cannot change a ranking). Words
are matched by their stem, so inflected forms ("im Kiez", "Vierteln") find their group too.

Measured by ``bench/expansion.py`` (docs/evaluation.md, "Everyday words"): on the held-out sets
neither the search nor the no-match judgement gains from it, so the service does not use it and the
word lists stay with the bench.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..text import SINGLE_WORD, GermanAnalyzer

__all__ = ["Expansion", "Thesaurus", "load_thesaurus", "read_groups"]

_ANNOTATION = re.compile(r"\([^)]*\)")
# Groups larger than this are loose lists ("Sache; Ding; Gegenstand; …") rather than synonyms.
_MAX_GROUP = 40

#: Weight of a synonym's terms relative to the question's own (1.0), per source.
DOMAIN_WEIGHT = 0.25
GENERAL_WEIGHT = 0.1
#: At most this many synonyms per question word (the rarest in the corpus first).
MAX_PER_WORD = 2


@dataclass(frozen=True)
class Expansion:
    """What a question's words add: extra BM25 terms with their weights."""

    terms: dict[str, float] = field(default_factory=dict)


class Thesaurus:
    """Synonym groups indexed by each member's stem. ``groups`` are (weight, words) pairs."""

    def __init__(self, groups: Iterable[tuple[float, Sequence[str]]], analyzer: GermanAnalyzer) -> None:
        self._analyzer = analyzer
        self._by_stem: dict[str, dict[str, float]] = {}
        for weight, words in groups:
            stems = list(dict.fromkeys(s for s in (self._stem(w) for w in words) if s))
            if len(stems) < 2 or len(stems) > _MAX_GROUP:
                continue
            for stem in stems:
                others = self._by_stem.setdefault(stem, {})
                for other in stems:
                    if other != stem and others.get(other, 0.0) < weight:
                        others[other] = weight

    def _stem(self, word: str) -> str | None:
        words = self._analyzer.words(word)
        if len(words) != 1:  # a stopword, or more than one word
            return None
        return self._analyzer.word_stems(word)[0]

    def __len__(self) -> int:
        return len(self._by_stem)

    def synonyms(self, stem: str) -> dict[str, float]:
        """The stems sharing a group with ``stem``, with the group's weight."""
        return self._by_stem.get(stem, {})

    def expand(
        self,
        text: str,
        known: Callable[[str], bool],
        rarity: Callable[[str], float],
        *,
        per_word: int | None = None,
    ) -> Expansion:
        """The expansion of ``text``'s words: for each word, up to ``per_word`` synonyms the index
        knows (``known``), the rarest first (``rarity``: idf), none that the text already holds."""
        own = list(dict.fromkeys(self._analyzer.word_stems(text)))
        own_terms = set(self._analyzer.terms(text))
        terms: dict[str, float] = {}
        for stem in own:
            candidates = [
                (weight, other)
                for other, weight in self.synonyms(stem).items()
                if other not in own_terms and known(other)
            ]
            candidates.sort(key=lambda c: (-c[0], -rarity(c[1]), c[1]))
            for weight, other in candidates[: per_word or MAX_PER_WORD]:
                terms[other] = max(terms.get(other, 0.0), weight)
        return Expansion(terms)


def read_groups(lines: Iterable[str], *, nouns_only: bool = False) -> Iterable[list[str]]:
    """Groups of single words from OpenThesaurus-format lines (annotations dropped, phrases skipped;
    with ``nouns_only``, only groups whose words are capitalised)."""
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = [_ANNOTATION.sub("", w).strip() for w in line.split(";")]
        words = [w for w in words if SINGLE_WORD.match(w)]
        if nouns_only and not all(w[:1].isupper() for w in words):
            continue
        if len(words) >= 2:
            yield words


def load_thesaurus(
    analyzer: GermanAnalyzer,
    *,
    domain: Path | None = None,
    general: Path | None = None,
    domain_weight: float = DOMAIN_WEIGHT,
    general_weight: float = GENERAL_WEIGHT,
    general_nouns_only: bool = True,
) -> Thesaurus:
    groups: list[tuple[float, Sequence[str]]] = []
    if general is not None and general.is_file():
        with gzip.open(general, "rt", encoding="utf-8") as handle:
            groups += [(general_weight, g) for g in read_groups(handle, nouns_only=general_nouns_only)]
    if domain is not None and domain.is_file():
        text = domain.read_text(encoding="utf-8")
        groups += [(domain_weight, g) for g in read_groups(text.splitlines())]
    return Thesaurus(groups, analyzer)
