"""Conversations and feedback in one SQLite file (``Settings.database``).

The file is created on the first write with permissions only its owner can read. Every write is a
committed transaction before the request that caused it is answered (WAL journal,
``synchronous=FULL``), so a restart or a crash loses nothing that was confirmed. Deleted text does not
linger: every connection sets ``secure_delete`` (freed space is overwritten with zeros), and a deletion
ends with a checkpoint that truncates the WAL file, which still held the old pages. Connections are
opened per operation: the store is shared by FastAPI's worker threads and by several server
processes without locks of our own.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import UserStoreError
from ..records import Answer
from .base import Deleted, Feedback, StoredTurn, export_record, new_conversation_id

__all__ = ["SQLiteUserStore", "connect"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id),
    number INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (conversation, number)
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    comment TEXT NOT NULL,
    question TEXT NOT NULL,
    passages TEXT NOT NULL,
    conversation TEXT,
    turn INTEGER,
    build_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_turn ON feedback (conversation, turn);
"""
_BUSY_TIMEOUT = 30.0  # seconds a write waits for another to finish


class SQLiteUserStore:
    """Conversations and feedback in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._schema_ready = False

    @property
    def where(self) -> str:
        return str(self.path)

    def close(self) -> None:
        pass  # connections live for one operation

    # -- connections -----------------------------------------------------------------------------

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection in a transaction, committed on success; ``None`` when reading a store that
        was never written (nothing is created just by looking)."""
        try:
            with self._transaction(write=write) as connection:
                yield connection
        except (sqlite3.Error, OSError) as exc:  # locked, unwritable, full disk, not a database
            raise UserStoreError(str(exc) or type(exc).__name__) from exc

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        if not write and not self.path.exists():
            yield None
            return
        connection = connect(self.path, create=write)
        try:
            if write:
                if not self._schema_ready:
                    connection.executescript(_SCHEMA)  # idempotent; other processes may race to it
                    self._schema_ready = True
                connection.execute("BEGIN IMMEDIATE")
            yield connection
            if connection.in_transaction:
                connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    # -- conversations ---------------------------------------------------------------------------

    def add_turn(self, conversation: str | None, answer: Answer) -> tuple[str, int]:
        """Store a question with its answer; ``None`` starts a new conversation. Returns (id, number)."""
        now = _now()
        with self._connect(write=True) as db:
            assert db is not None
            if conversation is None:
                conversation = new_conversation_id()
                db.execute("INSERT INTO conversations (id, created) VALUES (?, ?)", (conversation, now))
            elif db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation,)).fetchone() is None:
                raise KeyError(conversation)
            (count,) = db.execute(
                "SELECT COUNT(*) FROM turns WHERE conversation = ?", (conversation,)
            ).fetchone()
            number = count + 1
            db.execute(
                "INSERT INTO turns (conversation, number, question, answer, created) VALUES (?, ?, ?, ?, ?)",
                (
                    conversation,
                    number,
                    answer.question,
                    json.dumps(answer.to_record(), ensure_ascii=False),
                    now,
                ),
            )
        return conversation, number

    def replace_answer(self, conversation: str, number: int, answer: Answer) -> bool:
        """Store ``answer`` for an existing turn; False when there is no such turn."""
        with self._connect(write=True) as db:
            assert db is not None
            changed = db.execute(
                "UPDATE turns SET answer = ? WHERE conversation = ? AND number = ?",
                (json.dumps(answer.to_record(), ensure_ascii=False), conversation, number),
            ).rowcount
        return changed == 1

    def conversation(self, conversation: str) -> list[StoredTurn] | None:
        """The turns of a conversation, oldest first; ``None`` when there is no such conversation."""
        with self._connect(write=False) as db:
            if db is None or not _has_tables(db):
                return None
            if db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation,)).fetchone() is None:
                return None
            rows = db.execute(
                """SELECT t.number, t.answer,
                          (SELECT f.helpful FROM feedback f WHERE f.conversation = t.conversation
                           AND f.turn = t.number ORDER BY f.id DESC LIMIT 1)
                   FROM turns t WHERE t.conversation = ? ORDER BY t.number""",
                (conversation,),
            ).fetchall()
        return [
            StoredTurn(number, Answer.from_record(json.loads(record)), None if rated is None else bool(rated))
            for number, record, rated in rows
        ]

    def questions(self, conversation: str) -> list[str] | None:
        """Just the questions, oldest first (the history of a follow-up), without decoding answers."""
        with self._connect(write=False) as db:
            if db is None or not _has_tables(db):
                return None
            if db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation,)).fetchone() is None:
                return None
            rows = db.execute(
                "SELECT question FROM turns WHERE conversation = ? ORDER BY number", (conversation,)
            ).fetchall()
        return [question for (question,) in rows]

    # -- feedback --------------------------------------------------------------------------------

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
    ) -> Feedback:
        now = _now()
        with self._connect(write=True) as db:
            assert db is not None
            cursor = db.execute(
                """INSERT INTO feedback
                   (created, helpful, comment, question, passages, conversation, turn, build_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    now,
                    int(helpful),
                    comment,
                    question,
                    json.dumps(list(passages)),
                    conversation,
                    turn,
                    build_id,
                ),
            )
            feedback_id = cursor.lastrowid
        assert feedback_id is not None
        return Feedback(
            feedback_id, now, helpful, comment, question, tuple(passages), conversation, turn, build_id
        )

    def feedback(self, *, limit: int | None = None, offset: int = 0) -> list[Feedback]:
        """Feedback, newest first."""
        with self._connect(write=False) as db:
            if db is None or not _has_tables(db):
                return []
            rows = db.execute(
                """SELECT id, created, helpful, comment, question, passages, conversation, turn, build_id
                   FROM feedback ORDER BY id DESC LIMIT ? OFFSET ?""",
                (-1 if limit is None else limit, offset),
            ).fetchall()
        return [
            Feedback(r[0], r[1], bool(r[2]), r[3], r[4], tuple(json.loads(r[5])), r[6], r[7], r[8])
            for r in rows
        ]

    # -- data protection -------------------------------------------------------------------------

    def delete_conversation(self, conversation: str) -> Deleted:
        """Delete a conversation, its turns and the feedback given in it."""
        with self._connect(write=True) as db:
            assert db is not None
            deleted = _delete(db, "SELECT ?", (conversation,))
        self._truncate_wal(deleted)
        return deleted

    def purge(self, before: datetime) -> Deleted:
        """Delete conversations last used before ``before`` and feedback given before it."""
        cutoff = before.astimezone(UTC).isoformat(timespec="seconds")
        with self._connect(write=True) as db:
            assert db is not None
            deleted = _delete(
                db,
                """SELECT c.id FROM conversations c
                   WHERE COALESCE((SELECT MAX(t.created) FROM turns t WHERE t.conversation = c.id),
                                  c.created) < ?""",
                (cutoff,),
            )
            old = db.execute("DELETE FROM feedback WHERE created < ?", (cutoff,)).rowcount
            deleted = Deleted(deleted.conversations, deleted.turns, deleted.feedback + old)
        self._truncate_wal(deleted)
        return deleted

    def export(self, conversation: str) -> dict[str, Any] | None:
        with self._connect(write=False) as db:
            if db is None or not _has_tables(db):
                return None
            row = db.execute("SELECT created FROM conversations WHERE id = ?", (conversation,)).fetchone()
            if row is None:
                return None
            turns = db.execute(
                "SELECT number, created, question, answer FROM turns WHERE conversation = ? ORDER BY number",
                (conversation,),
            ).fetchall()
            feedback = db.execute(
                """SELECT id, created, helpful, comment, question, passages, conversation, turn, build_id
                   FROM feedback WHERE conversation = ? ORDER BY id""",
                (conversation,),
            ).fetchall()
        return export_record(
            conversation,
            row[0],
            [(number, created, question, json.loads(answer)) for number, created, question, answer in turns],
            [
                Feedback(r[0], r[1], bool(r[2]), r[3], r[4], tuple(json.loads(r[5])), r[6], r[7], r[8])
                for r in feedback
            ],
        )

    def _truncate_wal(self, deleted: Deleted) -> None:
        """Truncate the WAL after a deletion: its frames still hold the pages as they were. A reader
        holding an old snapshot can keep the checkpoint from finishing; the next deletion retries."""
        if deleted == Deleted():
            return
        with self._connect(write=False) as db:
            if db is not None:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()


def _delete(db: sqlite3.Connection, select_ids: str, parameters: tuple[object, ...]) -> Deleted:
    """Delete the conversations ``select_ids`` selects, with their turns and their feedback."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM doomed")
    db.execute(f"INSERT INTO doomed {select_ids}", parameters)
    feedback = db.execute("DELETE FROM feedback WHERE conversation IN (SELECT id FROM doomed)").rowcount
    turns = db.execute("DELETE FROM turns WHERE conversation IN (SELECT id FROM doomed)").rowcount
    conversations = db.execute("DELETE FROM conversations WHERE id IN (SELECT id FROM doomed)").rowcount
    db.execute("DELETE FROM doomed")
    return Deleted(conversations, turns, feedback)


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection to the SQLite file at ``path`` as every store of this project uses one: WAL
    journal, full sync, foreign keys, secure delete, waiting up to 30 s for another writer, no
    implicit transactions. With ``create`` a missing file is made first, owner-only (SQLite gives its
    -wal/-shm files the same mode). Raises ``sqlite3.Error`` or ``OSError``."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, isolation_level=None)
    try:
        _use_wal(connection)
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA secure_delete=ON")
    except BaseException:
        connection.close()
        raise
    return connection


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to the WAL journal (the mode stays in the file). The switch takes an exclusive lock
    without waiting for it, so processes making their first write to a new file together would fail
    with 'database is locked': they try again for as long as a busy connection is waited for."""
    deadline = time.monotonic() + _BUSY_TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _has_tables(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'feedback'").fetchone() is not None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
