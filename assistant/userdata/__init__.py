"""What users leave behind: conversations (each question with the answer shown) and feedback.

``UserStore`` (``base``) is the interface the web chat, the API and the CLI use;
``open_user_store(settings)`` picks the backend: PostgreSQL (``postgres``) when
``Settings.database_url`` is set, so that several servers share one store, else one SQLite file
(``sqlite``, ``Settings.database``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import UserStoreError
from .base import (
    Deleted,
    Feedback,
    StoredTurn,
    UserStore,
    is_conversation_id,
    new_conversation_id,
)
from .sqlite import SQLiteUserStore

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)

__all__ = [
    "Deleted",
    "Feedback",
    "SQLiteUserStore",
    "StoredTurn",
    "UserStore",
    "is_conversation_id",
    "new_conversation_id",
    "open_user_store",
    "purge_expired",
    "purge_periodically",
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


def purge_expired(store: UserStore, days: int, *, now: datetime | None = None) -> Deleted:
    """Delete conversations and feedback older than ``days`` (the retention period); with 0 days,
    everything (the stores keep times to the second, so "older than now" would spare this second)."""
    now = now or datetime.now(UTC)
    return store.purge(now - timedelta(days=days) if days > 0 else now + timedelta(days=1))


async def purge_periodically(store: UserStore, days: int, interval: float) -> None:
    """The server's own retention: ``purge_expired`` at start and every ``interval`` seconds, in a
    worker thread. A store that cannot be reached is tried again at the next interval. Logs counts only."""
    import anyio

    while True:
        try:
            deleted = await anyio.to_thread.run_sync(purge_expired, store, days)
            if deleted != Deleted():
                log.info("retention (%d days): deleted %s", days, deleted)
        except UserStoreError as exc:
            log.warning("retention: the store could not be purged now (%s); trying again later", exc)
        await anyio.sleep(interval)
