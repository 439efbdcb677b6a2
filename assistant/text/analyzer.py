"""The German analyser: text into BM25 terms – folded, stemmed (Snowball) and split into compound parts,
so "Verfügungsfonds" also matches "Fonds" and "Quartiersmanagement" matches "Management im Quartier".
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from .tokens import WORD_PART

__all__ = ["MAX_COMPOUND_CHARS", "PRONOMINAL_ADVERBS", "GermanAnalyzer"]

_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_DIGRAPHS = (("ae", "a"), ("oe", "o"), ("ue", "u"))
# Linking elements between compound parts ("Quartier-s-management", "Fond-s", "Stadt-teil").
_LINKS = ("", "s", "es", "n", "en", "er", "e")
_MIN_PART = 4
#: Longer "words" are not split into compound parts: splitting costs time quadratic in a word's length,
#: and the longest German compounds in real text have about 60 letters (a document or a model that sends
#: a 200,000-letter "word" must not hold a worker for minutes).
MAX_COMPOUND_CHARS = 64


# Not in bm25s' German list, yet they say nothing about a topic: pronominal adverbs, question words.
PRONOMINAL_ADVERBS = frozenset(
    "darüber dafür davon damit dazu dabei daran darauf daraus darin dadurch dagegen danach davor".split()
)
_MORE_STOPWORDS = (
    *PRONOMINAL_ADVERBS,
    *"wer wem wen wessen wann warum wieso weshalb wozu woher wohin worüber wofür".split(),
    *"gibt gibts eigentlich".split(),
)


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_GERMAN

    return frozenset(_fold(w) for w in (*STOPWORDS_GERMAN, *_MORE_STOPWORDS))


@lru_cache(maxsize=500_000)
def _fold(word: str) -> str:
    """Lower case with umlauts and ß folded, also when typed as ae/oe/ue ("Verfuegung" = "Verfügung")."""
    word = word.lower().translate(_FOLD)
    for digraph, vowel in _DIGRAPHS:
        word = word.replace(digraph, vowel)
    return word


@dataclass
class GermanAnalyzer:
    """Turns text into BM25 terms. ``vocabulary`` holds the corpus words known to stand alone; compound
    parts are only split off when they are such words."""

    vocabulary: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("german")
        self._stem_lock = threading.Lock()
        self._stop = _stopwords()
        self._split = lru_cache(maxsize=200_000)(self._split_uncached)
        # Words repeat (Zipf): caching each word's terms makes analysing a large corpus several times faster.
        self._word_terms = lru_cache(maxsize=500_000)(self._word_terms_uncached)

    @classmethod
    def for_corpus(cls, texts: Iterable[str]) -> GermanAnalyzer:
        import Stemmer

        raw: Counter[str] = Counter()
        for text in texts:
            raw.update(WORD_PART.findall(text))
        folded = {_fold(w) for w in raw}
        stop = _stopwords()
        words = {w for w in folded if len(w) >= _MIN_PART and w not in stop and not w.isdigit()}
        # Stems count as words too, so "Wohnungs-" in a compound is known from "Wohnungen" elsewhere.
        stemmer = Stemmer.Stemmer("german")
        stems = {stem for stem in stemmer.stemWords(sorted(words)) if len(stem) >= _MIN_PART}
        return cls(frozenset(words | stems))

    def words(self, text: str) -> list[str]:
        """Folded words without stopwords (the units that get highlighted and split)."""
        return [w for w in (_fold(m) for m in WORD_PART.findall(text)) if w not in self._stop]

    def is_stopword(self, word: str) -> bool:
        """Whether BM25 leaves ``word`` out (articles, pronouns, prepositions, auxiliaries …)."""
        return _fold(word) in self._stop

    def terms(self, text: str) -> list[str]:
        """Stems of the words, each followed by the stems of its compound parts."""
        out: list[str] = []
        for word in self.words(text):
            out.extend(self._word_terms(word))
        return out

    def word_stems(self, text: str) -> list[str]:
        """The stem of each word as a whole (no compound parts)."""
        return [self._word_terms(word)[0] for word in self.words(text)]

    def _word_terms_uncached(self, word: str) -> tuple[str, ...]:
        # A PyStemmer object must not be used by two threads at once; requests share this analyser.
        with self._stem_lock:
            return tuple(self._stemmer.stemWords([word, *self._split(word)]))

    def _split_uncached(self, word: str) -> tuple[str, ...]:
        """Compound parts of ``word``: a full split into corpus words where one exists; otherwise the
        longest known head (last part) and the longest known modifier (first part) with the rest."""
        if not 2 * _MIN_PART <= len(word) <= MAX_COMPOUND_CHARS:
            return ()
        full = self._decompose(word, depth=0)
        if full and len(full) > 1:
            return tuple(full)
        parts: list[str] = []
        for start in range(3, len(word) - _MIN_PART + 1):  # longest known tail first
            if word[start:] in self.vocabulary:
                parts.append(word[start:])
                break
        for end in range(len(word) - 5, _MIN_PART - 1, -1):  # longest known modifier first
            head = word[:end]
            if head in self.vocabulary:
                rest = word[end:]
                for link in sorted(_LINKS, key=len, reverse=True):
                    if link and rest.startswith(link) and len(rest) - len(link) >= 5:
                        rest = rest[len(link) :]
                        break
                parts.extend([head, rest])
                break
        return tuple(dict.fromkeys(parts))

    def _decompose(self, word: str, depth: int) -> list[str] | None:
        if word in self.vocabulary:
            return [word]
        if depth > 3:
            return None
        # Try the longest known head (right part) first: German compounds are right-headed.
        for start in range(_MIN_PART - 1, len(word) - _MIN_PART + 1):
            tail = word[start:]
            if tail not in self.vocabulary:
                continue
            left = word[:start]
            for link in _LINKS:
                if link and not left.endswith(link):
                    continue
                stem = left[: len(left) - len(link)] if link else left
                if len(stem) < _MIN_PART - 1:
                    continue
                parts = self._decompose(stem, depth + 1)
                if parts:
                    return [*parts, tail]
        return None
