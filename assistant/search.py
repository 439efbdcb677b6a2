"""Dense search over a release, and the judgement whether the best hits really answer the question."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .embedding import Embedder
from .fusion import FusionMethod, fuse_rankings
from .lexical import GermanAnalyzer, LexicalIndex
from .records import Hit, Passage
from .rerank import Reranker

__all__ = [
    "OFF_TOPIC_PROBES",
    "Searcher",
    "calibrate_lexical_threshold",
    "calibrate_threshold",
]

# Questions far from the guide's subject. Their best scores against a corpus show how high an
# unrelated question can score with a given model, which sets that model's no-match threshold.
OFF_TOPIC_PROBES = (
    "Wie wird das Wetter morgen?",
    "Rezept für Apfelkuchen",
    "Wer hat das Fußballspiel gestern gewonnen?",
    "Wie installiere ich einen Drucker unter Linux?",
    "Was kostet ein Flug nach Mallorca?",
    "Welche Symptome hat eine Grippe?",
    "Wie lange muss ein Ei kochen?",
    "Wann beginnt die nächste Sonnenfinsternis?",
    "Wie pflege ich eine Orchidee richtig?",
    "Was ist die Hauptstadt von Australien?",
    "Wie wechsle ich einen Fahrradreifen?",
    "Welcher Film läuft heute im Kino?",
    "Wie funktioniert ein Verbrennungsmotor?",
    "Welche Aktien soll ich kaufen?",
    "Wie viele Kalorien hat eine Banane?",
    "Wie lerne ich schnell Gitarre spielen?",
    "Was frisst ein Hamster?",
    "Wie hoch ist der Mount Everest?",
    "Wie backe ich Brot ohne Hefe?",
    "Welche Farbe passt zu einem blauen Sofa?",
)


def calibrate_threshold(
    embedder: Embedder, passage_vectors: np.ndarray, probes: Iterable[str] = OFF_TOPIC_PROBES
) -> float:
    """The highest score any off-topic probe reaches against these passages: scores at or below it
    prove nothing about a question."""
    probe_vectors = embedder.encode_queries(list(probes))
    return float(np.max(probe_vectors @ passage_vectors.T))


def calibrate_lexical_threshold(lexical: LexicalIndex, probes: Iterable[str] = OFF_TOPIC_PROBES) -> float:
    """The highest BM25 score any off-topic probe reaches in this index."""
    return float(max((float(lexical.scores(p).max(initial=0.0)) for p in probes), default=0.0))


_PLAIN_ANALYZER = GermanAnalyzer()


@dataclass(frozen=True)
class Searcher:
    """Ranks passages for a query with dense search, BM25 and their fusion; shared across requests.

    ``mode`` is "hybrid" (the default), "dense" or "lexical" (the latter two for evaluation).
    """

    embedder: Embedder
    index: Any  # faiss.Index, inner product over normalised vectors
    passages: Sequence[Passage]
    threshold: float
    lexical: LexicalIndex | None = None
    lexical_threshold: float = float("inf")
    fusion: FusionMethod = "score"
    dense_weight: float = 0.5
    mode: str = "hybrid"
    candidates: int = 100
    reranker: Reranker | None = None

    @property
    def analyzer(self) -> GermanAnalyzer:
        return self.lexical.analyzer if self.lexical is not None else _PLAIN_ANALYZER

    def search(self, query: str, k: int) -> list[Hit]:
        dense_needed = self.mode != "lexical" or self.lexical is None
        vector = self.embedder.encode_queries([query]) if dense_needed and k > 0 else None
        return self.rank(query, vector, k)

    def rank(self, query: str, vector: np.ndarray | None, k: int) -> list[Hit]:
        """``search`` with the query already encoded (``vector``: shape (1, d), None for lexical only)."""
        k = min(k, len(self.passages))
        if k <= 0:
            return []
        n = min(len(self.passages), max(self.candidates, 4 * k))
        ids = np.zeros(0, dtype=np.int64)
        dense = np.zeros(0, dtype=np.float32)
        if vector is not None:
            scores, found = self.index.search(vector, n)
            keep = found[0] >= 0
            ids, dense = found[0][keep].astype(np.int64), scores[0][keep]
        use_lexical = self.lexical is not None and self.mode != "dense"
        lexical_all = self.lexical.scores(query) if use_lexical else None  # type: ignore[union-attr]
        if lexical_all is not None:
            best = np.argpartition(-lexical_all, min(n, len(lexical_all)) - 1)[:n]
            best = best[lexical_all[best] > 0]
            extra = np.setdiff1d(best, ids, assume_unique=False)
            if len(extra) and vector is not None:
                # Lexical finds outside the dense top n: their exact cosine, from the stored vectors.
                stored = self.index.reconstruct_batch(extra)
                ids = np.concatenate([ids, extra])
                dense = np.concatenate([dense, stored @ vector[0]])
            elif len(extra):
                ids = np.concatenate([ids, extra])
                dense = np.concatenate([dense, np.zeros(len(extra), dtype=np.float32)])
            lexical = lexical_all[ids]
        else:
            lexical = np.zeros(len(ids), dtype=np.float32)
        if self.mode == "dense" or lexical_all is None:
            fused = dense
        elif self.mode == "lexical":
            fused = lexical
        else:
            fused = fuse_rankings(ids, dense, lexical, method=self.fusion, dense_weight=self.dense_weight)
        depth = max(k, self.reranker.depth) if self.reranker is not None else k
        order = np.argsort(-fused, kind="stable")[:depth]
        hits = [
            Hit(self.passages[ids[i]], float(fused[i]), dense=float(dense[i]), lexical=float(lexical[i]))
            for i in order
        ]
        return self.reranker.rerank(query, hits, k) if self.reranker is not None else hits

    def is_match(self, query: str, hits: list[Hit]) -> bool:
        """A question is answered when a top passage scores above what any off-topic probe reaches,
        densely or lexically. Measured with ``assistant eval`` (see the README): sharing any single
        word with a top passage, the earlier extra rule, let 80 % of off-topic questions through."""
        if not hits:
            return False
        top = hits[:3]
        return (
            max(h.dense for h in top) > self.threshold or max(h.lexical for h in top) > self.lexical_threshold
        )
