"""PostgreSQL as the store of the running app and of 'assistant feedback': through the web chat and
the API against a real server, and a server that cannot be reached answered with 503, not 500."""

from __future__ import annotations

import csv
import io
import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.cli import main
from assistant.config import Settings
from assistant.errors import UserStoreError
from assistant.userdata.postgres import PostgresUserStore
from assistant.web.app import create_app
from tests.serving import free_port
from tests.userdata.test_userdata import answer

PASSWORD = "Geheimnis-4711"


def closed_port_url() -> str:
    """A PostgreSQL URL with a password whose port nothing listens on."""
    return f"postgresql://qm:{PASSWORD}@127.0.0.1:{free_port()}/qm"


def test_chat_and_api_keep_conversations_and_feedback_in_postgres(
    fixture_release: Settings, postgres_url: str, tmp_path: Path
) -> None:
    settings = fixture_release.model_copy(
        update={
            "database_url": SecretStr(postgres_url),
            "database": tmp_path / "unused.sqlite3",
            "admin_token": SecretStr("token-1"),
        }
    )
    with TestClient(create_app(settings)) as http:
        asked = http.post(
            "/gespraech", data={"question": "Was ist ein Quartiersfonds?"}, follow_redirects=False
        )
        assert asked.status_code == 303
        conversation = asked.headers["location"].split("#")[0]
        follow_up = http.post(
            conversation, data={"question": "Wer entscheidet darüber?"}, follow_redirects=False
        )
        assert follow_up.headers["location"] == f"{conversation}#frage2"
        rated = http.post(
            f"{conversation}/2/rueckmeldung", data={"helpful": "nein", "comment": "Mehr Beispiele"}
        )
        assert rated.status_code == 200 and "ist gespeichert" in rated.text
        given = http.post(
            "/api/feedback",
            json={"question": "Wer entscheidet?", "helpful": True, "comment": "Passt", "passage_ids": ["a1"]},
        )
        assert given.status_code == 201
        read = http.get("/api/feedback", headers={"Authorization": "Bearer token-1"}).json()
        assert [(e["comment"], e["helpful"], e["turn"]) for e in read] == [
            ("Passt", True, None),
            ("Mehr Beispiele", False, 2),
        ]
        assert read[1]["conversation"] == conversation.rsplit("/", 1)[1] and read[1]["passage_ids"]

    # Another replica (a second app on the same database) shows the same conversation.
    with TestClient(create_app(settings)) as replica:
        page = replica.get(conversation).text
        assert "Was ist ein Quartiersfonds?" in page and "Wer entscheidet darüber?" in page
        assert "Ihre Rückmeldung „Nicht hilfreich“ ist gespeichert" in page
    assert not settings.database.exists()  # nothing went to SQLite


def test_unreachable_postgres_is_a_503_with_a_message_and_no_password(
    fixture_release: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = fixture_release.model_copy(
        update={
            "database_url": SecretStr(closed_port_url()),
            "database_timeout": 0.3,
            "database": tmp_path / "unused.sqlite3",
            "admin_token": SecretStr("token-1"),
        }
    )
    caplog.set_level(logging.DEBUG)
    feedback = {"question": "Wer entscheidet?", "helpful": True, "comment": "", "passage_ids": []}
    with TestClient(create_app(settings)) as http:
        responses = {
            "api feedback": http.post("/api/feedback", json=feedback),
            "api read": http.get("/api/feedback", headers={"Authorization": "Bearer token-1"}),
            "chat": http.post("/gespraech", data={"question": "Was ist ein Quartiersfonds?"}),
            "chat fragment": http.post(
                "/gespraech", data={"question": "Was ist ein Fonds?", "fragment": "1"}
            ),
            "conversation": http.get("/gespraech/" + "A" * 22),
            "follow-up": http.post("/gespraech/" + "A" * 22, data={"question": "Und dann?", "fragment": "1"}),
            "rating": http.post("/gespraech/" + "A" * 22 + "/1/rueckmeldung", data={"helpful": "ja"}),
        }
        assert http.get("/api/health").status_code == 200  # searching works without the store
    for name, response in responses.items():
        assert response.status_code == 503, name
        assert PASSWORD not in response.text, name
    assert "nicht gespeichert" in responses["api feedback"].json()["detail"]
    assert "nicht erreichbar" in responses["api read"].json()["detail"]
    assert "nicht gespeichert" in responses["chat"].text and "<html" in responses["chat"].text
    assert (
        "nicht gespeichert" in responses["chat fragment"].text
        and "<html" not in responses["chat fragment"].text
    )
    assert "nicht erreichbar" in responses["conversation"].text
    assert "nicht erreichbar" in responses["follow-up"].text and "<html" not in responses["follow-up"].text
    assert "nicht erreichbar" in responses["rating"].text
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)
    assert not settings.database.exists()


def test_store_errors_name_the_server_but_never_the_password(postgres_url: str) -> None:
    closed = PostgresUserStore(closed_port_url(), timeout=1)
    wrong_password = PostgresUserStore(postgres_url.replace("@", f"x{PASSWORD}@", 1), timeout=1)
    try:
        for store in (closed, wrong_password):
            started = time.monotonic()
            with pytest.raises(UserStoreError) as raised:
                store.add_feedback(helpful=True, comment="", question="F?", passages=[], build_id="b")
            assert time.monotonic() - started < 10  # bounded by the timeout, not hanging
            assert PASSWORD not in str(raised.value) and PASSWORD not in store.where
            assert store.where.startswith("PostgreSQL host=127.0.0.1 port=")
    finally:
        closed.close()
        wrong_password.close()


def test_feedback_command_reads_postgres(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = PostgresUserStore(postgres_url)
    try:
        conversation, turn = store.add_turn(None, answer("Wo ist das Büro?"))
        store.add_feedback(
            helpful=False,
            comment="Adresse fehlt",
            question="Wo ist das Büro?",
            passages=["p1", "p2"],
            build_id="b7",
            conversation=conversation,
            turn=turn,
        )
    finally:
        store.close()
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("ASSISTANT_DATABASE", str(tmp_path / "unused.sqlite3"))
    assert main(["feedback", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[1] == [
        rows[1][0],
        "nicht hilfreich",
        "Wo ist das Büro?",
        "Adresse fehlt",
        "p1 p2",
        f"{conversation}#frage1",
        "b7",
    ]
    assert len(rows) == 2 and rows[1][0].endswith("+00:00")
    assert not (tmp_path / "unused.sqlite3").exists()


def test_feedback_command_reports_an_unreachable_server_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", closed_port_url())
    monkeypatch.setenv("ASSISTANT_DATABASE_TIMEOUT", "1")
    assert main(["feedback"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("Fehler: PostgreSQL host=127.0.0.1") and "nicht lesbar" in error
    assert PASSWORD not in error
    # A file named on the command line is read instead of the configured server.
    assert main(["feedback", "--database", str(tmp_path / "local.sqlite3")]) == 0
    assert "Noch keine Rückmeldungen in " + str(tmp_path / "local.sqlite3") in capsys.readouterr().err
