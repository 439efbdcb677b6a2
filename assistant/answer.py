"""Turning hits into an Answer: the passages to show, or an honest "nothing found"."""

from __future__ import annotations

from collections.abc import Sequence

from .records import Answer, Hit

__all__ = ["NO_MATCH_MESSAGE", "make_answer"]

NO_MATCH_MESSAGE = "Dazu enthält der Leitfaden keine passende Stelle."


def make_answer(
    question: str,
    hits: Sequence[Hit],
    *,
    matched: bool,
    model: str,
    build_id: str,
    history: Sequence[str] = (),
    searched: str | None = None,
) -> Answer:
    """Without a match no passages are returned: noise presented as an answer misleads more than silence."""
    return Answer(
        question=question,
        hits=tuple(hits) if matched else (),
        no_match=not matched,
        message=None if matched else NO_MATCH_MESSAGE,
        model=model,
        build_id=build_id,
        history=tuple(history),
        searched=searched or question,
    )
