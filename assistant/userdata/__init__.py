"""What users leave behind: conversations (each question with the answer shown) and feedback.

``UserStore`` (``base``) is the interface the web chat, the API and the CLI use;
``open_user_store(settings)`` picks the backend: PostgreSQL (``postgres``) when
``Settings.database_url`` is set, so that several servers share one store, else one SQLite file
(``sqlite``, ``Settings.database``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Feedback, StoredTurn, UserStore, UserStoreError, is_conversation_id, new_conversation_id
from .sqlite import SQLiteUserStore

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "Feedback",
    "SQLiteUserStore",
    "StoredTurn",
    "UserStore",
    "UserStoreError",
    "is_conversation_id",
    "new_conversation_id",
    "open_user_store",
]


def open_user_store(settings: Settings) -> UserStore:
    """The configured store: PostgreSQL when ``database_url`` is set, else the SQLite file ``database``.

    Nothing is connected or created here; that happens on first use::

        store = open_user_store(Settings(database=tmp_path / "store.sqlite3"))
    """
    if settings.database_url is not None:
        try:
            from .postgres import PostgresUserStore  # psycopg is imported only when configured
        except ImportError as exc:
            raise UserStoreError(
                "ASSISTANT_DATABASE_URL nennt eine PostgreSQL-Datenbank, aber psycopg ist nicht "
                "installiert: pip install 'qm-assistent[postgres]'"
            ) from exc

        return PostgresUserStore(
            settings.database_url, max_size=settings.threads, timeout=settings.database_timeout
        )
    return SQLiteUserStore(settings.database)
