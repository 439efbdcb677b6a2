"""What every conversations-and-feedback store shares: the records, the interface, the error.

``UserStore`` is the interface the web chat, the API and the CLI use. Every backend raises
``UserStoreError`` when it cannot read or write just now (a locked or unwritable file, a database
server that cannot be reached); callers answer 503 and ask to try again. ``add_turn`` raises
``KeyError`` for a conversation that does not exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..records import Answer

__all__ = [
    "Deleted",
    "Feedback",
    "StoredTurn",
    "UserStore",
    "export_record",
    "is_conversation_id",
    "new_conversation_id",
]

_ID_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def new_conversation_id() -> str:
    """128 random bits, URL-safe: the conversation's address is its only key, so it must not be guessable."""
    return secrets.token_urlsafe(16)


def is_conversation_id(value: str) -> bool:
    return len(value) == 22 and set(value) <= _ID_ALPHABET


@dataclass(frozen=True, slots=True)
class StoredTurn:
    number: int  # 1-based within its conversation
    answer: Answer
    feedback: bool | None = None  # the latest rating given to this turn, if any


@dataclass(frozen=True, slots=True)
class Feedback:
    id: int
    created: str  # ISO 8601, UTC
    helpful: bool
    comment: str
    question: str
    passages: tuple[str, ...]  # ids of the passages that were shown
    conversation: str | None
    turn: int | None
    build_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "helpful": self.helpful,
            "comment": self.comment,
            "question": self.question,
            "passage_ids": list(self.passages),
            "conversation": self.conversation,
            "turn": self.turn,
            "build_id": self.build_id,
        }


@dataclass(frozen=True, slots=True)
class Deleted:
    """What a deletion removed, for the operator's and the visitor's confirmation."""

    conversations: int = 0
    turns: int = 0
    feedback: int = 0

    def __str__(self) -> str:
        def count(n: int, one: str, many: str) -> str:
            return f"{n} {one if n == 1 else many}"

        return ", ".join(
            (
                count(self.conversations, "Gespräch", "Gespräche"),
                count(self.turns, "Frage mit Antwort", "Fragen mit Antworten"),
                count(self.feedback, "Rückmeldung", "Rückmeldungen"),
            )
        )


class UserStore(Protocol):
    """Conversations and feedback, whichever backend keeps them."""

    @property
    def where(self) -> str:
        """Where the data lives, for messages: a file, or a database server without credentials."""
        ...

    def add_turn(self, conversation: str | None, answer: Answer) -> tuple[str, int]: ...

    def replace_answer(self, conversation: str, number: int, answer: Answer) -> bool:
        """Store ``answer`` for a turn already stored (the generated answer streamed after the
        passages); False when there is no such turn. The question is not changed."""
        ...

    def conversation(self, conversation: str) -> list[StoredTurn] | None: ...

    def questions(self, conversation: str) -> list[str] | None: ...

    def add_feedback(
        self,
        *,
        helpful: bool,
        comment: str,
        question: str,
        passages: Sequence[str],
        build_id: str,
        conversation: str | None = None,
        turn: int | None = None,
    ) -> Feedback: ...

    def feedback(self, *, limit: int | None = None, offset: int = 0) -> list[Feedback]: ...

    def delete_conversation(self, conversation: str) -> Deleted:
        """Delete a conversation with its turns and the feedback given in it (nothing for an unknown
        id). Deleted text does not linger in the store's files (SQLite: secure_delete and a WAL
        checkpoint; PostgreSQL: VACUUM)."""
        ...

    def purge(self, before: datetime) -> Deleted:
        """Delete what is older than ``before``: conversations whose last question was asked before
        it, with their turns and feedback, and any feedback given before it."""
        ...

    def export(self, conversation: str) -> dict[str, Any] | None:
        """Everything stored about one conversation (for a data subject's access request): its
        turns with the answers as shown, and the feedback given in it; None for an unknown id."""
        ...

    def close(self) -> None:
        """Release connections (the app calls this at shutdown); a later use opens them again."""
        ...


def export_record(
    conversation: str,
    created: str,
    turns: Sequence[tuple[int, str, str, dict[str, Any]]],
    feedback: Sequence[Feedback],
) -> dict[str, Any]:
    """The export of one conversation, the same from every store: ``turns`` as (number, created,
    question, answer record)."""
    return {
        "conversation": conversation,
        "created": created,
        "turns": [
            {"number": number, "created": when, "question": question, "answer": record}
            for number, when, question, record in turns
        ],
        "feedback": [f.to_dict() for f in feedback],
    }
