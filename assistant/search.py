"""Dense search over a release, and the judgement whether the best hits really answer the question."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .embedding import Embedder
from .fusion import FusionMethod, fuse_rankings
from .lexical import GermanAnalyzer, LexicalIndex
from .records import Hit, Passage
from .text import words

__all__ = [
    "OFF_TOPIC_PROBES",
    "Searcher",
    "calibrate_lexical_threshold",
    "calibrate_threshold",
    "content_terms",
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

# Frequent German function words: they say nothing about what a question is about.
_STOPWORDS = frozenset(
    """aber alle allem allen aller alles als also am an ander andere anderen auch auf aus bei beim bin bis
    bist da damit dann das dass dein deine dem den denn der des dessen die dies diese diesem diesen dieser
    dieses doch dort du durch ein eine einem einen einer eines er es etwas euch euer für gab gegen gibt
    habe haben hat hatte hier hin hinter ich ihm ihn ihnen ihr ihre im in ist ja jede jedem jeden jeder
    jedes jetzt kann kein keine können könnte man manche mehr mein meine mit muss müssen nach nicht nichts
    noch nun nur ob oder ohne sehr sein seine sich sie sind so soll sollen sollte sondern sowie über um
    und uns unser unter viel vom von vor war waren warum was weil welche welchem welchen welcher welches
    wenn wer werden wie wieder will wir wird wo wobei woher wohin zu zum zur zwischen gut geht gehen
    heute morgen gestern bitte eigentlich genau immer""".split()
)
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_SUFFIX = re.compile(r"(?:ern|em|en|er|es|e|n|s)$")


def _stem(word: str) -> str:
    """A deliberately crude German stem (folded, common endings cut), enough to compare word forms."""
    folded = word.lower().translate(_FOLD)
    return _SUFFIX.sub("", folded) if len(folded) > 4 else folded


def content_terms(text: str) -> set[str]:
    """Stems of the words that carry meaning (no function words, no one- or two-letter words)."""
    return {_stem(w) for w in words(text) if len(w) > 2 and w.lower() not in _STOPWORDS}


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
    passages: tuple[Passage, ...]
    threshold: float
    lexical: LexicalIndex | None = None
    lexical_threshold: float = float("inf")
    fusion: FusionMethod = "score"
    dense_weight: float = 0.5
    mode: str = "hybrid"
    candidates: int = 100

    @property
    def analyzer(self) -> GermanAnalyzer:
        return self.lexical.analyzer if self.lexical is not None else _PLAIN_ANALYZER

    def search(self, query: str, k: int) -> list[Hit]:
        k = min(k, len(self.passages))
        if k <= 0:
            return []
        n = min(len(self.passages), max(self.candidates, 4 * k))
        ids = np.zeros(0, dtype=np.int64)
        dense = np.zeros(0, dtype=np.float32)
        vector = None
        if self.mode != "lexical" or self.lexical is None:
            vector = self.embedder.encode_queries([query])
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
        order = np.argsort(-fused, kind="stable")[:k]
        return [
            Hit(self.passages[ids[i]], float(fused[i]), dense=float(dense[i]), lexical=float(lexical[i]))
            for i in order
        ]

    def is_match(self, query: str, hits: list[Hit]) -> bool:
        """A question is answered when a top passage scores above what any off-topic probe reaches,
        densely or lexically, or shares one of its meaningful words."""
        if not hits:
            return False
        if max(h.dense for h in hits[:3]) > self.threshold:
            return True
        if max(h.lexical for h in hits[:3]) > self.lexical_threshold:
            return True
        terms = content_terms(query)
        if not terms:
            return False
        return any(
            terms & content_terms(hit.passage.text + " " + hit.passage.citation.section) for hit in hits[:3]
        )
