"""Retention and the operator's data-protection commands: the server deletes what is past
ASSISTANT_RETENTION_DAYS by itself, at start and periodically; `assistant privacy` purges, exports and
deletes, each saying what it did."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.cli import main
from assistant.config import Settings
from assistant.records import Answer
from assistant.userdata import SQLiteUserStore
from assistant.web.app import create_app


def answer(question: str) -> Answer:
    return Answer(
        question=question, hits=(), no_match=True, message="keine passende Stelle", model="m", build_id="b"
    )


def age(path: Path, conversation: str, days: int) -> None:
    """Make a conversation (its turns and feedback) look ``days`` old, as if written back then."""
    with sqlite3.connect(path) as db:
        for table, key in (("conversations", "id"), ("turns", "conversation"), ("feedback", "conversation")):
            db.execute(
                f"UPDATE {table} SET created = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', ?) WHERE {key} = ?",
                (f"-{days} days", conversation),
            )


def filled(path: Path) -> tuple[SQLiteUserStore, str, str]:
    store = SQLiteUserStore(path)
    old, _ = store.add_turn(None, answer("Alte Frage?"))
    store.add_feedback(
        helpful=True,
        comment="alt",
        question="Alte Frage?",
        passages=[],
        build_id="b",
        conversation=old,
        turn=1,
    )
    recent, _ = store.add_turn(None, answer("Neue Frage?"))
    age(path, old, 40)
    age(path, recent, 10)
    return store, old, recent


def test_the_server_deletes_what_is_past_retention_at_start_and_periodically(
    fixture_release: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "assistant.sqlite3"
    store, old, recent = filled(path)
    settings = fixture_release.model_copy(
        update={"database": path, "retention_days": 30, "retention_check": 0.2}
    )
    with TestClient(create_app(settings)) as client:
        # Deleted at start, by a task beside the first requests (a slow store does not delay serving).
        deadline = time.monotonic() + 10
        while client.get(f"/gespraech/{old}").status_code != 404:
            assert time.monotonic() < deadline, "not deleted at start"
            time.sleep(0.05)
        assert client.get(f"/gespraech/{recent}").status_code == 200
        assert [f.comment for f in store.feedback()] == []
        age(path, recent, 31)  # a month passes while the server runs
        deadline = time.monotonic() + 10
        while store.conversation(recent) is not None:
            assert time.monotonic() < deadline, "the periodic purge did not run"
            time.sleep(0.1)
        assert client.get(f"/gespraech/{recent}").status_code == 404


def test_privacy_commands_say_what_they_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "assistant.sqlite3"
    store, old, recent = filled(path)
    database = ["privacy", "--database", str(path)]

    assert main([*database, "export", "--conversation", f"/gespraech/{old}"]) == 0
    out, err = capsys.readouterr()
    exported = json.loads(out)
    assert exported["conversation"] == old and [t["question"] for t in exported["turns"]] == ["Alte Frage?"]
    assert [f["comment"] for f in exported["feedback"]] == ["alt"] and "Neue Frage" not in out
    assert "Ausgegeben: 1 Gespräch, 1 Frage mit Antwort, 1 Rückmeldung." in err

    assert main([*database, "purge"]) == 0  # the default: ASSISTANT_RETENTION_DAYS, 30
    assert "Gelöscht (älter als 30 Tage)" in capsys.readouterr().out
    assert store.conversation(old) is None and store.conversation(recent) is not None

    assert main([*database, "delete", "--conversation", recent]) == 0
    assert "1 Gespräch, 1 Frage mit Antwort, 0 Rückmeldungen" in capsys.readouterr().out
    assert store.conversation(recent) is None
    assert main([*database, "delete", "--conversation", recent]) == 0
    assert "nichts gelöscht" in capsys.readouterr().out
    assert main([*database, "export", "--conversation", recent]) == 1

    assert main([*database, "export", "--conversation", "../../etc/passwd"]) == 2
    assert "keine Gesprächskennung" in capsys.readouterr().err
    assert main([*database, "purge", "--older-than", "-1"]) == 2


def test_a_conversation_id_that_starts_with_a_dash_is_taken_as_the_value(tmp_path: Path) -> None:
    """Conversation ids are URL-safe base64, so one in 64 starts with "-" ("-UBE2…"): the command line
    must read it as --conversation's value, not as an option (found by a clean-clone CI run)."""
    path = tmp_path / "store.sqlite3"
    SQLiteUserStore(path).add_feedback(helpful=True, comment="", question="Frage?", passages=[], build_id="b")
    dashed = "-" + "A" * 21
    with sqlite3.connect(path) as db:  # the store's own table, an id as new_conversation_id may make it
        db.execute("INSERT INTO conversations (id, created) VALUES (?, datetime('now'))", (dashed,))
    database = ["privacy", "--database", str(path)]
    assert main([*database, "export", "--conversation", dashed]) == 0
    assert main([*database, "delete", "--conversation", dashed]) == 0
    assert SQLiteUserStore(path).conversation(dashed) is None
