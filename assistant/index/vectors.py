"""The FAISS index of a release, chosen by size: exact while exact search is fast enough, then int8.

Every kind searches by inner product, which equals cosine similarity on the L2-normalised vectors the
embedder returns. Up to ``exact_limit`` passages the index is ``IndexFlatIP`` (exact). Above it, "sq8":
a scan over the vectors compressed to 8 bits per dimension (a quarter of the bytes to read), whose
best ``k_factor × k`` are re-scored with the full float vectors (``IndexRefineFlat``). "hnsw" (a graph,
``IndexHNSWFlat``, its ``efSearch`` tuned during the build) can be chosen explicitly.

Measured with bench/scale.py on 1 M passages (2 cores): HNSW answered in 5 ms but reached only
Recall@10 0.77 on question-like queries even at efSearch 512 (0.98 on the build's own probes, which
lie between passages), while sq8 + refine kept Recall@10 at 1.00 in about 20 ms; so "auto" takes sq8.
The build measures Recall@10 against exact search on probe queries and records it in the manifest.
All kinds keep the full float vectors, so ``reconstruct`` gives exact vectors for rescoring lexical
finds, and all are read memory-mapped: the vectors stay in the page cache, shared by every worker
process that serves the same release.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import IndexKind

__all__ = [
    "DEFAULT_EXACT_LIMIT",
    "IndexKind",
    "IndexPlan",
    "SentenceVectors",
    "build_vector_index",
    "exact_top",
    "probe_queries",
    "read_vector_index",
    "recall_at_k",
]

log = logging.getLogger(__name__)


#: Exact search over 200,000 vectors of 256 dimensions takes about 9 ms on one core, over 1 M 45 ms;
#: above the limit the int8 scan reads a quarter of the bytes (see the scale table in docs/performance.md).
DEFAULT_EXACT_LIMIT = 200_000
_REFINE_FACTOR = 4
_TRAIN_SAMPLE = 200_000
_HNSW_M = 32
_EF_CONSTRUCTION = 64
_EF_STEPS = (32, 48, 64, 96, 128, 192, 256, 384, 512)
_RECALL_QUERIES = 300


@dataclass(frozen=True)
class IndexPlan:
    """What was built: the kind, its search depth and the Recall@10 measured against exact search."""

    kind: str
    ef_search: int | None = None
    recall_at_10: float | None = None
    k_factor: int | None = None


def build_vector_index(
    vectors: np.ndarray,
    *,
    kind: IndexKind = "auto",
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    target_recall: float = 0.97,
    seed: int = 0,
) -> tuple[Any, IndexPlan]:
    """An index over ``vectors`` (row i ↔ passage i) and the plan it was built by."""
    import faiss

    n, dimension = vectors.shape
    if kind == "auto":
        kind = "flat" if n <= exact_limit else "sq8"
    index: Any
    if kind == "flat":
        index = faiss.IndexFlatIP(dimension)
        index.add(vectors)
        return index, IndexPlan("flat")
    queries = probe_queries(vectors, seed=seed)
    exact = exact_top(vectors, queries, 10)
    if kind == "sq8":
        base = faiss.IndexScalarQuantizer(
            dimension, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        step = max(1, n // _TRAIN_SAMPLE)
        base.train(np.ascontiguousarray(vectors[::step]))
        index = faiss.IndexRefineFlat(base)
        index.k_factor = _REFINE_FACTOR
        index.add(vectors)
        _, found = index.search(queries, 10)
        recall = recall_at_k(found, exact)
        log.info("int8 scan + refine over %d vectors: Recall@10 %.3f", n, recall)
        return index, IndexPlan("sq8", k_factor=_REFINE_FACTOR, recall_at_10=round(recall, 4))
    index = faiss.IndexHNSWFlat(dimension, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = _EF_CONSTRUCTION
    index.add(vectors)
    recall = 0.0
    for ef in _EF_STEPS:
        index.hnsw.efSearch = ef
        _, found = index.search(queries, 10)
        recall = recall_at_k(found, exact)
        if recall >= target_recall:
            break
    log.info("HNSW over %d vectors: efSearch %d gives Recall@10 %.3f", n, index.hnsw.efSearch, recall)
    return index, IndexPlan("hnsw", ef_search=int(index.hnsw.efSearch), recall_at_10=round(recall, 4))


def read_vector_index(path: Path, plan: IndexPlan) -> Any:
    """Read an index written by ``build_vector_index``, memory-mapped, with its recorded search depth."""
    import faiss

    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    if plan.ef_search and hasattr(index, "hnsw"):
        index.hnsw.efSearch = int(plan.ef_search)
    if plan.k_factor and hasattr(index, "k_factor"):
        index.k_factor = float(plan.k_factor)
    return index


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact top-k ids that the approximate search also returned, over all queries."""
    k = exact.shape[1]
    hits = sum(len(set(f[:k].tolist()) & set(e.tolist())) for f, e in zip(found, exact, strict=True))
    return hits / exact.size


def probe_queries(vectors: np.ndarray, *, seed: int) -> np.ndarray:
    """Midpoints of random pairs of passages: near the data like real questions, yet no passage's own
    vector (which any index finds trivially)."""
    rng = np.random.default_rng(seed)
    count = min(_RECALL_QUERIES, len(vectors))
    a = vectors[rng.integers(len(vectors), size=count)]
    b = vectors[rng.integers(len(vectors), size=count)]
    mid = a + b
    mid /= np.maximum(np.linalg.norm(mid, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(mid, dtype=np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    import faiss

    _, ids = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    return np.asarray(ids)


@dataclass(frozen=True)
class SentenceVectors:
    """The vectors of every passage's sentences (``text.split_sentences``, in order), memory-mapped:
    rows ``offsets[i]`` to ``offsets[i + 1]`` belong to passage row ``i``."""

    vectors: np.ndarray  # float16, (sentences, dimension)
    offsets: np.ndarray  # int64, (passages + 1,)

    def of(self, row: int) -> np.ndarray | None:
        if not 0 <= row < len(self.offsets) - 1:
            return None
        return np.asarray(self.vectors[int(self.offsets[row]) : int(self.offsets[row + 1])], dtype=np.float32)
