"""Dense and lexical search over a release, fused, with the judgement whether the best hits really
answer the question (the rule and its calibration live in ``nomatch``, shared with the build)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import Settings
from ..embed.models import Embedder
from ..index.engine import Engine
from ..index.lexical import term_weights
from ..records import Hit
from ..text import GermanAnalyzer
from .expansion import Expansion, Thesaurus
from .fusion import FusionMethod, fuse_rankings
from .nomatch import (
    GAP_RANK,
    Calibration,
    NoMatchRule,
    rule_for,
)
from .rerank import Reranker, reranker_for

__all__ = ["Found", "Searcher"]


@dataclass(frozen=True)
class Found:
    """The hits for a question and the judgement whether they answer it (with the features behind it)."""

    hits: list[Hit]
    matched: bool
    features: tuple[float, ...]
    # The vector of the text the model embedded (None in lexical mode), and that of the question itself
    # (the same for a question that is not a follow-up).
    vector: np.ndarray | None = None
    question_vector: np.ndarray | None = None
    # The question's vector as the release maps questions (the query adapter): what the question bank
    # is read with. A follow-up's ``question_vector`` is the model's own; this is it mapped.
    mapped_vector: np.ndarray | None = None


@dataclass(frozen=True)
class Searcher:
    """Ranks passages for a query with dense search, BM25 and their fusion; shared across requests.

    ``mode`` is "hybrid" (the default), "dense" or "lexical" (the latter two for evaluation).
    """

    embedder: Embedder
    engine: Engine  # the release's passages, vectors and lexical index (a folder, or PostgreSQL)
    calibration: Calibration
    rule: NoMatchRule
    fusion: FusionMethod = "score"
    dense_weight: float = 0.65
    mode: str = "hybrid"
    candidates: int = 100
    reranker: Reranker | None = None
    # Everyday words to the corpus's words (``expansion``, measured by ``bench/expansion.py``: no gain on
    # the held-out sets, so the service runs without one). With one, a question word counts as known
    # (and its terms count as found in the top passages) through a synonym the corpus uses
    # (``expand_known``), and BM25 also searches the synonyms (``expand_search``).
    thesaurus: Thesaurus | None = None
    expand_known: bool = True
    expand_search: bool = True

    @classmethod
    def configured(
        cls,
        settings: Settings,
        embedder: Embedder,
        engine: Engine,
        calibration: Calibration,
        *,
        reranker: Reranker | None = None,
    ) -> Searcher:
        """The searcher as ``settings`` configure it (fusion, dense weight, reranker) over ``engine``:
        the one way the service and the evaluation make one. ``reranker`` lends an already loaded
        one (a hot reload keeps its cross-encoder); without it the configured one is loaded."""
        return cls(
            embedder=embedder,
            engine=engine,
            calibration=calibration,
            rule=rule_for(embedder),
            fusion=settings.fusion,
            dense_weight=settings.dense_weight,
            reranker=reranker if reranker is not None else reranker_for(settings),
        )

    @property
    def analyzer(self) -> GermanAnalyzer:
        return self.engine.analyzer

    def expansion(self, query: str) -> Expansion:
        """The synonyms the index knows for the words of ``query`` (none without a thesaurus)."""
        if self.thesaurus is None or not self.engine.has_lexical:
            return Expansion()
        return self.thesaurus.expand(query, self.engine.knows, self.engine.idf)

    def lexical_weights(self, query: str) -> dict[str, float]:
        """The BM25 query: the question's terms (weight 1 each time they occur), and with
        ``expand_search`` their synonyms."""
        weights = term_weights(self.analyzer.terms(query))
        if self.expand_search:
            for term, weight in self.expansion(query).terms.items():
                weights.setdefault(term, weight)
        return weights

    def search(
        self, query: str, k: int, *, dense_text: str | None = None, question: str | None = None
    ) -> list[Hit]:
        """The top ``k`` hits only (no judgement); ``dense_text`` and ``question`` as for ``find``."""
        return self.rank(query, self._vector(dense_text or query, k, question), k)

    def find(
        self, query: str, k: int, *, dense_text: str | None = None, question: str | None = None
    ) -> Found:
        """The top ``k`` hits and whether they answer the question (see ``NoMatchRule``); BM25 searches
        ``query``. The model embeds ``dense_text`` where given (a follow-up with its context); with the
        follow-up as asked (``question``) as well, the search vector is the mean of both."""
        vector, question_vector, mapped = self._vectors(dense_text or query, k, question, query)
        hits, dense_top = self._rank(query, vector, k)
        features = self.features(query, hits, dense_top, vector)
        matched = bool(hits) and self.rule.matches(features)
        return Found(hits, matched, features, vector, question_vector, mapped)

    def encode_questions(self, texts: list[str]) -> np.ndarray:
        """The model's vectors of ``texts`` as questions, mapped by the release's query adapter."""
        return self.calibration.questions(self.embedder.encode_queries(texts))

    def _vector(self, text: str, k: int, question: str | None = None) -> np.ndarray | None:
        return self._vectors(text, k, question)[0]

    def _vectors(
        self, text: str, k: int, question: str | None = None, asked: str | None = None
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """The search vector of ``text``, the vector of ``asked`` (what the short answer is ranked
        against: a follow-up with its borrowed words, not the whole conversation), and that vector
        mapped like a question's (what the question bank is read with)."""
        dense_needed = self.mode != "lexical" or not self.engine.has_lexical
        if not dense_needed or k <= 0:
            return None, None, None
        # A question alone is mapped by the query adapter. A follow-up is not: the adapter learnt from
        # single questions, and on the fitting dialogues the mean below of the unmapped vectors ranks
        # better (Folgefragen MRR@10 0.767 mapped, 0.797 unmapped; Folgefragen 2, fitting half: 0.858,
        # 0.884).
        follow_up = question is not None and question != text
        encode = self.embedder.encode_queries if follow_up else self.encode_questions
        # The conversation is encoded on its own: batched with the short texts it would pad them to its
        # length and triple the cost.
        encoded = {text: encode([text])[0]}
        short = [t for t in dict.fromkeys([question or text, asked or text]) if t not in encoded]
        if short:
            encoded.update(zip(short, encode(short), strict=True))
        vector = encoded[text][None, :]
        if question is not None and follow_up:
            # A follow-up: the conversation's meaning and the question's own, equally (Folgefragen MRR@10
            # 0.737 -> 0.793 and 0.798 -> 0.836 on the fitting sets against the contextual vector alone).
            mean = vector + encoded[question][None, :]
            vector = mean / max(float(np.linalg.norm(mean)), 1e-12)
        own = vector if asked is None or asked == text else encoded[asked][None, :]
        return vector, own, self.calibration.questions(own) if follow_up else own

    def rank(self, query: str, vector: np.ndarray | None, k: int) -> list[Hit]:
        """``search`` with the query already encoded (``vector``: shape (1, d), None for lexical only)."""
        return self._rank(query, vector, k)[0]

    def _rank(self, query: str, vector: np.ndarray | None, k: int) -> tuple[list[Hit], np.ndarray]:
        """The hits, and the best dense cosines in descending order (empty without a vector)."""
        engine = self.engine
        k = min(k, engine.size)
        if k <= 0:
            return [], np.zeros(0, dtype=np.float32)
        n = min(engine.size, max(self.candidates, 4 * k, GAP_RANK))
        ids = np.zeros(0, dtype=np.int64)
        dense = np.zeros(0, dtype=np.float32)
        dense_top = np.zeros(0, dtype=np.float32)
        if vector is not None:
            ids, dense = engine.dense(vector[0], n)
            dense_top = -np.sort(-dense)[:GAP_RANK]
        use_lexical = engine.has_lexical and self.mode != "dense"
        if use_lexical:
            top, top_scores, lexical = engine.lexical(self.lexical_weights(query), n, ids)
            outside = ~np.isin(top, ids)
            order = np.argsort(top[outside], kind="stable")  # by row, as before: ties keep their order
            extra, extra_scores = top[outside][order], top_scores[outside][order]
            if len(extra):
                # Lexical finds outside the dense top n: their exact cosine, from the stored vectors.
                no_vector = np.zeros(len(extra), dtype=np.float32)
                extra_dense = engine.cosines(extra, vector[0]) if vector is not None else no_vector
                ids = np.concatenate([ids, extra])
                dense = np.concatenate([dense, extra_dense])
                lexical = np.concatenate([lexical, extra_scores])
        else:
            lexical = np.zeros(len(ids), dtype=np.float32)
        if self.mode == "dense" or not use_lexical:
            fused = dense
        elif self.mode == "lexical":
            fused = lexical
        else:
            fused = fuse_rankings(ids, dense, lexical, method=self.fusion, dense_weight=self.dense_weight)
        depth = max(k, self.reranker.depth) if self.reranker is not None else k
        order = np.argsort(-fused, kind="stable")[:depth]
        passages = engine.passages([int(ids[i]) for i in order])
        hits = [
            Hit(
                passage,
                float(fused[i]),
                dense=float(dense[i]),
                lexical=float(lexical[i]),
                row=int(ids[i]),
            )
            for passage, i in zip(passages, order, strict=True)
        ]
        if self.reranker is not None:
            hits = self.reranker.rerank(query, hits, k)
        return hits, dense_top

    def features(
        self, query: str, hits: Sequence[Hit], dense_top: np.ndarray, vector: np.ndarray | None = None
    ) -> tuple[float, ...]:
        """The no-match features of ``NoMatchRule`` for this question, its hits, its best cosines and
        the vector the model made of it."""
        cal = self.calibration
        scope = cal.scope_score(vector)
        if len(dense_top):
            dense = (float(dense_top[0]) - cal.dense_mean) / cal.dense_std
            gap = (float(dense_top[0]) - float(dense_top[-1])) / cal.dense_gap
        else:
            dense = gap = 0.0
        analyzer = self.analyzer
        terms = list(dict.fromkeys(analyzer.terms(query)))
        if not self.engine.has_lexical:  # no lexical index to judge by: the words count as found
            return (dense, gap, 1.0, 1.0, scope)
        if not terms:
            return (dense, gap, 0.0, 0.0, scope)
        weight = {t: self.engine.idf(t) for t in terms}
        total = sum(weight.values())
        found: set[str] = set()
        for hit in hits[:3]:
            found.update(analyzer.terms(hit.passage.embedding_text))
        thesaurus = self.thesaurus if self.expand_known else None
        synonyms = thesaurus.synonyms if thesaurus is not None else lambda _: {}
        coverage = sum(weight[t] for t in terms if t in found or found.intersection(synonyms(t))) / total
        words = list(dict.fromkeys(analyzer.word_stems(query)))
        word_weight = {w: self.engine.idf(w) for w in words}
        knows = self.engine.knows
        known_words = [w for w in words if knows(w) or any(knows(s) for s in synonyms(w))]
        known = sum(word_weight[w] for w in known_words) / (sum(word_weight.values()) or 1)
        return (dense, gap, coverage, known, scope)
