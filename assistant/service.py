"""The served state: one loaded release with its model, answering questions (swapped whole on reload)."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, replace

import anyio.to_thread

from .answer import SentenceScorer, make_answer
from .config import Settings
from .embed.choice import embedder_for
from .errors import GenerationFailed, GenerationTimedOut, GenerationTooLong, ReleaseError
from .generation.client import ChatClient
from .generation.evidence import EvidenceChecker
from .generation.grounding import (
    MAX_PASSAGES,
    check_sentences,
    citation_grammar,
    grounded_messages,
    grounding_checker,
    is_usable,
)
from .index.releases import releases_for
from .index.store import ServedRelease
from .records import Answer
from .retrieval.followup import contextual_query
from .retrieval.nomatch import Calibration, calibrate, rule_for
from .retrieval.rerank import reranker_for
from .retrieval.search import Searcher

__all__ = [
    "MODEL_TOO_LONG",
    "MODEL_TOO_SLOW",
    "MODEL_UNAVAILABLE",
    "NOT_VERIFIED",
    "STOPPED",
    "Assistant",
    "open_assistant",
]

log = logging.getLogger(__name__)

MODEL_UNAVAILABLE = (
    "Das Sprachmodell hat gerade nicht geantwortet; gezeigt wird die Kurzantwort aus den Fundstellen."
)
MODEL_TOO_SLOW = "Das Sprachmodell hat zu lange gebraucht; gezeigt wird die Kurzantwort aus den Fundstellen."
STOPPED = "Die Antwort des Sprachmodells wurde angehalten; gezeigt wird die Kurzantwort aus den Fundstellen."
MODEL_TOO_LONG = (
    "Die Antwort des Sprachmodells wurde zu lang und abgebrochen; "
    "gezeigt wird die Kurzantwort aus den Fundstellen."
)
NOT_VERIFIED = (
    "Die Antwort des Sprachmodells ließ sich nicht genug mit den Fundstellen belegen; "
    "gezeigt wird die Kurzantwort aus den Fundstellen."
)


@dataclass(frozen=True)
class Assistant:
    """A snapshot: the release and the searcher built on it. Requests hold one reference each."""

    release: ServedRelease
    searcher: Searcher
    scorer: SentenceScorer
    checker: EvidenceChecker  # checks the model's sentences against the release's words
    generator: ChatClient | None = None  # the user's language model, when one is configured

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
        )
        if not generate or not self.generates_for(answer):
            return answer
        assert self.generator is not None
        try:
            messages, grammar = self._request(answer, history)
            text = self.generator.complete(messages, grammar=grammar)
        except GenerationFailed as exc:
            return self.failed(answer, exc)
        return self.checked(answer, text)

    async def generated(self, answer: Answer, history: Sequence[str]) -> Answer:
        """``answer`` with the model's checked answer (or the notice why there is none), for async
        callers: the model is read on the event loop and the check runs in a worker thread."""
        if not self.generates_for(answer):
            return answer
        pieces: list[str] = []
        try:
            async for piece in self.generation(answer, history):
                pieces.append(piece)
        except GenerationFailed as exc:
            return self.failed(answer, exc)
        return await anyio.to_thread.run_sync(self.checked, answer, "".join(pieces))

    def generates_for(self, answer: Answer) -> bool:
        """Whether the language model is asked: one is configured and there are passages to ground on
        (no match: no call to the model, the "keine passende Stelle" answer stays)."""
        return self.generator is not None and not answer.no_match and bool(answer.hits)

    def generation(self, answer: Answer, history: Sequence[str]) -> AsyncGenerator[str, None]:
        """The model's answer to ``answer``'s question as it arrives, unchecked; ``checked`` turns the
        whole text into the answer to show. Closing the generator stops the model. Raises
        ``GenerationFailed`` (also while iterating)."""
        assert self.generator is not None
        messages, grammar = self._request(answer, history)
        return self.generator.astream(messages, grammar=grammar)

    def _request(self, answer: Answer, history: Sequence[str]) -> tuple[list[dict[str, str]], str | None]:
        """The messages and the grammar (when configured) the model is sent for ``answer``."""
        assert self.generator is not None
        messages = grounded_messages(answer.question, history, answer.hits)
        grammar = citation_grammar(min(len(answer.hits), MAX_PASSAGES)) if self.generator.grammar else None
        return messages, grammar

    def checked(self, answer: Answer, text: str) -> Answer:
        """``answer`` with the model's ``text`` cut into sentences and each checked against the passages
        it cites; when too little is verified, with a notice (the Kurzantwort stands)."""
        sentences = check_sentences(
            text, answer.hits, self.searcher.analyzer, question=answer.question, checker=self.checker
        )
        if not is_usable(sentences):
            return replace(answer, generated=sentences, notice=NOT_VERIFIED)
        return replace(answer, generated=sentences)

    @staticmethod
    def failed(answer: Answer, exc: GenerationFailed) -> Answer:
        """``answer`` as it was, with the short German notice for why the model gave nothing."""
        log.warning("language model failed: %s", exc)
        if isinstance(exc, GenerationTimedOut):
            notice = MODEL_TOO_SLOW
        elif isinstance(exc, GenerationTooLong):
            notice = MODEL_TOO_LONG
        else:
            notice = MODEL_UNAVAILABLE
        return replace(answer, notice=notice)


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
    searcher = Searcher(
        embedder=embedder,
        engine=release.engine,
        calibration=calibration,
        rule=rule_for(embedder),
        fusion=settings.fusion,
        dense_weight=settings.dense_weight,
        reranker=previous.searcher.reranker if previous is not None else reranker_for(settings),
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
    generator = None
    if settings.llm_url:
        generator = ChatClient(
            settings.llm_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            first_token_timeout=settings.llm_first_token_timeout,
            total_timeout=settings.llm_timeout,
            max_tokens=settings.llm_max_tokens,
            max_chars=settings.llm_max_chars,
            temperature=settings.llm_temperature,
            grammar=settings.llm_grammar,
        )
    # The checker knows the release's words: made once per release, reused for every answer.
    checker = grounding_checker(searcher.analyzer)
    return Assistant(release=release, searcher=searcher, scorer=scorer, checker=checker, generator=generator)
