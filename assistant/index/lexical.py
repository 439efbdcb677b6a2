"""Lexical retrieval: a BM25 index (bm25s) over the German terms of ``text.analyzer`` (folded, stemmed,
split into compound parts); scores, postings, and saving and loading with the analyser's vocabulary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ..text import GermanAnalyzer

__all__ = ["LexicalIndex", "term_weights"]


def term_weights(terms: Iterable[str]) -> dict[str, float]:
    """Analysed query terms as BM25 weights: a term that occurs twice counts twice."""
    weights: dict[str, float] = {}
    for term in terms:
        weights[term] = weights.get(term, 0.0) + 1.0
    return weights


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
