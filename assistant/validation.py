"""The limits on what callers send: questions, earlier questions, k and feedback comments.

One place for the API, the web chat and the command line alike; it knows nothing of HTTP. A value
out of bounds raises ``InvalidInput`` with a German message the caller can act on; the API and the
chat answer it with 422, the command line with exit status 2.
"""

from __future__ import annotations

import unicodedata

from .config import Settings
from .errors import InvalidInput

__all__ = ["clean_comment", "has_control_characters", "validate_comment", "validate_question"]


def clean_comment(text: str) -> str:
    """Free text as stored: control characters other than line breaks and tabs removed, trimmed."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


def validate_comment(settings: Settings, comment: str) -> str:
    """A feedback comment cleaned and within the configured length; raises InvalidInput."""
    comment = clean_comment(comment)
    if len(comment) > settings.max_comment_chars:
        raise InvalidInput(f"Der Kommentar ist zu lang (höchstens {settings.max_comment_chars} Zeichen).")
    return comment


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character other than whitespace (a null byte, say)."""
    return any(unicodedata.category(c) == "Cc" and not c.isspace() for c in text)


def validate_question(
    settings: Settings, question: str, history: list[str], k: int | None
) -> tuple[str, list[str], int]:
    """Apply the configured limits; raises InvalidInput with a message the caller can act on."""
    cleaned = " ".join(question.split())
    if not cleaned:
        raise InvalidInput("Die Frage ist leer.")
    if len(cleaned) > settings.max_question_chars:
        raise InvalidInput(f"Die Frage ist zu lang (höchstens {settings.max_question_chars} Zeichen).")
    # No text typed by a person holds a null byte or another control character; refused with a message
    # rather than passed on, where PostgreSQL cannot store a null byte at all.
    if has_control_characters(cleaned):
        raise InvalidInput("Die Frage enthält Steuerzeichen (etwa ein Nullbyte).")
    if len(history) > settings.max_history:
        raise InvalidInput(f"Zu viele frühere Fragen (höchstens {settings.max_history}).")
    if any(has_control_characters(h) for h in history):
        raise InvalidInput("Eine frühere Frage enthält Steuerzeichen (etwa ein Nullbyte).")
    history = [" ".join(h.split())[: settings.max_question_chars] for h in history if h.strip()]
    if k is None:
        k = settings.top_k
    if not 1 <= k <= settings.max_k:
        raise InvalidInput(f"k muss zwischen 1 und {settings.max_k} liegen.")
    return cleaned, history, k
