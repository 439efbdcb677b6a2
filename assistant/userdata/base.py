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
from typing import Any, Protocol

from ..errors import UserStoreError
from ..records import Answer

__all__ = [
    "Feedback",
    "StoredTurn",
    "UserStore",
    "UserStoreError",
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

    def close(self) -> None:
        """Release connections (the app calls this at shutdown); a later use opens them again."""
        ...
