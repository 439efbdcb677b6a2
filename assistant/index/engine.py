"""What search needs from a release, whatever engine holds it: top-n lists of (row, score) for dense and
lexical search, the cosines of given rows, and passages by row.

Two engines implement it: ``index.folder.engine.FolderEngine`` (a release folder: FAISS and bm25s, the
default) and ``index.postgres.search.PostgresEngine`` (PostgreSQL with pgvector, shared by several app
servers). Search,
fusion, the no-match judgement, reranking, follow-ups and answers (``retrieval``, ``answer``) only ever
call this interface, so they work unchanged over either.

Rows are a release's passage numbers, 0 to ``size - 1``; scores are cosines (inner products of
normalised vectors) and BM25 scores (Lucene's variant, as bm25s computes it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from ..records import Passage
from ..text import GermanAnalyzer

__all__ = ["Engine", "PLAIN_ANALYZER"]

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
