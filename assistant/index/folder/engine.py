"""A release folder's engine (or one built in memory): FAISS for dense search, bm25s for BM25."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...records import Passage
from ...text import GermanAnalyzer
from ..engine import PLAIN_ANALYZER
from ..lexical import LexicalIndex

__all__ = ["FolderEngine"]


class FolderEngine:
    """A release folder's engine (or one built in memory): a FAISS index and a bm25s index."""

    def __init__(
        self,
        index: Any,  # faiss.Index, inner product over normalised vectors
        passages: Sequence[Passage],
        lexical: LexicalIndex | None = None,
        sentences: Any = None,  # index.folder.releases.SentenceVectors
    ) -> None:
        self.index = index
        self.all_passages = passages
        self.lexical_index = lexical
        self.sentences = sentences

    @property
    def size(self) -> int:
        return len(self.all_passages)

    @property
    def analyzer(self) -> GermanAnalyzer:
        return self.lexical_index.analyzer if self.lexical_index is not None else PLAIN_ANALYZER

    @property
    def has_lexical(self) -> bool:
        return self.lexical_index is not None

    @property
    def has_sentences(self) -> bool:
        return self.sentences is not None

    def dense(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        scores, found = self.index.search(vector.reshape(1, -1), n)
        keep = found[0] >= 0
        return found[0][keep].astype(np.int64), scores[0][keep]

    def cosines(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.index.reconstruct_batch(rows) @ vector, dtype=np.float32)

    def lexical(
        self, terms: Mapping[str, float], n: int, also: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.lexical_index is None:
            empty = np.zeros(0, dtype=np.int64)
            return empty, np.zeros(0, dtype=np.float32), np.zeros(len(also), dtype=np.float32)
        scores = self.lexical_index.term_scores(terms)
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n] if n > 0 else np.zeros(0, dtype=np.int64)
        best = best[scores[best] > 0]
        best = best[np.argsort(-scores[best], kind="stable")]
        return best.astype(np.int64), scores[best], scores[also]

    def idf(self, term: str) -> float:
        return self.lexical_index.idf(term) if self.lexical_index is not None else 0.0

    def knows(self, term: str) -> bool:
        return self.lexical_index.knows(term) if self.lexical_index is not None else False

    def passages(self, rows: Sequence[int]) -> list[Passage]:
        return [self.all_passages[int(row)] for row in rows]

    def sentence_vectors(self, row: int) -> np.ndarray | None:
        return self.sentences.of(row) if self.sentences is not None else None
