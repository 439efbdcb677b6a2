"""Turning hits into an Answer: a short extractive answer from the best-matching sentences, the
passages with the words that matched, or an honest "nothing found". No text is generated."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from .embed.models import Embedder
from .records import Answer, AnswerSentence, Hit, Passage
from .retrieval.bank import QuestionBank
from .text import WORD, split_sentences

__all__ = [
    "NO_MATCH_MESSAGE",
    "SentenceScorer",
    "extract_sentences",
    "highlight_words",
    "make_answer",
    "related_sections",
]

log = logging.getLogger(__name__)

NO_MATCH_MESSAGE = "Dazu enthält der Leitfaden keine passende Stelle."
_MAX_SENTENCES = 2
_RELATED = 3  # sections offered as related topics when nothing answers
_MIN_COVERAGE = 0.34  # share of the question's (weighted) terms a sentence must contain

_MEANING_WEIGHT = 0.8  # share of the model's similarity in a sentence's score (shared words: the rest)
# An illustrative example or a note about the text itself says nothing by itself: it loses this much
# of its score (on the fitting half of the second blind set: 25 → 26 of 61 first sentences answer).
_ASIDE_PENALTY = 0.5
# Where candidates have question bank questions: the bank's share of the meaning part, and the meaning
# part's share of the score. Chosen with ``bank.SOFTNESS`` by leaving each of the bank's 626 labelled
# everyday questions out of the bank in turn, and with it every bank question within cosine 0.9 of it
# (``bench/kurzantwort_bank.py --weights``): 443 first sentences answer with the earlier 0.65, 0.9 and
# t = 20, 480 with these; bank weights 0.8–1.0, meaning weights 0.9–1.0 and t = 7–10 give 473–480.
# With a bank weight below 1.0 a sentence's own similarity still counts, so a sentence without bank
# questions that is closest in meaning is not merely tied with the one the bank puts first. With a
# meaning weight of 1.0, shared words order the candidates only where the bank is not read (``_asked``);
# they still make a sentence eligible.
_BANK_WEIGHT = 0.9
_BANKED_MEANING_WEIGHT = 1.0
_ASIDE = re.compile(
    r"^(?:Beispiel\b[^:]{0,20}:|Hinweis:|Dieser (?:Teil|Text|Abschnitt)\b|Siehe\b)", re.IGNORECASE
)

Terms = Callable[[str], list[str]]  # text → analysed terms (stems and compound parts)


class SentenceScorer:
    """How close candidate sentences are to a question in the model's meaning: the cosine between the
    question's vector and each sentence's, encoded as a passage. A release of up to 50,000 passages
    stores its passages' sentence vectors (``stored``: passage row → its sentences' vectors); sentences
    it does not hold are encoded on demand and kept in a bounded cache (least recently used out first)."""

    def __init__(
        self,
        embedder: Embedder,
        size: int = 20_000,
        stored: Callable[[int], np.ndarray | None] | None = None,
    ) -> None:
        self.embedder = embedder
        self.size = size
        self.stored = stored
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, query_vector: np.ndarray, hit: Hit, sentences: Sequence[str]) -> np.ndarray:
        query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if self.stored is not None and hit.row >= 0:
            matrix = self.stored(hit.row)
            if matrix is not None and len(matrix) == len(sentences):
                return np.asarray(matrix @ query)
        return self.encoded([hit.passage.sentence_in_context(s) for s in sentences]) @ query

    def with_stored(self, stored: Callable[[int], np.ndarray | None] | None) -> SentenceScorer:
        """A scorer for another release of the same model, sharing this one's cache."""
        other = SentenceScorer(self.embedder, self.size, stored)
        other._cache, other._lock = self._cache, self._lock
        return other

    def encoded(self, sentences: Sequence[str]) -> np.ndarray:
        with self._lock:
            known = {s: self._cache[s] for s in sentences if s in self._cache}
            for s in known:
                self._cache.move_to_end(s)
        missing = list(dict.fromkeys(s for s in sentences if s not in known))
        if missing:
            fresh = self.embedder.encode_documents(missing, batch_size=len(missing))
            with self._lock:
                for s, vector in zip(missing, fresh, strict=True):
                    self._cache[s] = known[s] = vector
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return np.stack([known[s] for s in sentences])


