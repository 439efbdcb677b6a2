"""Optional reranking of the fused top passages with a cross-encoder (off unless a model is set)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import Settings
from ..embed.models import load_model
from ..records import Hit

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["Reranker", "load_reranker", "reranker_for"]


@dataclass(frozen=True)
class Reranker:
    """Scores (question, passage) pairs jointly; reorders the first ``depth`` hits by that score."""

    model: CrossEncoder
    name: str
    depth: int = 20

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        head, tail = list(hits[: self.depth]), list(hits[self.depth :])
        if len(head) < 2:
            return list(hits[:k])
        pairs = [(query, hit.passage.embedding_text) for hit in head]
        scores: Any = self.model.predict(pairs, convert_to_numpy=True, show_progress_bar=False)
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        return ([head[i] for i in order] + tail)[:k]


def load_reranker(name_or_path: str, *, probe_timeout: float = 2.0, depth: int = 20) -> Reranker:
    """The same offline-aware loading as for embedders: local folder, cache, then a probed download."""
    from sentence_transformers import CrossEncoder

    def make(source: str, local_only: bool) -> CrossEncoder:
        return CrossEncoder(source, device="cpu", local_files_only=local_only)

    model, _ = load_model(make, name_or_path, probe_timeout=probe_timeout)
    return Reranker(model=model, name=name_or_path, depth=depth)


def reranker_for(settings: Settings) -> Reranker | None:
    """The configured cross-encoder, or None; a configured one that cannot load is an error."""
    if not settings.reranker:
        return None
    return load_reranker(
        settings.reranker, probe_timeout=settings.network_probe_timeout, depth=settings.rerank_depth
    )
