"""Fusing the dense and the lexical ranking into one (pure functions over score arrays)."""

from __future__ import annotations

import numpy as np

from ..config import FusionMethod

__all__ = ["FusionMethod", "fuse_rankings"]


RRF_K = 60  # the constant of Cormack et al. (2009); larger values flatten the rank curve


def fuse_rankings(
    candidates: np.ndarray,
    dense: np.ndarray,
    lexical: np.ndarray,
    *,
    method: FusionMethod = "score",
    dense_weight: float = 0.5,
) -> np.ndarray:
    """Fused scores of the candidate passages (higher is better), in the order of ``candidates``.

    ``dense`` and ``lexical`` hold each candidate's cosine and BM25 score. "rrf" adds 1/(60 + rank)
    of both rankings; "score" rescales each score list to [0, 1] over the candidates (cosine by
    min–max, BM25 by its maximum, so a query without any matching term adds nothing) and takes the
    weighted sum.
    """
    if len(candidates) == 0:
        return np.zeros(0, dtype=np.float32)
    if method == "rrf":
        return (_rrf(dense) * dense_weight + _rrf(lexical) * (1 - dense_weight)).astype(np.float32)
    span = float(dense.max() - dense.min())
    dense_part = (dense - dense.min()) / span if span > 1e-9 else np.ones_like(dense)
    top = float(lexical.max())
    lexical_part = lexical / top if top > 0 else np.zeros_like(lexical)
    return (dense_weight * dense_part + (1 - dense_weight) * lexical_part).astype(np.float32)


def _rrf(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return 2.0 / (RRF_K + ranks)  # ×2 so that the weighted sum of two lists matches plain RRF at 0.5