def make_answer(
    question: str,
    hits: Sequence[Hit],
    *,
    matched: bool,
    model: str,
    build_id: str,
    history: Sequence[str] = (),
    searched: str | None = None,
    search_text: str | None = None,
    terms: Terms | None = None,
    query_vector: np.ndarray | None = None,
    scorer: SentenceScorer | None = None,
    bank: QuestionBank | None = None,
    bank_vector: np.ndarray | None = None,
) -> Answer:
    """Without a match no passages are returned: noise presented as an answer misleads more than silence.

    With ``scorer`` and the ``query_vector`` of what was asked (a follow-up with its borrowed words) the
    short answer's sentences are chosen by meaning as well as by shared words. ``searched`` is what
    the chat shows ("… (+ Verfügungsfonds)"), ``search_text`` the words that were searched (the
    question with the borrowed words); both default to the question. ``bank``: the release's question
    bank, read with ``bank_vector`` (what was asked as the release maps questions; by default
    ``query_vector``)."""
    searched_text = searched or question
    query = search_text or question
    related: tuple[Passage, ...] = ()
    if not matched:
        related = related_sections(hits)
        hits = ()
    sentences: tuple[AnswerSentence, ...] = ()
    highlights: tuple[tuple[str, ...], ...] = tuple(() for _ in hits)
    if terms is not None and hits:
        query_terms = set(terms(query))
        meaning = asked = None
        if scorer is not None and query_vector is not None:
            meaning = lambda hit, ss: scorer(query_vector, hit, ss)  # noqa: E731
            if bank is not None:
                read_with = query_vector if bank_vector is None else bank_vector
                asked = lambda ss: bank.closeness(read_with, ss)  # noqa: E731
        try:
            sentences = tuple(extract_sentences(query_terms, hits, terms, meaning=meaning, bank=asked))
        except Exception:  # noqa: BLE001 - the short answer is an aid: without the model, shared words do
            log.exception("choosing the short answer's sentences by meaning failed; shared words only")
            sentences = tuple(extract_sentences(query_terms, hits, terms))
        highlights = tuple(tuple(sorted(highlight_words(h.passage.text, query_terms, terms))) for h in hits)
    return Answer(
        question=question,
        hits=tuple(hits),
        no_match=not matched,
        message=None if matched else NO_MATCH_MESSAGE,
        model=model,
        build_id=build_id,
        history=tuple(history),
        searched=searched_text,
        sentences=sentences,
        highlights=highlights,
        related=related,
    )


