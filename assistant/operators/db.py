"""The operator area's tables, in the same database as conversations and feedback: one SQLite file
(``Settings.database``) or PostgreSQL (``Settings.database_url``), so several servers share operators,
sessions, builds and the audit log.

Both backends run the same SQL: ``?`` placeholders (rewritten to ``%s`` for psycopg), times as
seconds since the epoch in DOUBLE PRECISION, and ``INSERT … ON CONFLICT`` (SQLite 3.24+). Every
write is a committed transaction before the call returns; failures become ``UserStoreError``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from ..errors import UserStoreError
from ..userdata.sqlite import connect

__all__ = ["SCHEMA", "Database", "PostgresDatabase", "Rows", "SQLiteDatabase"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS operators (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS operator_tokens (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS operator_sessions (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    name TEXT PRIMARY KEY,
    folded TEXT NOT NULL UNIQUE,
    added_by TEXT NOT NULL,
    added DOUBLE PRECISION NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS builds (
    id TEXT PRIMARY KEY,
    started_by TEXT NOT NULL,
    started DOUBLE PRECISION NOT NULL,
    finished DOUBLE PRECISION,
    state TEXT NOT NULL,
    phase TEXT NOT NULL,
    done BIGINT NOT NULL,
    total BIGINT NOT NULL,
    message TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL
);
-- At most one build runs at a time, whichever server started it.
CREATE UNIQUE INDEX IF NOT EXISTS one_running_build ON builds (state) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
"""
_TABLES = (
    "operators",
    "operator_tokens",
    "operator_sessions",
    "login_failures",
    "uploads",
    "builds",
    "audit",
)


class Rows(Protocol):
    """What a transaction offers: ``execute`` returns the rows a statement gives (empty for writes)
    and ``changed`` the rows the last write touched."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @property
    def changed(self) -> int: ...


class Database(Protocol):
    @property
    def where(self) -> str: ...

    def transaction(self) -> AbstractContextManager[Rows]: ...

    def close(self) -> None: ...


class _Cursor:
    def __init__(self, connection: Any, rewrite: bool) -> None:
        self.connection = connection
        self.rewrite = rewrite
        self.changed = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.execute(sql.replace("?", "%s") if self.rewrite else sql, tuple(params))
        self.changed = cursor.rowcount
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


class SQLiteDatabase:
    """The tables in the SQLite file of conversations and feedback (created owner-only)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._schema_ready = False

    @property
    def where(self) -> str:
        return str(self.path)

    def close(self) -> None:
        pass  # connections live for one transaction

    @contextmanager
    def transaction(self) -> Iterator[Rows]:
        try:
            connection = connect(self.path, create=True)
        except (sqlite3.Error, OSError) as exc:
            raise UserStoreError(str(exc) or type(exc).__name__) from exc
        try:
            if not self._schema_ready:
                connection.executescript(SCHEMA)  # idempotent
                self._schema_ready = True
            connection.execute("BEGIN IMMEDIATE")
            yield _Cursor(connection, rewrite=False)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise UserStoreError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()


#: Key of the advisory lock held while the tables are created ("QMOPER").
_SCHEMA_LOCK = 0x514D_4F50_4552


class PostgresDatabase:
    """The tables in the PostgreSQL database of conversations and feedback, over a small pool."""

    def __init__(self, url: SecretStr, *, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._pool: Any = None
        self._schema_ready = False

    @property
    def where(self) -> str:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(self._url.get_secret_value())
        return f"PostgreSQL {info.get('host', 'localhost')}/{info.get('dbname', '')}"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @contextmanager
    def transaction(self) -> Iterator[Rows]:
        import psycopg
        from psycopg_pool import ConnectionPool

        if self._pool is None:
            self._pool = ConnectionPool(
                self._url.get_secret_value(),
                min_size=0,
                max_size=4,
                timeout=self._timeout,
                check=ConnectionPool.check_connection,
                open=False,
            )
            self._pool.open(wait=False)
        try:
            with self._pool.connection() as connection:
                if not self._schema_ready:
                    with connection.transaction():
                        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                        connection.execute(SCHEMA)
                    self._schema_ready = True
                with connection.transaction():
                    yield _Cursor(connection, rewrite=True)
        except psycopg.Error as exc:
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserStoreError(text.replace(self._url.get_secret_value(), "***")) from exc
        except Exception as exc:
            if type(exc).__name__ == "PoolTimeout":
                raise UserStoreError("keine Datenbankverbindung frei oder Server nicht erreichbar") from exc
            raise


def tables() -> tuple[str, ...]:
    """The tables this module creates (for tests that clean a shared database)."""
    return _TABLES
