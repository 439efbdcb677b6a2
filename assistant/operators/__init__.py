"""The operator area's back end: operators with passwords, sessions and tokens (``store``), uploads
checked before they are stored (``uploads``, read in a ``sandbox`` process), builds started from the
browser (``builds``) and the audit log of what operators did.

``open_operator_store(settings)`` uses the database of conversations and feedback: PostgreSQL when
``Settings.database_url`` is set, else the SQLite file ``Settings.database``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .db import PostgresDatabase, SQLiteDatabase
from .store import AuditEntry, BuildState, Operator, OperatorStore, UploadRecord

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "AuditEntry",
    "BuildState",
    "Operator",
    "OperatorStore",
    "UploadRecord",
    "open_operator_store",
]


def open_operator_store(settings: Settings) -> OperatorStore:
    """The configured store; nothing is connected or created before first use."""
    session_seconds = settings.session_hours * 3600
    if settings.database_url is not None:
        return OperatorStore(
            PostgresDatabase(settings.database_url, timeout=settings.database_timeout),
            session_seconds=session_seconds,
        )
    return OperatorStore(SQLiteDatabase(settings.database), session_seconds=session_seconds)