def related_sections(hits: Sequence[Hit], limit: int = _RELATED) -> tuple[Passage, ...]:
    """The nearest sections for a question the sources do not answer: the first passage of each of the
    best-ranked distinct sections (document and section), at most ``limit``."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Passage] = []
    for hit in hits:
        citation = hit.passage.citation
        key = (citation.document, citation.chapter, citation.section)
        if key in seen:
            continue
        seen.add(key)
        out.append(hit.passage)
        if len(out) == limit:
            break
    return tuple(out)


def extract_sentences(
    query_terms: set[str],
    hits: Sequence[Hit],
    terms: Terms,
    *,
    top: int = 3,
    meaning: Callable[[Hit, list[str]], np.ndarray] | None = None,
    bank: Callable[[list[str]], np.ndarray | None] | None = None,
) -> list[AnswerSentence]:
    """The sentences of the top passages that answer the question best.

    Shared words: the share of the question's terms a sentence contains, rarer terms weighing more
    (weights from how many candidate sentences contain a term); a sentence needs a third of them. With
    ``meaning`` (a hit and its sentences → their cosines to the question) a sentence's score is
    ``_MEANING_WEIGHT`` that similarity (scaled over the candidates) and the rest its shared words, and
    the sentence closest in meaning qualifies even when it words things differently from the question.

    With ``bank`` as well (the candidate sentences → how close the question comes to the question bank's
    questions for each, NaN where a sentence has none; ``bank`` module), where the bank can tell the
    candidates apart, the meaning part (``_BANKED_MEANING_WEIGHT`` of the score) is shared between the
    sentence's own similarity and that closeness (``_BANK_WEIGHT``), each scaled over the candidates,
    and the sentence with the closest bank question qualifies too."""
    candidates: list[tuple[int, int, str, set[str]]] = []  # (hit rank, position, sentence, terms)
    similarities: list[float] = []
    for rank, hit in enumerate(hits[:top]):
        split = split_sentences(hit.passage.text)
        for position, sentence in enumerate(split):
            candidates.append((rank, position, sentence, set(terms(sentence))))
        if meaning is not None and split:
            similarities.extend(float(x) for x in meaning(hit, split))
    if not candidates or (not query_terms and meaning is None):
        return []
    containing = {t: sum(t in c[3] for c in candidates) for t in query_terms}
    weight = {t: math.log(1 + len(candidates) / (1 + containing[t])) for t in query_terms}
    total = sum(weight.values()) or 1.0
    coverage = [sum(weight[t] for t in query_terms & c[3]) / total for c in candidates]
    score = list(coverage)
    eligible = [c >= _MIN_COVERAGE for c in coverage]
    if meaning is not None:
        similarity = np.asarray(similarities, dtype=np.float64)
        scaled = _scaled(similarity)
        score = [
            _MEANING_WEIGHT * m + (1 - _MEANING_WEIGHT) * c for m, c in zip(scaled, coverage, strict=True)
        ]
        eligible[int(np.argmax(similarity))] = True
        asked = _asked(bank, [c[2] for c in candidates])
        if asked is not None:
            # Bank closeness scaled over the sentences that have bank questions; a sentence without any
            # (one's own documents) keeps its own similarity there, so it is neither helped nor hurt.
            known = ~np.isnan(asked)
            low, high = float(np.nanmin(asked)), float(np.nanmax(asked))
            close = np.where(known, (np.where(known, asked, low) - low) / (high - low), scaled)
            score = [
                _BANKED_MEANING_WEIGHT * ((1 - _BANK_WEIGHT) * m + _BANK_WEIGHT * k)
                + (1 - _BANKED_MEANING_WEIGHT) * c
                for m, k, c in zip(scaled, close, coverage, strict=True)
            ]
            eligible[int(np.nanargmax(asked))] = True
    for i, (_, _, sentence, sentence_terms) in enumerate(candidates):
        if _ASIDE.match(sentence):
            score[i] -= _ASIDE_PENALTY
        if not sentence_terms - query_terms:  # says nothing the question does not already say
            eligible[i] = False
    ranked = sorted(
        (-score[i], rank, position, sentence)
        for i, (rank, position, sentence, _) in enumerate(candidates)
        if eligible[i]
    )
    return [
        AnswerSentence(text=sentence, passage_id=hits[rank].passage.id, marker=rank + 1)
        for _, rank, _, sentence in ranked[:_MAX_SENTENCES]
    ]


def _asked(bank: Callable[[list[str]], np.ndarray | None] | None, sentences: list[str]) -> np.ndarray | None:
    """The bank's closeness for ``sentences``, or None where it cannot tell them apart (no bank, fewer
    than two different values among the sentences with bank questions) or fails: the bank is an aid."""
    if bank is None:
        return None
    try:
        asked = bank(sentences)
    except Exception:  # noqa: BLE001 - without the bank the short answer is chosen as before
        log.exception("reading the question bank failed; the short answer is chosen without it")
        return None
    if asked is None or len(asked) != len(sentences):
        return None
    asked = np.asarray(asked, dtype=np.float64)
    values = asked[~np.isnan(asked)]
    if len(values) < 2 or float(values.max() - values.min()) <= 1e-9:
        return None
    return asked


def _scaled(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to 0 (the least) … 1 (the most); all 1 where they are all equal."""
    span = float(values.max() - values.min())
    return (values - values.min()) / span if span > 1e-9 else np.ones_like(values)


def highlight_words(text: str, query_terms: set[str], terms: Terms) -> set[str]:
    """The words of ``text`` (as written there) whose terms match the question's."""
    return {word for word in set(WORD.findall(text)) if query_terms & set(terms(word))}
