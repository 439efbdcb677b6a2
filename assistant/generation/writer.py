"""The language model's side of an answer: what it is sent, its stream, the check of its sentences, and
the German notice when it gives nothing usable (the Kurzantwort from the passages then stands)."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, replace

import anyio.to_thread

from ..config import Settings
from ..errors import GenerationFailed, GenerationTimedOut, GenerationTooLong
from ..records import Answer
from ..text import GermanAnalyzer
from .client import ChatClient
from .evidence import EvidenceChecker
from .grounding import (
    MAX_PASSAGES,
    check_sentences,
    citation_grammar,
    grounded_messages,
    grounding_checker,
    is_usable,
)

__all__ = [
    "MODEL_TOO_LONG",
    "MODEL_TOO_SLOW",
    "MODEL_UNAVAILABLE",
    "NOT_VERIFIED",
    "STOPPED",
    "Writer",
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
class Writer:
    """Writes answers in full sentences with the configured language model and checks each sentence
    against the passages it cites (``grounding``). Made once per release: the checker knows the
    release's words through its analyser.

        writer = Writer.configured(settings, analyzer)    # None without ASSISTANT_LLM_URL
        answer = writer.complete(answer, history)         # or: async for piece in writer.stream(…)
    """

    client: ChatClient
    checker: EvidenceChecker
    analyzer: GermanAnalyzer

    @classmethod
    def configured(cls, settings: Settings, analyzer: GermanAnalyzer) -> Writer | None:
        """The writer for ``settings``' language model, or None when none is configured."""
        if not settings.llm_url:
            return None
        client = ChatClient(
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
        return cls.of(client, analyzer)

    @classmethod
    def of(cls, client: ChatClient, analyzer: GermanAnalyzer) -> Writer:
        """A writer with this model client, checking against the words ``analyzer`` knows."""
        return cls(client=client, checker=grounding_checker(analyzer), analyzer=analyzer)

    @staticmethod
    def writes_for(answer: Answer) -> bool:
        """Whether the model is asked: only with passages to ground on (no match: no call to the
        model, the "keine passende Stelle" answer stays)."""
        return not answer.no_match and bool(answer.hits)

    def complete(self, answer: Answer, history: Sequence[str]) -> Answer:
        """``answer`` with the model's checked sentences, or with the notice why there are none
        (blocking: for the command line and worker threads)."""
        try:
            messages, grammar = self._request(answer, history)
            text = self.client.complete(messages, grammar=grammar)
        except GenerationFailed as exc:
            return self.failed(answer, exc)
        return self.checked(answer, text)

    async def written(self, answer: Answer, history: Sequence[str]) -> Answer:
        """``complete`` for async callers: the model is read on the event loop (waiting holds no
        worker thread) and the check runs in a worker thread."""
        pieces: list[str] = []
        try:
            async for piece in self.stream(answer, history):
                pieces.append(piece)
        except GenerationFailed as exc:
            return self.failed(answer, exc)
        return await anyio.to_thread.run_sync(self.checked, answer, "".join(pieces))

    def stream(self, answer: Answer, history: Sequence[str]) -> AsyncGenerator[str, None]:
        """The model's answer as it arrives, unchecked; ``checked`` turns the whole text into the
        answer to show. Closing the generator stops the model. Raises ``GenerationFailed`` (also
        while iterating)."""
        messages, grammar = self._request(answer, history)
        return self.client.astream(messages, grammar=grammar)

    def _request(self, answer: Answer, history: Sequence[str]) -> tuple[list[dict[str, str]], str | None]:
        """The messages and the grammar (when configured) the model is sent for ``answer``."""
        messages = grounded_messages(answer.question, history, answer.hits)
        grammar = citation_grammar(min(len(answer.hits), MAX_PASSAGES)) if self.client.grammar else None
        return messages, grammar

    def checked(self, answer: Answer, text: str) -> Answer:
        """``answer`` with the model's ``text`` cut into sentences and each checked against the passages
        it cites; when too little is verified, with a notice (the Kurzantwort stands)."""
        sentences = check_sentences(
            text, answer.hits, self.analyzer, question=answer.question, checker=self.checker
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
