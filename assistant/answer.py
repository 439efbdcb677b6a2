"""Turning hits into an Answer: a short extractive answer from the best-matching sentences, the
passages with the words that matched, or an honest "nothing found". No text is generated."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from .records import Answer, AnswerSentence, Hit
from .text import split_sentences

__all__ = ["NO_MATCH_MESSAGE", "extract_sentences", "highlight_words", "make_answer"]

NO_MATCH_MESSAGE = "Dazu enthält der Leitfaden keine passende Stelle."
_MAX_SENTENCES = 2
_MIN_COVERAGE = 0.34  # share of the question's (weighted) terms a sentence must contain
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)

Terms = Callable[[str], list[str]]  # text → analysed terms (stems and compound parts)


def make_answer(
    question: str,
    hits: Sequence[Hit],
    *,
    matched: bool,
    model: str,
    build_id: str,
    history: Sequence[str] = (),
    searched: str | None = None,
    terms: Terms | None = None,
) -> Answer:
    """Without a match no passages are returned: noise presented as an answer misleads more than silence."""
    query = searched_text = searched or question
    if not matched:
        hits = ()
    sentences: tuple[AnswerSentence, ...] = ()
    highlights: tuple[tuple[str, ...], ...] = tuple(() for _ in hits)
    if terms is not None and hits:
        query_terms = set(terms(_strip_shown(query)))
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
    )


def _strip_shown(shown: str) -> str:
    """ "Und wer entscheidet darüber? (+ Verfügungsfonds)" → the words that were searched."""
    return shown.replace("(+", " ").replace(")", " ")


def extract_sentences(
    query_terms: set[str], hits: Sequence[Hit], terms: Terms, *, top: int = 3
) -> list[AnswerSentence]:
    """The sentences of the top passages that cover most of the question's terms, rarer terms
    weighing more (weights from how many candidate sentences contain a term)."""
    if not query_terms:
        return []
    candidates: list[tuple[int, int, str, set[str]]] = []  # (hit rank, position, sentence, terms)
    for rank, hit in enumerate(hits[:top]):
        for position, sentence in enumerate(split_sentences(hit.passage.text)):
            candidates.append((rank, position, sentence, set(terms(sentence))))
    if not candidates:
        return []
    containing = {t: sum(t in c[3] for c in candidates) for t in query_terms}
    weight = {t: math.log(1 + len(candidates) / (1 + containing[t])) for t in query_terms}
    total = sum(weight.values()) or 1.0
    scored = []
    for rank, position, sentence, sentence_terms in candidates:
        coverage = sum(weight[t] for t in query_terms & sentence_terms) / total
        if coverage >= _MIN_COVERAGE:
            scored.append((-coverage, rank, position, sentence))
    scored.sort()
    return [
        AnswerSentence(text=sentence, passage_id=hits[rank].passage.id, marker=rank + 1)
        for _, rank, _, sentence in scored[:_MAX_SENTENCES]
    ]


def highlight_words(text: str, query_terms: set[str], terms: Terms) -> set[str]:
    """The words of ``text`` (as written there) whose terms match the question's."""
    return {word for word in set(_WORD.findall(text)) if query_terms & set(terms(word))}
