"""Generated answers from a real llama.cpp server (xllamacpp, SmolLM2-135M-Instruct, one thread on
loopback): the protocol end to end, the checks, the API and the chat, and the fallback when the
server is gone. The tiny model's wording is never asserted, only what the assistant does with it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.errors import GenerationTooLong
from assistant.generation.client import ChatClient
from assistant.generation.grounding import MAX_PASSAGES, NOT_ANSWERED
from assistant.generation.writer import MODEL_UNAVAILABLE, NOT_VERIFIED
from assistant.service import open_assistant
from assistant.userdata.sqlite import SQLiteUserStore
from assistant.web.app import create_app

from ..llama_server import start as start_llama
from ..llama_server import stop as stop_llama
from ..serving import read_events, serving

pytestmark = pytest.mark.slow

QUESTION = "Wer entscheidet über den Quartiersfonds?"


def with_model(settings: Settings, url: str, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "llm_url": url,
            "llm_max_tokens": 96,
            "llm_temperature": 0.0,
            "database": tmp_path / "assistant.sqlite3",
            "rate_limit_per_minute": 0,
        }
    )


def test_the_client_streams_from_a_real_server(llama: str) -> None:
    pieces = list(ChatClient(llama, max_tokens=24).stream([{"role": "user", "content": "Sag Hallo."}]))
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_a_real_server_writing_past_the_character_cap_is_cut(llama: str) -> None:
    client = ChatClient(llama, max_tokens=200, max_chars=100, temperature=0.0)
    pieces: list[str] = []
    story = [{"role": "user", "content": "Erzähle eine lange Geschichte über Berlin."}]
    with pytest.raises(GenerationTooLong):
        for piece in client.stream(story):
            pieces.append(piece)
    assert len("".join(pieces)) <= 100


def test_answers_carry_the_checked_generation_next_to_the_unchanged_fields(
    fixture_release: Settings, llama: str, tmp_path: Path
) -> None:
    settings = with_model(fixture_release, llama, tmp_path)
    with TestClient(create_app(settings)) as client:
        body = client.post("/api/ask", json={"question": QUESTION}).json()
        page = client.post("/gespraech", data={"question": QUESTION})
    assert body["passages"] and body["answer"] and body["no_match"] is False  # the existing fields
    # The model was reached: its sentences were checked, shown only when verified enough.
    assert body["notice"] in (None, NOT_VERIFIED)
    given = len(body["passages"])
    for sentence in body["generated"]:
        assert sentence["text"] and isinstance(sentence["verified"], bool)
        if sentence["verified"]:
            assert sentence["markers"] and all(1 <= m <= given for m in sentence["markers"])
    assert page.status_code == 200
    if body["notice"] is None:
        assert body["generated"] and "Antwort des Sprachmodells" in page.text
    else:
        assert "ließ sich nicht genug mit den Fundstellen belegen" in page.text
    assert "Kurzantwort aus den Fundstellen" in page.text


def test_a_stopped_server_leaves_the_extractive_answer_with_a_notice(
    fixture_release: Settings, tmp_path: Path
) -> None:
    process, url = start_llama()
    assistant = open_assistant(with_model(fixture_release, url, tmp_path))
    process.kill()
    process.wait(timeout=30)
    answer = assistant.ask(QUESTION)
    assert answer.notice == MODEL_UNAVAILABLE and answer.sentences and answer.hits and not answer.generated
    with TestClient(create_app(with_model(fixture_release, url, tmp_path))) as client:
        page = client.post("/gespraech", data={"question": QUESTION})
    assert page.status_code == 200 and "Das Sprachmodell hat gerade nicht geantwortet" in page.text


def test_no_match_makes_no_call_to_the_model(fixture_release: Settings, tmp_path: Path) -> None:
    unreachable = with_model(fixture_release, "http://127.0.0.1:9/v1", tmp_path)
    answer = open_assistant(unreachable).ask("Rezept für Apfelkuchen")
    assert answer.no_match and answer.notice is None and not answer.generated


def test_the_chat_streams_a_cited_answer_from_a_real_server(
    fixture_release: Settings, llama: str, tmp_path: Path
) -> None:
    # llama.cpp's grammar makes even the tiny model end each sentence with a marker; whether the
    # cited passage supports the sentence is still checked.
    settings = with_model(fixture_release, llama, tmp_path).model_copy(update={"llm_grammar": True})
    with TestClient(create_app(settings)) as client:
        turn = client.post("/gespraech", data={"question": QUESTION, "fragment": "1", "stream": "1"})
        conversation = turn.headers["x-gespraech"]
        assert f'data-stream="{conversation}/1/antwort"' in turn.text
        events = read_events(client.post(f"{conversation}/1/antwort").text)
        stored = SQLiteUserStore(settings.database).conversation(conversation.rsplit("/", 1)[1])
    drafts = [data["text"] for name, data in events if name == "text"]
    assert len(drafts) >= 2 and events[-1][0] == "done"  # streamed piece by piece, then the result
    assert stored is not None
    answer = stored[0].answer
    given = min(len(answer.hits), MAX_PASSAGES)
    assert answer.generated and answer.notice in (None, NOT_VERIFIED)
    unmarked = re.sub(r"\[[\d,; ]+\]|\s", "", "".join(drafts))
    assert "".join(s.text for s in answer.generated).replace(" ", "") in unmarked  # what was streamed
    if NOT_ANSWERED not in "".join(drafts):
        *complete, last = answer.generated  # the last sentence may be cut off by the token limit
        for sentence in complete:
            assert sentence.markers and all(1 <= m <= given for m in sentence.markers)
    for sentence in answer.generated:
        if sentence.verified:  # with its evidence: sentences of a passage it cites, where they stand
            assert sentence.markers and sentence.evidence and sentence.reason is None
            for quote in sentence.evidence:
                passage = answer.hits[quote.marker - 1].passage
                assert quote.marker in sentence.markers and passage.id == quote.passage_id
                assert passage.text[quote.start : quote.end] == quote.text
        else:
            assert sentence.reason
    html = events[-1][1]["html"]
    if answer.notice is None:
        shown = [m for s in answer.generated if s.verified for m in s.markers]
        assert all(f'href="#frage1-{m}"' in html for m in shown)
    else:
        assert answer.notice in html


def test_a_server_killed_mid_answer_ends_the_stream_in_the_kurzantwort(
    fixture_release: Settings, tmp_path: Path
) -> None:
    process, url = start_llama()
    settings = with_model(fixture_release, url, tmp_path).model_copy(update={"llm_max_tokens": 1000})
    try:
        with serving(settings) as base, httpx.Client(base_url=base, timeout=60) as http:
            turn = http.post("/gespraech", data={"question": QUESTION, "fragment": "1", "stream": "1"})
            conversation = turn.headers["x-gespraech"]
            with http.stream("POST", f"{conversation}/1/antwort") as stream:
                body = []
                for line in stream.iter_lines():
                    body.append(line)
                    if line.startswith("event: text") and process.poll() is None:
                        process.kill()  # the model's server dies while it is writing
            events = read_events("\n".join(body))
            page = http.get(conversation).text
    finally:
        stop_llama(process)
    assert events[0][0] == "text" and events[-1] == (
        "done",
        {"html": events[-1][1]["html"], "status": MODEL_UNAVAILABLE},
    )
    assert MODEL_UNAVAILABLE in page and "Kurzantwort aus den Fundstellen" in page
