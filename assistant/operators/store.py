"""Operators, their sessions and tokens, uploads, builds and the audit log: ``OperatorStore``.

Passwords are hashed with Argon2id (argon2-cffi, its default RFC 9106 parameters). Tokens and session
ids are 256-bit random strings, shown once and stored only as SHA-256 digests: a stolen database holds
nothing that logs in. Failed logins slow the next attempt down, per name and per client network,
doubling from the fifth failure (1 s, 2 s, 4 s … at most 15 minutes); the slow-down is stored, so it
holds across server processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import InvalidInput, LoginRefused
from .db import Database

__all__ = [
    "AuditEntry",
    "BuildState",
    "Operator",
    "OperatorStore",
    "UploadRecord",
    "check_operator_name",
    "check_password",
    "fold_name",
]

_hasher = PasswordHasher()
#: A hash to verify against when the name is unknown, so that the answer takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))

FREE_FAILURES = 4  # failed logins before the slow-down starts
MAX_DELAY = 15 * 60.0
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
TOKEN_PREFIX = "qmv_"
INTERRUPTED = "Der Neubau wurde unterbrochen (Server neu gestartet?); der bisherige Stand bleibt in Betrieb."


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def fold_name(name: str) -> str:
    """The form two names are compared in: Unicode-normalised (NFKC) and case-folded."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_operator_name(name: str) -> str:
    """The operator name as stored; InvalidInput (German) when it is empty, long or has odd characters."""
    name = unicodedata.normalize("NFC", name.strip())
    if not 1 <= len(name) <= 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise InvalidInput(
            "Der Name muss 1 bis 64 Zeichen lang sein und darf nur Buchstaben, Ziffern und . _ - @ enthalten."
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Das Passwort muss mindestens {MIN_PASSWORD} Zeichen lang sein.")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"Das Passwort darf höchstens {MAX_PASSWORD} Zeichen lang sein.")
    return password


@dataclass(frozen=True)
class Operator:
    """Who is acting: the operator's name, how they signed in, and their session's form token."""

    name: str
    via: Literal["session", "token"]
    csrf: str = ""


@dataclass(frozen=True)
class UploadRecord:
    name: str
    added_by: str
    added: float
    size: int
    sha256: str
    report: dict[str, Any]  # how it was read when uploaded: format, pages, passages, warnings, lines


@dataclass(frozen=True)
class BuildState:
    id: str
    started_by: str
    started: float
    finished: float | None
    state: Literal["running", "done", "failed"]
    phase: str
    done: int
    total: int
    message: str
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "started_by": self.started_by,
            "started": self.started,
            "finished": self.finished,
            "result": self.result,
        }


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    target: str


