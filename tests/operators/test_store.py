"""The operator store on SQLite and on PostgreSQL: passwords, sessions, tokens, the slow-down after
failed logins, one running build at a time, and the audit log's retention."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from assistant.errors import InvalidInput, LoginRefused
from assistant.operators import OperatorStore
from assistant.operators.db import PostgresDatabase, SQLiteDatabase, tables
from assistant.operators.store import FREE_FAILURES, MAX_DELAY

PASSWORD = "ein-langes-Passwort-17"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OperatorStore]:
    if request.param == "sqlite":
        yield OperatorStore(SQLiteDatabase(tmp_path / "store.sqlite3"))
        return
    url = request.getfixturevalue("postgres_url")
    with psycopg.connect(url, autocommit=True) as connection:
        for table in tables():
            connection.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    operators = OperatorStore(PostgresDatabase(SecretStr(url), timeout=5))
    yield operators
    operators.close()


def test_a_password_logs_in_and_the_session_ends_with_logout(store: OperatorStore) -> None:
    assert store.add_operator("anna", PASSWORD)
    assert not store.add_operator("anna", "ein-anderes-Passwort-1"), "a second add must not overwrite"
    secret, operator = store.login("anna", PASSWORD, "10.0.0.1")
    assert operator.name == "anna" and operator.csrf
    assert store.session(secret) == operator
    store.logout(secret)
    assert store.session(secret) is None
    with store.db.transaction() as db:  # only digests are stored, never the secret or the password
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM operators") for v in row)
    assert PASSWORD not in stored and stored.count("$argon2id$") == 1


def test_wrong_names_and_passwords_are_refused_alike(store: OperatorStore) -> None:
    store.add_operator("anna", PASSWORD)
    for name, password in (("anna", "falsches-Passwort-1"), ("berta", PASSWORD), ("", "")):
        with pytest.raises(LoginRefused) as refused:
            store.login(name, password, f"client-{name}")
        assert refused.value.wait == 0


def test_repeated_failures_slow_down_further_attempts(store: OperatorStore) -> None:
    store.add_operator("anna", PASSWORD)
    now = 1_000_000.0
    for _ in range(FREE_FAILURES):
        with pytest.raises(LoginRefused) as refused:
            store.login("anna", "falsch-falsch-falsch", "10.0.0.1", now=now)
        assert refused.value.wait == 0
    with pytest.raises(LoginRefused) as refused:
        store.login("anna", "falsch-falsch-falsch", "10.0.0.1", now=now)
    assert refused.value.wait > 0
    # Even the right password is not checked while the slow-down lasts, from any client.
    with pytest.raises(LoginRefused):
        store.login("anna", PASSWORD, "10.9.9.9", now=now + 0.5)
    # It passes once the wait is over, and success clears the count.
    secret, _ = store.login("anna", PASSWORD, "10.9.9.9", now=now + MAX_DELAY + 1)
    assert store.session(secret, now=now + MAX_DELAY + 2) is not None


def test_sessions_expire_and_a_new_password_ends_them(store: OperatorStore) -> None:
    store.add_operator("anna", PASSWORD)
    secret, _ = store.login("anna", PASSWORD, "c")
    assert store.session(secret, now=time.time() + store.session_seconds + 1) is None
    store.add_operator("anna", "ein-neues-Passwort-99", replace=True)
    assert store.session(secret) is None


def test_tokens_are_shown_once_and_end_with_their_operator(store: OperatorStore) -> None:
    store.add_operator("anna", PASSWORD)
    token = store.new_token("anna")
    assert store.token(token).name == "anna"  # type: ignore[union-attr]
    assert store.token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.token("Bearer nonsense") is None
    with pytest.raises(KeyError):
        store.new_token("niemand")
    store.remove_operator("anna")
    assert store.token(token) is None


@pytest.mark.parametrize("name", ["", "a" * 65, "anna maria", "../anna", "anna\u202e"])
def test_odd_operator_names_are_refused(store: OperatorStore, name: str) -> None:
    with pytest.raises(InvalidInput):
        store.add_operator(name, PASSWORD)


def test_short_passwords_are_refused(store: OperatorStore) -> None:
    with pytest.raises(InvalidInput, match="mindestens"):
        store.add_operator("anna", "kurz")


def test_only_one_build_runs_and_a_dead_one_is_given_up(store: OperatorStore) -> None:
    first, new = store.start_build("anna", stale_after=600)
    assert new and first.running
    again, new = store.start_build("berta", stale_after=600)
    assert not new and again.id == first.id
    store.update_build(first.id, state="done", message="fertig")
    second, new = store.start_build("berta", stale_after=600)
    assert new and second.id != first.id
    # A build whose server died is not heard of again: after stale_after it no longer blocks.
    third, new = store.start_build("anna", stale_after=-1)
    assert new and store.build(second.id).state == "failed"  # type: ignore[union-attr]


def test_the_audit_log_keeps_operator_actions_for_its_retention(store: OperatorStore) -> None:
    store.audit("anna", "hochgeladen", "plan.pdf")
    store.audit("anna", "gelöscht", "plan.pdf")
    assert [e.action for e in store.audit_log()] == ["gelöscht", "hochgeladen"]
    assert store.purge_audit(time.time() - 3600) == 0
    assert store.purge_audit(time.time() + 1) == 2
    assert store.audit_log() == []
