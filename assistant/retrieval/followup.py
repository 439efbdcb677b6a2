"""Follow-up questions: borrowing the topic of earlier turns when a question leans on them.

"Und wer entscheidet darüber?" says nothing by itself; after "Was ist ein Verfügungsfonds?" it asks
who decides on the fund. No language model is needed: a question that points back (a pronominal
adverb, a pronoun, an opening "und"/"und wie") or carries too few words of its own is searched
together with the meaningful words of the most recent earlier question that has them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..text import LETTERS, PRONOMINAL_ADVERBS, GermanAnalyzer

__all__ = ["SearchQuery", "contextual_query"]

# Words that always point back to something said before.
_ANAPHORA = PRONOMINAL_ADVERBS | frozenset("dort dorthin dahin dies deren dessen denen".split())
# Articles and pronouns point back only when no noun follows them ("Wer zahlt das?", not "Wie
# arbeitet das Team?"); German nouns are capitalised, which tells the two apart.
_ARTICLES = frozenset(
    "das dem den der die diese dieser dieses diesem diesen er sie ihn ihm jene jener jenes".split()
)
_OPENERS = re.compile(
    r"^\s*(und|aber|oder|auch|sowie|was ist mit|wie ist es mit|und wie|und wer|und wo)\b", re.I
)
# An earlier question is read up to this length, so the follow-up itself stays within the model's input.
_CONTEXT_CHARS = 300


@dataclass(frozen=True)
class SearchQuery:
    """What is searched for: the question, and the words borrowed from earlier turns (if any)."""

    question: str
    borrowed: tuple[str, ...] = ()
    context: tuple[str, ...] = ()  # the earlier questions a follow-up leans on (three at most, shortened)

    @property
    def text(self) -> str:
        """What BM25 searches: the question with the borrowed words."""
        return " ".join([self.question, *self.borrowed])

    @property
    def dense_text(self) -> str:
        """What the model embeds: a follow-up after the questions before it whose meaning it takes up (see
        ``contextual_query`` and, for the measurement, docs/evaluation.md)."""
        return " ".join([*self.context, self.question]) if self.borrowed else self.question

    @property
    def shown(self) -> str:
        """For "Gesucht wurde: …" in the chat and the API."""
        return f"{self.question} (+ {' '.join(self.borrowed)})" if self.borrowed else self.question


def contextual_query(question: str, history: Sequence[str], analyzer: GermanAnalyzer) -> SearchQuery:
    if not history or not _leans_on_context(question, analyzer):
        return SearchQuery(question)
    own = set(analyzer.words(question))
    for position in range(len(history) - 1, -1, -1):
        borrowed = _topic_words(history[position], analyzer, exclude=own)
        if borrowed:
            # The model reads the last two questions before the follow-up, and the one that named the
            # topic where it lies further back, in the order they were asked.
            kept = sorted({position, *range(max(len(history) - 2, 0), len(history))})
            context = tuple(history[i][:_CONTEXT_CHARS] for i in kept)
            return SearchQuery(question, tuple(borrowed), context)
    return SearchQuery(question)


def _leans_on_context(question: str, analyzer: GermanAnalyzer) -> bool:
    if _OPENERS.match(question):
        return True
    tokens = LETTERS.findall(question)
    for i, token in enumerate(tokens[1:], start=1):
        lower = token.lower()
        if lower in _ANAPHORA:
            return True
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if lower in _ARTICLES and token.islower() and not following[:1].isupper():
            return True  # "Wie lange dauert die?", "Wer bezahlt das eigentlich?"
    return not analyzer.words(question)


def _topic_words(text: str, analyzer: GermanAnalyzer, exclude: set[str]) -> list[str]:
    """The topic of an earlier question: its nouns and acronyms (capitalised),
    or, where it has none, its other meaningful words; as written there, without repeats."""
    candidates: list[str] = []
    seen: set[str] = set()
    for word in LETTERS.findall(text):
        folded = analyzer.words(word)
        if not folded or folded[0] in exclude or folded[0] in seen:
            continue
        if len(word) < 3 or word.lower() in _ANAPHORA:
            continue
        seen.add(folded[0])
        candidates.append(word)
    nouns = [w for w in candidates if w[:1].isupper()]  # question words are stopwords, gone already
    return nouns or candidates
