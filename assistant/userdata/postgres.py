"""Conversations and feedback in PostgreSQL, for several servers (replicas) sharing one store.

Same behaviour as the SQLite store (``userdata.sqlite``): every write is a committed transaction before the
method returns, and a conversation's turns are numbered 1, 2, 3 … without gaps or doubles even when
two requests add to it at once (the conversation's row is locked while the next number is taken).
Connections come from a pool (``psycopg_pool``) opened on first use and shared by the worker threads;
each is checked before it is handed out, so a restarted database server costs no failed request.

The tables are created on first use, under a transaction-level advisory lock so that processes
starting together do not race on ``CREATE TABLE``. Any database failure (server unreachable, no free
connection within ``timeout``, wrong password) raises ``UserStoreError`` with a message that names
the server but never the password; the URL itself is kept in a ``SecretStr``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool
from pydantic import SecretStr

from ..errors import UserStoreError
from ..records import Answer
from .base import Deleted, Feedback, StoredTurn, export_record, new_conversation_id

__all__ = ["PostgresUserStore"]

log = logging.getLogger(__name__)

_TABLES = ("conversations", "turns", "feedback")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id),
    number INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (conversation, number)
);
CREATE TABLE IF NOT EXISTS feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created TIMESTAMPTZ NOT NULL,
    helpful BOOLEAN NOT NULL,
    comment TEXT NOT NULL,
    question TEXT NOT NULL,
    passages TEXT[] NOT NULL,
    conversation TEXT,
    turn INTEGER,
    build_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_turn ON feedback (conversation, turn);
"""
# The answer record stays JSON text, as in SQLite: it round-trips byte for byte (jsonb would rewrite
# numbers and reject what Python's json writes for NaN).

#: Key of the advisory lock held while the tables are created (any constant unique to this program).
_SCHEMA_LOCK = 0x514D_5553_4552_44  # "QMUSERD"


