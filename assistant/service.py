"""The served state: one loaded release with its model, answering questions (swapped whole on reload)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .answer import SentenceScorer, make_answer
from .config import Settings
from .embed.choice import embedder_for
from .errors import ReleaseError
from .generation.writer import Writer
from .index.releases import releases_for
from .index.store import ServedRelease
from .records import Answer
from .retrieval.followup import contextual_query
from .retrieval.nomatch import Calibration, calibrate
from .retrieval.search import Searcher

__all__ = ["Assistant", "open_assistant"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assistant:
    """A snapshot: the release and the searcher built on it. Requests hold one reference each."""

    release: ServedRelease
    searcher: Searcher
    scorer: SentenceScorer
    writer: Writer | None = None  # the user's language model, when one is configured

    @property
    def model(self) -> str:
        """The model as answers, /api/health and the page footer name it: a local path only by its
        folder's name (``release.model_name`` is what the build recorded, for the mismatch check)."""
        return self.release.model_display_name

    @property
    def build_id(self) -> str:
        return self.release.build_id

    @property
    def passage_count(self) -> int:
        return self.release.engine.size

    def ask(self, question: str, *, history: Sequence[str] = (), k: int = 5, generate: bool = True) -> Answer:
        """The answer to ``question``; with a language model configured and ``generate``, its checked
        sentences too (``generate=False``: the chat streams them afterwards, see ``generation``)."""
        question = " ".join(question.split())
        query = contextual_query(question, history, self.searcher.analyzer)
        found = self.searcher.find(query.text, k, dense_text=query.dense_text, question=query.question)
        answer = make_answer(
            question,
            found.hits,
            matched=found.matched,
            model=self.model,
            build_id=self.build_id,
            history=history,
            searched=query.shown,
            search_text=query.text,
            terms=self.searcher.analyzer.terms,
            query_vector=found.question_vector,
            scorer=self.scorer,
            bank=self.searcher.calibration.bank,
            bank_vector=found.mapped_vector,
        )
        if not generate or not self.generates_for(answer):
            return answer
        assert self.writer is not None
        return self.writer.complete(answer, history)

    async def generated(self, answer: Answer, history: Sequence[str]) -> Answer:
        """``answer`` with the model's checked answer (or the notice why there is none), for async
        callers (``Writer.written``)."""
        if not self.generates_for(answer):
            return answer
        assert self.writer is not None
        return await self.writer.written(answer, history)

    def generates_for(self, answer: Answer) -> bool:
        """Whether the language model is asked: one is configured and there are passages to ground on."""
        return self.writer is not None and self.writer.writes_for(answer)


def open_assistant(
    settings: Settings, *, previous: Assistant | None = None, build_id: str | None = None
) -> Assistant:
    """Load the current release (or the published release ``build_id``) and the model it was built with.

    ``previous``, the assistant served until now, lends its transformer and reranker when the new
    release was built with the same model, so a reload does not load them again (a static fallback
    model belongs to its release and is always loaded from there).
    """
    import faiss

    # Requests are answered in parallel by threads and processes; FAISS's own OpenMP threads on top of
    # them only spin against each other (p95 of a 10,000-passage exact search under load: 43 ms with
    # two OpenMP threads, 0.4 ms with one), so a served search uses one.
    faiss.omp_set_num_threads(settings.search_threads)
    release = releases_for(settings).open(build_id)
    previous_model = (previous.release, previous.searcher.embedder) if previous is not None else None
    embedder = embedder_for(settings, release, previous=previous_model)
    if release.manifest.facts.no_match is not None:
        calibration = Calibration.from_dict(release.manifest.facts.no_match)
    elif (vectors := release.passage_vectors()) is not None:  # built before the fitted rule: measured now
        calibration = calibrate(embedder, vectors)
    else:
        raise ReleaseError(f"Index-Stand {release.build_id}: Kalibrierung fehlt im Manifest; neu bauen")
    searcher = Searcher.configured(
        settings,
        embedder,
        release.engine,
        calibration,
        reranker=previous.searcher.reranker if previous is not None else None,
    )
    log.info(
        "serving release %s: %d passages, model %s",
        release.build_id,
        release.engine.size,
        release.model_name,
    )
    # A reused model keeps its cache of sentence vectors too.
    reused = previous is not None and previous.searcher.embedder is embedder
    stored = release.engine.sentence_vectors if release.engine.has_sentences else None
    if reused and previous is not None:  # the same model: its cached sentence vectors stay valid
        scorer = previous.scorer.with_stored(stored)
    else:
        scorer = SentenceScorer(embedder, stored=stored)
    # The writer's checker knows the release's words: made once per release, reused for every answer.
    writer = Writer.configured(settings, searcher.analyzer)
    return Assistant(release=release, searcher=searcher, scorer=scorer, writer=writer)