class OperatorStore:
    """The operator area's data over one ``Database`` (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, *, session_seconds: float = 8 * 3600) -> None:
        self.db = db
        self.session_seconds = session_seconds

    @property
    def where(self) -> str:
        return self.db.where

    def close(self) -> None:
        self.db.close()

    # -- operators -------------------------------------------------------------------------------

    def add_operator(self, name: str, password: str, *, replace: bool = False) -> bool:
        """Create the operator (or, with ``replace``, set a new password); False when the name is
        taken and ``replace`` is not set. Setting a password ends the operator's sessions."""
        name = check_operator_name(name)
        hashed = _hasher.hash(check_password(password))
        with self.db.transaction() as db:
            exists = db.execute("SELECT 1 FROM operators WHERE name = ?", (name,))
            if exists and not replace:
                return False
            db.execute(
                "INSERT INTO operators (name, password_hash, created) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
                (name, hashed, time.time()),
            )
            db.execute("DELETE FROM operator_sessions WHERE name = ?", (name,))
        return True

    def remove_operator(self, name: str) -> bool:
        """Remove the operator with their sessions and tokens; False when there is none."""
        with self.db.transaction() as db:
            db.execute("DELETE FROM operator_sessions WHERE name = ?", (name,))
            db.execute("DELETE FROM operator_tokens WHERE name = ?", (name,))
            db.execute("DELETE FROM operators WHERE name = ?", (name,))
            return db.changed == 1

    def operators(self) -> list[str]:
        with self.db.transaction() as db:
            return [name for (name,) in db.execute("SELECT name FROM operators ORDER BY name")]

    # -- logging in ------------------------------------------------------------------------------

    def login(
        self, name: str, password: str, client: str, *, now: float | None = None
    ) -> tuple[str, Operator]:
        """A new session for a correct name and password: (session secret for the cookie, operator).

        Raises ``LoginRefused`` for a wrong name or password (the same either way, and after the same
        work), and with ``wait`` > 0 while a slow-down from earlier failures lasts; an attempt then is
        not even checked. Slow: Argon2 takes a tenth of a second on purpose; call it off the event loop.
        """
        now = time.time() if now is None else now
        keys = (f"name:{fold_name(name)[:200]}", f"client:{client}")
        wait = self._wait(keys, now)
        if wait > 0:
            raise LoginRefused(wait, checked=False)
        with self.db.transaction() as db:
            rows = db.execute("SELECT name, password_hash FROM operators WHERE name = ?", (name[:200],))
        stored = rows[0][1] if rows else _DUMMY_HASH
        try:
            _hasher.verify(stored, password[:MAX_PASSWORD])
            ok = bool(rows)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            self._failed(keys, now)
            raise LoginRefused(self._wait(keys, now))
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.db.transaction() as db:
            for key in keys:
                db.execute("DELETE FROM login_failures WHERE key = ?", (key,))
            if _hasher.check_needs_rehash(stored):
                db.execute(
                    "UPDATE operators SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name)
                )
            db.execute("DELETE FROM operator_sessions WHERE expires < ?", (now,))
            db.execute(
                "INSERT INTO operator_sessions (digest, name, csrf, created, expires) VALUES (?, ?, ?, ?, ?)",
                (_digest(secret), rows[0][0], csrf, now, now + self.session_seconds),
            )
        return secret, Operator(rows[0][0], "session", csrf)

    def _wait(self, keys: tuple[str, ...], now: float) -> float:
        with self.db.transaction() as db:
            found = [
                db.execute("SELECT failures, last FROM login_failures WHERE key = ?", (k,)) for k in keys
            ]
        waits = [
            rows[0][1] + min(MAX_DELAY, 2.0 ** (rows[0][0] - FREE_FAILURES - 1)) - now
            for rows in found
            if rows and rows[0][0] > FREE_FAILURES
        ]
        return max([0.0, *waits])

    def _failed(self, keys: tuple[str, ...], now: float) -> None:
        with self.db.transaction() as db:
            db.execute("DELETE FROM login_failures WHERE last < ?", (now - 24 * 3600,))
            for key in keys:
                db.execute(
                    "INSERT INTO login_failures (key, failures, last) VALUES (?, 1, ?) "
                    "ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1, last = ?",
                    (key, now, now),
                )

    def session(self, secret: str, *, now: float | None = None) -> Operator | None:
        """The operator of a live session, or None."""
        if not secret or len(secret) > 200:
            return None
        now = time.time() if now is None else now
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT s.name, s.csrf FROM operator_sessions s JOIN operators o ON o.name = s.name "
                "WHERE s.digest = ? AND s.expires > ?",
                (_digest(secret), now),
            )
        return Operator(rows[0][0], "session", rows[0][1]) if rows else None

    def logout(self, secret: str) -> None:
        with self.db.transaction() as db:
            db.execute("DELETE FROM operator_sessions WHERE digest = ?", (_digest(secret),))

    def new_token(self, name: str) -> str:
        """A new API token for the operator, returned once (only its digest is kept). KeyError when
        there is no such operator."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction() as db:
            if not db.execute("SELECT 1 FROM operators WHERE name = ?", (name,)):
                raise KeyError(name)
            db.execute(
                "INSERT INTO operator_tokens (digest, name, created) VALUES (?, ?, ?)",
                (_digest(token), name, time.time()),
            )
        return token

    def token(self, token: str) -> Operator | None:
        """The operator a bearer token belongs to, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT t.name FROM operator_tokens t JOIN operators o ON o.name = t.name WHERE t.digest = ?",
                (_digest(token),),
            )
        return Operator(rows[0][0], "token") if rows else None

    def revoke_tokens(self, name: str) -> int:
        with self.db.transaction() as db:
            db.execute("DELETE FROM operator_tokens WHERE name = ?", (name,))
            return db.changed

    @staticmethod
    def csrf_matches(operator: Operator, sent: str) -> bool:
        return bool(operator.csrf) and hmac.compare_digest(operator.csrf.encode(), sent.encode("utf-8"))

    # -- uploads ---------------------------------------------------------------------------------

    def add_upload(self, record: UploadRecord) -> bool:
        """Record an upload; False when a file of that name (compared folded) is recorded already."""
        with self.db.transaction() as db:
            if db.execute("SELECT 1 FROM uploads WHERE folded = ?", (fold_name(record.name),)):
                return False  # checked again here, in the transaction that writes
            db.execute(
                "INSERT INTO uploads (name, folded, added_by, added, size, sha256, report) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.name,
                    fold_name(record.name),
                    record.added_by,
                    record.added,
                    record.size,
                    record.sha256,
                    json.dumps(record.report, ensure_ascii=False),
                ),
            )
        return True

    def uploads(self) -> list[UploadRecord]:
        with self.db.transaction() as db:
            rows = db.execute(f"SELECT {_UPLOAD_COLUMNS} FROM uploads ORDER BY name")
        return [_upload_record(row) for row in rows]

    def upload(self, name: str) -> UploadRecord | None:
        with self.db.transaction() as db:
            rows = db.execute(f"SELECT {_UPLOAD_COLUMNS} FROM uploads WHERE name = ?", (name,))
        return _upload_record(rows[0]) if rows else None

    def upload_name_taken(self, name: str) -> bool:
        """Whether an upload has this name, compared folded (case, Unicode normalisation)."""
        with self.db.transaction() as db:
            return bool(db.execute("SELECT 1 FROM uploads WHERE folded = ?", (fold_name(name),)))

    def remove_upload(self, name: str) -> bool:
        with self.db.transaction() as db:
            db.execute("DELETE FROM uploads WHERE name = ?", (name,))
            return db.changed == 1

    # -- builds ----------------------------------------------------------------------------------

    def start_build(self, started_by: str, *, stale_after: float) -> tuple[BuildState, bool]:
        """A new build in state "running", or the one already running: (state, whether new). A
        "running" build not heard from for ``stale_after`` seconds (its server died) counts as failed."""
        now = time.time()
        with self.db.transaction() as db:
            db.execute(  # no literal text in the SQL: "?" is rewritten for psycopg
                "UPDATE builds SET state = 'failed', finished = ?, message = ? "
                "WHERE state = 'running' AND COALESCE(finished, started) < ?",
                (now, INTERRUPTED, now - stale_after),
            )
            running = db.execute("SELECT id FROM builds WHERE state = 'running'")
            if running:
                build_id, new = running[0][0], False
            else:
                build_id, new = uuid.uuid4().hex[:16], True
                db.execute(
                    "INSERT INTO builds (id, started_by, started, finished, state, phase, done, total, "
                    "message, result) VALUES (?, ?, ?, ?, 'running', 'starting', 0, 0, '', '{}')",
                    (build_id, started_by, now, now),
                )
        state = self.build(build_id)
        assert state is not None
        return state, new

    def update_build(
        self,
        build_id: str,
        *,
        phase: str | None = None,
        done: int = 0,
        total: int = 0,
        state: str = "running",
        message: str = "",
        result: dict[str, Any] | None = None,
    ) -> None:
        """Progress (``finished`` doubles as "last heard of" while running) or the end of a build."""
        with self.db.transaction() as db:
            db.execute(
                "UPDATE builds SET phase = COALESCE(?, phase), done = ?, total = ?, state = ?, "
                "message = ?, result = COALESCE(?, result), finished = ? WHERE id = ?",
                (
                    phase,
                    done,
                    total,
                    state,
                    message,
                    None if result is None else json.dumps(result, ensure_ascii=False),
                    time.time(),
                    build_id,
                ),
            )

    def build(self, build_id: str) -> BuildState | None:
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT id, started_by, started, finished, state, phase, done, total, message, result "
                "FROM builds WHERE id = ?",
                (build_id,),
            )
        return _build_state(rows[0]) if rows else None

    def builds(self, limit: int = 10) -> list[BuildState]:
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT id, started_by, started, finished, state, phase, done, total, message, result "
                "FROM builds ORDER BY started DESC LIMIT ?",
                (limit,),
            )
        return [_build_state(row) for row in rows]

    # -- audit log -------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str = "") -> None:
        """Record an operator action (never a visitor's data)."""
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO audit (id, at, actor, action, target) VALUES (?, ?, ?, ?, ?)",
                (uuid.uuid4().hex, time.time(), actor[:200], action, target[:500]),
            )

    def audit_log(self, *, limit: int = 200, offset: int = 0) -> list[AuditEntry]:
        with self.db.transaction() as db:
            rows = db.execute(
                "SELECT at, actor, action, target FROM audit ORDER BY at DESC LIMIT ? OFFSET ?",
                (limit, offset),
            )
        return [AuditEntry(*row) for row in rows]

    def purge_audit(self, before: float) -> int:
        """Delete audit entries and finished builds older than ``before`` (seconds since the epoch)."""
        with self.db.transaction() as db:
            db.execute("DELETE FROM audit WHERE at < ?", (before,))
            deleted = db.changed
            db.execute("DELETE FROM builds WHERE state <> 'running' AND started < ?", (before,))
            db.execute("DELETE FROM operator_sessions WHERE expires < ?", (time.time(),))
        return deleted


_UPLOAD_COLUMNS = "name, added_by, added, size, sha256, report"


def _upload_record(row: tuple[Any, ...]) -> UploadRecord:
    name, added_by, added, size, sha256, report = row
    return UploadRecord(name, added_by, added, size, sha256, json.loads(report))


def _build_state(row: tuple[Any, ...]) -> BuildState:
    build_id, by, started, finished, state, phase, done, total, message, result = row
    return BuildState(build_id, by, started, finished, state, phase, done, total, message, json.loads(result))
