"""ASSISTANT_RETENTION_DAYS=0 keeps nothing beyond the request: the chat works (follow-ups included,
with and without JavaScript, the model's answer streamed from the question), the store stays empty,
feedback is refused, and what was stored before is deleted at start."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.records import Answer
from assistant.service import open_assistant
from assistant.userdata import SQLiteUserStore
from assistant.web.app import create_app

from ..fake_llm import FakeModel, chunk
from ..serving import read_events


@pytest.fixture
def settings(fixture_release: Settings, tmp_path: Path) -> Settings:
    return fixture_release.model_copy(
        update={"database": tmp_path / "assistant.sqlite3", "retention_days": 0, "rate_limit_per_minute": 0}
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_page_carries_the_conversation_and_nothing_is_stored(
    client: TestClient, settings: Settings
) -> None:
    first = client.post(
        "/gespraech", data={"question": "Was ist ein Quartiersfonds?"}, follow_redirects=False
    )
    assert first.status_code == 200 and "location" not in first.headers  # no address to go to
    assert "Beteiligung › Der Quartiersfonds" in first.text
    assert '<input type="hidden" name="earlier" value="Was ist ein Quartiersfonds?">' in first.text
    assert "Dieser Dienst speichert nichts" in first.text
    assert "War diese Antwort hilfreich?" not in first.text  # no feedback: it would be stored
    assert 'id="gespraech-aktionen" hidden>' in first.text  # nothing to delete
    second = client.post(
        "/gespraech",
        data={"question": "Wer entscheidet darüber?", "earlier": ["Was ist ein Quartiersfonds?"]},
    )
    assert "Gesucht wurde: Wer entscheidet darüber? (+ Quartiersfonds)" in second.text  # the follow-up
    assert 'id="frage2"' in second.text and "Frühere Fragen in diesem Gespräch (1)" in second.text
    assert len(re.findall(r'name="earlier"', second.text)) == 2
    fragment = client.post(
        "/gespraech", data={"question": "Was ist ein Quartiersfonds?", "fragment": "1", "turn": "25"}
    )
    assert fragment.status_code == 200 and "x-gespraech" not in fragment.headers
    assert 'id="frage25"' in fragment.text  # the page counts its turns beyond the questions it sends
    assert not settings.database.exists() or SQLiteUserStore(settings.database).feedback() == []
    assert not settings.database.exists() or _conversations(settings.database) == 0


def _conversations(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        return db.execute("SELECT COUNT(*) FROM turns").fetchone()[0] if "turns" in tables else 0


def test_feedback_is_refused_and_old_addresses_are_gone(client: TestClient) -> None:
    api = client.post(
        "/api/feedback", json={"question": "Frage?", "helpful": True, "comment": "", "passage_ids": []}
    )
    assert api.status_code == 403 and api.json()["detail"] == "Dieser Dienst speichert keine Rückmeldungen."
    assert (
        client.post("/gespraech/AAAAAAAAAAAAAAAAAAAAAA/1/rueckmeldung", data={"helpful": "ja"}).status_code
        == 403
    )
    assert client.get("/gespraech/AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert client.post("/gespraech/AAAAAAAAAAAAAAAAAAAAAA", data={"question": "Und?"}).status_code == 404
    assert (
        "Nichts. Ihre Fragen und die Antworten werden nur für die Dauer der Anfrage"
        in client.get("/datenschutz").text
    )


def test_what_was_stored_before_is_deleted_at_start(settings: Settings) -> None:
    store = SQLiteUserStore(settings.database)
    old, _ = store.add_turn(None, Answer("Von früher?", (), True, "keine", "m", "b"))
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 10
        while store.conversation(old) is not None:  # the purge at start runs beside the first requests
            assert time.monotonic() < deadline, "not deleted at start"
            time.sleep(0.05)


def test_the_models_answer_streams_from_the_question(settings: Settings) -> None:
    assistant = open_assistant(settings)
    first = assistant.ask("Wer entscheidet über den Quartiersfonds?", generate=False).hits[0].passage.text
    model = FakeModel(events=[chunk(first.split(". ")[0].strip(" .") + " [1].")])
    with TestClient(create_app(settings, assistant=model.serve(assistant))) as client:
        turn = client.post(
            "/gespraech",
            data={
                "question": "Und wer entscheidet darüber?",
                "earlier": ["Was ist ein Quartiersfonds?"],
                "fragment": "1",
                "stream": "1",
            },
        )
        assert 'data-stream="/gespraech/antwort"' in turn.text and 'data-number="2"' in turn.text
        events = read_events(
            client.post(
                "/gespraech/antwort",
                data={
                    "question": "Und wer entscheidet darüber?",
                    "earlier": ["Was ist ein Quartiersfonds?"],
                    "number": "2",
                },
            ).text
        )
    assert model.calls == 1 and events[-1][0] == "done"
    assert 'href="#frage2-1"' in events[-1][1]["html"] and "belegt" in events[-1][1]["status"]
    assert not settings.database.exists() or _conversations(settings.database) == 0
