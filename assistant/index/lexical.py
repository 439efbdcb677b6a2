"""Lexical retrieval: BM25 (bm25s) over German terms – folded, stemmed (Snowball) and split into
compound parts, so "Verfügungsfonds" also matches "Fonds" and "Quartiersmanagement" matches
"Management im Quartier".
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["MAX_COMPOUND_CHARS", "PRONOMINAL_ADVERBS", "GermanAnalyzer", "LexicalIndex", "term_weights"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
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


def term_weights(terms: Iterable[str]) -> dict[str, float]:
    """Analysed query terms as BM25 weights: a term that occurs twice counts twice."""
    weights: dict[str, float] = {}
    for term in terms:
        weights[term] = weights.get(term, 0.0) + 1.0
    return weights


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
            raw.update(_WORD.findall(text))
        folded = {_fold(w) for w in raw}
        stop = _stopwords()
        words = {w for w in folded if len(w) >= _MIN_PART and w not in stop and not w.isdigit()}
        # Stems count as words too, so "Wohnungs-" in a compound is known from "Wohnungen" elsewhere.
        stemmer = Stemmer.Stemmer("german")
        stems = {stem for stem in stemmer.stemWords(sorted(words)) if len(stem) >= _MIN_PART}
        return cls(frozenset(words | stems))

    def words(self, text: str) -> list[str]:
        """Folded words without stopwords (the units that get highlighted and split)."""
        return [w for w in (_fold(m) for m in _WORD.findall(text)) if w not in self._stop]

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


class LexicalIndex:
    """BM25 over the analysed passages; scores for all passages of one query at a time."""

    def __init__(self, analyzer: GermanAnalyzer, retriever: object) -> None:
        self.analyzer = analyzer
        self._retriever = retriever

    @staticmethod
    def _quiet() -> None:
        # bm25s sets its logger to DEBUG at import; its per-build messages are not ours to print.
        import logging

        logging.getLogger("bm25s").setLevel(logging.WARNING)

    @classmethod
    def build(
        cls, texts: list[str], analyzer: GermanAnalyzer | None = None, *, k1: float = 1.2, b: float = 0.75
    ) -> LexicalIndex:
        import bm25s

        cls._quiet()
        analyzer = analyzer or GermanAnalyzer.for_corpus(texts)
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index([analyzer.terms(t) or [""] for t in texts], show_progress=False)
        return cls(analyzer, retriever)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when no term is known)."""
        return self.term_scores(term_weights(self.analyzer.terms(query)))

    def term_scores(self, terms: Mapping[str, float]) -> np.ndarray:
        """BM25 score of every passage for analysed terms, each term's score times its weight (a term
        repeated in a query has weight 2: bm25s counts it again)."""
        scores = self._retriever.scores  # type: ignore[attr-defined]
        indptr, indices, data = scores["indptr"], scores["indices"], scores["data"]
        out = np.zeros(self._size, dtype=np.float32)
        for term, weight in terms.items():
            column = self._vocab.get(term)
            if column is None or term == "" or weight == 0 or column + 1 >= len(indptr):
                continue
            start, end = int(indptr[column]), int(indptr[column + 1])
            # Each passage holds a term once in the postings: a plain fancy-indexed add is exact.
            out[indices[start:end]] += np.float32(weight) * data[start:end]
        return out

    def knows(self, term: str) -> bool:
        """Whether any passage contains the term."""
        return term in self._vocab

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term, log(1 + (N + 1) / (df + 0.5)); a term no passage
        contains gets the largest value."""
        column = self._vocab.get(term)
        indptr = self._retriever.scores["indptr"]  # type: ignore[attr-defined]
        df = 0 if column is None else int(indptr[column + 1] - indptr[column])
        return math.log(1 + (self._size + 1) / (df + 0.5))

    def postings(self) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, int]]:
        """The index as postings, for an engine that sums BM25 elsewhere (PostgreSQL): per (term,
        passage row) the weight bm25s stored, in term order, and each term's document frequency."""
        scores = self._retriever.scores  # type: ignore[attr-defined]
        indptr, indices, data = scores["indptr"], scores["indices"], scores["data"]
        terms: list[str] = []
        df: dict[str, int] = {}
        columns: list[int] = []
        for term, column in sorted(self._vocab.items(), key=lambda item: item[1]):
            if term == "" or column + 1 >= len(indptr):  # the placeholder for passages without terms
                continue
            count = int(indptr[column + 1] - indptr[column])
            if count == 0:
                continue
            df[term] = count
            terms.extend([term] * count)
            columns.append(column)
        if not columns:
            return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), {}
        rows = np.concatenate([indices[indptr[c] : indptr[c + 1]] for c in columns]).astype(np.int64)
        weights = np.concatenate([data[indptr[c] : indptr[c + 1]] for c in columns]).astype(np.float32)
        return terms, rows, weights, df

    @property
    def _vocab(self) -> dict[str, int]:
        return self._retriever.vocab_dict  # type: ignore[attr-defined]

    @property
    def _size(self) -> int:
        return int(self._retriever.scores["num_docs"])  # type: ignore[attr-defined]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder), show_progress=False)  # type: ignore[attr-defined]
        (folder / "vocabulary.json").write_text(
            json.dumps(sorted(self.analyzer.vocabulary), ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        cls._quiet()
        vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        # Memory-mapped: the score arrays stay in the page cache, shared by all worker processes.
        retriever = bm25s.BM25.load(str(folder), mmap=True)
        return cls(GermanAnalyzer(frozenset(vocabulary)), retriever)