class PostgresUserStore:
    """Conversations and feedback in a PostgreSQL database.

    ``PostgresUserStore(SecretStr("postgresql://qm:secret@db.example/qm"), max_size=8, timeout=5)``:
    at most ``max_size`` connections (one per answering thread is enough); a request waits at most
    ``timeout`` seconds for one before ``UserStoreError``.
    """

    def __init__(self, url: SecretStr | str, *, max_size: int = 8, timeout: float = 5.0) -> None:
        self._url = url if isinstance(url, SecretStr) else SecretStr(url)
        self._max_size = max(1, max_size)
        self._timeout = timeout
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self._schema_ready = False

    @property
    def where(self) -> str:
        try:
            parts = conninfo_to_dict(self._url.get_secret_value())
        except psycopg.Error:
            return "PostgreSQL"
        shown = " ".join(
            f"{key}={parts[key]}" for key in ("host", "port", "dbname", "user") if parts.get(key)
        )
        return f"PostgreSQL {shown}".rstrip()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # -- connections -----------------------------------------------------------------------------

    def _opened_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                # Opened without waiting: an unreachable server shows up as a timeout on the first
                # request (answered 503), not as a server that refuses to start.
                self._pool = ConnectionPool(
                    self._url.get_secret_value(),
                    min_size=1,
                    max_size=self._max_size,
                    timeout=self._timeout,
                    kwargs={"autocommit": True, "connect_timeout": max(1, round(self._timeout))},
                    check=ConnectionPool.check_connection,
                    name="userdata",
                    open=False,
                )
                self._pool.open(wait=False)
            return self._pool

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        """A connection in a transaction, committed when the block ends without an exception."""
        try:
            with self._opened_pool().connection() as connection:
                if not self._schema_ready:
                    self._create_schema(connection)
                    self._schema_ready = True
                with connection.transaction():
                    yield connection
        except psycopg.Error as exc:
            raise UserStoreError(self._scrub(exc)) from exc

    def _create_schema(self, connection: psycopg.Connection) -> None:
        (exists,) = connection.execute(
            "SELECT " + " AND ".join(f"to_regclass('{table}') IS NOT NULL" for table in _TABLES)
        ).fetchone() or (False,)
        if exists:  # also lets a role without CREATE rights use tables an administrator made
            return
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            connection.execute(_SCHEMA)

    def _scrub(self, exc: Exception) -> str:
        """The error's message with the password cut out, should libpq ever quote the connection string."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        secret = self._url.get_secret_value()
        try:
            password = conninfo_to_dict(secret).get("password")
        except psycopg.Error:
            password = None
        for hidden in (secret, password):
            if hidden:
                text = text.replace(str(hidden), "***")
        return text

    # -- conversations ---------------------------------------------------------------------------

    def add_turn(self, conversation: str | None, answer: Answer) -> tuple[str, int]:
        """Store a question with its answer; ``None`` starts a new conversation. Returns (id, number)."""
        now = _now()
        with self._transaction() as db:
            if conversation is None:
                conversation = new_conversation_id()
                db.execute("INSERT INTO conversations (id, created) VALUES (%s, %s)", (conversation, now))
            # The row lock makes concurrent additions to one conversation take their numbers in turn.
            elif (
                db.execute("SELECT 1 FROM conversations WHERE id = %s FOR UPDATE", (conversation,)).fetchone()
                is None
            ):
                raise KeyError(conversation)
            (count,) = db.execute(
                "SELECT COUNT(*) FROM turns WHERE conversation = %s", (conversation,)
            ).fetchone() or (0,)
            number = count + 1
            db.execute(
                "INSERT INTO turns (conversation, number, question, answer, created) "
                "VALUES (%s, %s, %s, %s, %s)",
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
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE turns SET answer = %s WHERE conversation = %s AND number = %s",
                (json.dumps(answer.to_record(), ensure_ascii=False), conversation, number),
            ).rowcount
        return changed == 1

    def conversation(self, conversation: str) -> list[StoredTurn] | None:
        """The turns of a conversation, oldest first; ``None`` when there is no such conversation."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM conversations WHERE id = %s", (conversation,)).fetchone() is None:
                return None
            rows = db.execute(
                """SELECT t.number, t.answer,
                          (SELECT f.helpful FROM feedback f WHERE f.conversation = t.conversation
                           AND f.turn = t.number ORDER BY f.id DESC LIMIT 1)
                   FROM turns t WHERE t.conversation = %s ORDER BY t.number""",
                (conversation,),
            ).fetchall()
        return [
            StoredTurn(number, Answer.from_record(json.loads(record)), rated)
            for number, record, rated in rows
        ]

    def questions(self, conversation: str) -> list[str] | None:
        """Just the questions, oldest first (the history of a follow-up), without decoding answers."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM conversations WHERE id = %s", (conversation,)).fetchone() is None:
                return None
            rows = db.execute(
                "SELECT question FROM turns WHERE conversation = %s ORDER BY number", (conversation,)
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
        with self._transaction() as db:
            row = db.execute(
                """INSERT INTO feedback
                   (created, helpful, comment, question, passages, conversation, turn, build_id)
                   VALUES (%s, %s, %s, %s, %s::text[], %s, %s, %s) RETURNING id""",
                (now, helpful, comment, question, list(passages), conversation, turn, build_id),
            ).fetchone()
        assert row is not None
        return Feedback(
            row[0], _iso(now), helpful, comment, question, tuple(passages), conversation, turn, build_id
        )

    def feedback(self, *, limit: int | None = None, offset: int = 0) -> list[Feedback]:
        """Feedback, newest first."""
        with self._transaction() as db:
            rows = db.execute(
                """SELECT id, created, helpful, comment, question, passages, conversation, turn, build_id
                   FROM feedback ORDER BY id DESC LIMIT %s OFFSET %s""",
                (limit, offset),  # LIMIT NULL: no limit
            ).fetchall()
        return [Feedback(r[0], _iso(r[1]), r[2], r[3], r[4], tuple(r[5]), r[6], r[7], r[8]) for r in rows]

    # -- data protection -------------------------------------------------------------------------

    def delete_conversation(self, conversation: str) -> Deleted:
        """Delete a conversation, its turns and the feedback given in it."""
        with self._transaction() as db:
            deleted = _delete(db, [conversation])
        self._vacuum(deleted)
        return deleted

    def purge(self, before: datetime) -> Deleted:
        """Delete conversations last used before ``before`` and feedback given before it."""
        with self._transaction() as db:
            rows = db.execute(
                """SELECT c.id FROM conversations c
                   WHERE COALESCE((SELECT MAX(t.created) FROM turns t WHERE t.conversation = c.id),
                                  c.created) < %s
                   FOR UPDATE""",
                (before,),
            ).fetchall()
            deleted = _delete(db, [r[0] for r in rows])
            old = db.execute("DELETE FROM feedback WHERE created < %s", (before,)).rowcount
        deleted = Deleted(deleted.conversations, deleted.turns, deleted.feedback + old)
        self._vacuum(deleted)
        return deleted

    def export(self, conversation: str) -> dict[str, Any] | None:
        with self._transaction() as db:
            row = db.execute("SELECT created FROM conversations WHERE id = %s", (conversation,)).fetchone()
            if row is None:
                return None
            turns = db.execute(
                "SELECT number, created, question, answer FROM turns WHERE conversation = %s ORDER BY number",
                (conversation,),
            ).fetchall()
            feedback = db.execute(
                """SELECT id, created, helpful, comment, question, passages, conversation, turn, build_id
                   FROM feedback WHERE conversation = %s ORDER BY id""",
                (conversation,),
            ).fetchall()
        return export_record(
            conversation,
            _iso(row[0]),
            [
                (number, _iso(created), question, json.loads(answer))
                for number, created, question, answer in turns
            ],
            [Feedback(r[0], _iso(r[1]), r[2], r[3], r[4], tuple(r[5]), r[6], r[7], r[8]) for r in feedback],
        )

    def _vacuum(self, deleted: Deleted) -> None:
        """VACUUM after a deletion, so the deleted rows' space is reclaimed rather than left as dead
        rows (the bytes stay in free space and in the server's WAL until reused; see docs/operations.md)."""
        if deleted == Deleted():
            return
        try:
            with self._opened_pool().connection() as connection:  # autocommit: VACUUM needs it
                connection.execute("VACUUM " + ", ".join(_TABLES))
        except psycopg.Error as exc:  # the rows are deleted either way
            log.warning("VACUUM after a deletion failed: %s", self._scrub(exc))


def _delete(db: psycopg.Connection, conversations: Sequence[str]) -> Deleted:
    """Delete ``conversations`` with their turns and their feedback."""
    if not conversations:
        return Deleted()
    ids = list(conversations)
    feedback = db.execute("DELETE FROM feedback WHERE conversation = ANY(%s)", (ids,)).rowcount
    turns = db.execute("DELETE FROM turns WHERE conversation = ANY(%s)", (ids,)).rowcount
    found = db.execute("DELETE FROM conversations WHERE id = ANY(%s)", (ids,)).rowcount
    return Deleted(found, turns, feedback)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    """The same text the SQLite store keeps: ISO 8601 in UTC, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
