"""What search needs from a release, whatever engine holds it: top-n lists of (row, score) for dense and
lexical search, the cosines of given rows, and passages by row.

Two engines implement it: ``FolderEngine`` here (a release folder: FAISS and bm25s, the default) and
``index.postgres.PostgresEngine`` (PostgreSQL with pgvector, shared by several app servers). Search,
fusion, the no-match judgement, reranking, follow-ups and answers (``retrieval``, ``answer``) only ever
call this interface, so they work unchanged over either.

Rows are a release's passage numbers, 0 to ``size - 1``; scores are cosines (inner products of
normalised vectors) and BM25 scores (Lucene's variant, as bm25s computes it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ..records import Passage
from .lexical import GermanAnalyzer, LexicalIndex

__all__ = ["Engine", "FolderEngine", "PLAIN_ANALYZER"]

#: The analyser of a release without a lexical index (terms are still needed to judge a question).
PLAIN_ANALYZER = GermanAnalyzer()


class Engine(Protocol):
    @property
    def size(self) -> int:
        """How many passages the release has."""
        ...

    @property
    def analyzer(self) -> GermanAnalyzer:
        """The release's German analyser (its vocabulary splits compounds the way the build did)."""
        ...

    @property
    def has_lexical(self) -> bool: ...

    @property
    def has_sentences(self) -> bool:
        """Whether the release stores its passages' sentence vectors (see ``sentence_vectors``)."""
        ...

    def dense(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` rows nearest to ``vector`` (shape (d,)), best first, and their cosines."""
        ...

    def cosines(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """The exact cosines of ``rows`` to ``vector``."""
        ...

    def lexical(
        self, terms: Mapping[str, float], n: int, also: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The top ``n`` rows by BM25 for the analysed ``terms`` (term → weight: each term's BM25 score
        counts that many times; score above 0), their scores, and the BM25 scores of the rows ``also``
        (0 where no term occurs)."""
        ...

    def idf(self, term: str) -> float:
        """log(1 + (N + 1) / (df + 0.5)): how rare a term is (the no-match judgement weighs by it)."""
        ...

    def knows(self, term: str) -> bool:
        """Whether any passage contains the term."""
        ...

    def passages(self, rows: Sequence[int]) -> list[Passage]: ...

    def sentence_vectors(self, row: int) -> np.ndarray | None:
        """The stored vectors of a passage's sentences, or None (then they are encoded when needed)."""
        ...


class FolderEngine:
    """A release folder's engine (or one built in memory): a FAISS index and a bm25s index."""

    def __init__(
        self,
        index: Any,  # faiss.Index, inner product over normalised vectors
        passages: Sequence[Passage],
        lexical: LexicalIndex | None = None,
        sentences: Any = None,  # index.releases.SentenceVectors
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
