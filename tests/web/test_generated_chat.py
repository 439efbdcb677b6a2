"""The chat streams the language model's answer after the passages, and every fault ends in the
Kurzantwort with a German notice. The model here is a fake behind an httpx transport, for the faults a
real server cannot be made to show; tests/generation/test_llama_server.py and
tests/browser/test_generated.py run the same paths against the real llama.cpp server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.generation.writer import (
    MODEL_TOO_LONG,
    MODEL_TOO_SLOW,
    MODEL_UNAVAILABLE,
    NOT_VERIFIED,
    STOPPED,
)
from assistant.service import Assistant, open_assistant
from assistant.web.app import create_app

from ..fake_llm import FakeModel, chunk
from ..serving import read_events, serving

QUESTION = "Wer entscheidet über den Quartiersfonds?"


@pytest.fixture(scope="module")
def assistant(fixture_release: Settings) -> Assistant:
    return open_assistant(fixture_release)


@pytest.fixture
def settings(fixture_release: Settings, tmp_path: Path) -> Settings:
    return fixture_release.model_copy(
        update={"database": tmp_path / "assistant.sqlite3", "rate_limit_per_minute": 0}
    )


def ask_streamed(client: TestClient, question: str = QUESTION) -> tuple[str, str]:
    """Ask as the chat's script does; returns (turn fragment, stream address)."""
    turn = client.post("/gespraech", data={"question": question, "fragment": "1", "stream": "1"})
    assert turn.status_code == 200
    conversation = turn.headers["x-gespraech"]
    return turn.text, f"{conversation}/1/antwort"


def quoting_model(assistant: Assistant, question: str = QUESTION) -> FakeModel:
    """A model that quotes the first passage's first sentence and cites it: verified by construction."""
    first = assistant.ask(question, generate=False).hits[0].passage.text.split(". ")[0].strip(" .")
    return FakeModel(events=[chunk(word + " ") for word in first.split()] + [chunk("[1].")])


@pytest.fixture
def client_for(settings: Settings, assistant: Assistant) -> Iterator:  # type: ignore[type-arg]
    clients: list[TestClient] = []

    def make(model: FakeModel, **options: object) -> TestClient:
        client = TestClient(create_app(settings, assistant=model.serve(assistant, **options)))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_the_turn_comes_first_and_the_checked_answer_streams_after_it(client_for, assistant) -> None:  # type: ignore[no-untyped-def]
    model = quoting_model(assistant)
    client = client_for(model)
    fragment, address = ask_streamed(client)
    # The passages and the Kurzantwort come at once; the model has not been called yet.
    assert model.calls == 0
    assert f'data-stream="{address}"' in fragment and "Antwort anhalten" in fragment
    assert 'class="passage"' in fragment and "Kurzantwort aus den Fundstellen" in fragment

    stream = client.post(address)
    assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
    events = read_events(stream.text)
    drafts = [data["text"] for name, data in events if name == "text"]
    assert len(drafts) == len(model.events) and events[-1][0] == "done"
    done = events[-1][1]
    assert "Antwort des Sprachmodells, geprüft an den Fundstellen" in done["html"]
    assert (
        'href="#frage1-1"' in done["html"]
        and done["status"] == "Antwort des Sprachmodells geprüft: ein Satz belegt."
    )

    # Stored with the turn: a reload shows it, and asking again does not call the model again.
    page = client.get(address.rsplit("/", 2)[0]).text
    assert "Antwort des Sprachmodells, geprüft an den Fundstellen" in page and "Antwort anhalten" not in page
    again = read_events(client.post(address).text)
    assert model.calls == 1 and [name for name, _ in again] == ["done"] and again[0][1] == done


@pytest.mark.parametrize(
    ("model", "notice"),
    [
        (
            FakeModel(
                events=[chunk("Über den Fonds entscheidet"), chunk(" ein Gre")],
                fault=httpx.RemoteProtocolError,
            ),
            MODEL_UNAVAILABLE,
        ),
        (FakeModel(events=[chunk("Über den"), "{kaputt", chunk("Fonds")]), MODEL_UNAVAILABLE),
        (FakeModel(events=[chunk("Über den")], fault=httpx.ReadTimeout), MODEL_TOO_SLOW),
        (FakeModel(status=503), MODEL_UNAVAILABLE),
        (FakeModel(events=[chunk("Das steht nirgends, aber bestimmt stimmt es.")]), NOT_VERIFIED),
    ],
    ids=["cut mid-sentence", "garbage chunk", "too slow", "refused", "nothing cited"],
)
def test_faults_end_in_the_kurzantwort_with_a_notice(client_for, model: FakeModel, notice: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for(model)
    _, address = ask_streamed(client)
    events = read_events(client.post(address).text)
    name, done = events[-1]
    assert (
        name == "done"
        and done["status"] == notice
        and notice in done["html"]
        and 'role="note"' in done["html"]
    )
    page = client.get(address.rsplit("/", 2)[0]).text
    assert notice in page and "Kurzantwort aus den Fundstellen" in page


def test_a_total_time_limit_ends_a_model_that_keeps_talking(client_for) -> None:  # type: ignore[no-untyped-def]
    model = FakeModel(events=[chunk("wort ")] * 40, delay=0.05)
    client = client_for(model, total_timeout=0.5)
    _, address = ask_streamed(client)
    name, done = read_events(client.post(address).text)[-1]
    assert name == "done" and done["status"] == MODEL_TOO_SLOW and len(model.sent) < 40


def test_a_visitor_who_stops_the_answer_stops_the_model_and_keeps_a_notice(settings, assistant) -> None:  # type: ignore[no-untyped-def]
    model = FakeModel(events=[chunk("wort ")] * 200, delay=0.05)
    with serving(settings, model.serve(assistant)) as base, httpx.Client(base_url=base, timeout=10) as http:
        turn = http.post("/gespraech", data={"question": QUESTION, "fragment": "1", "stream": "1"})
        address = f"{turn.headers['x-gespraech']}/1/antwort"
        with http.stream("POST", address) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: text"):
                    break  # the first words arrived: the visitor presses "Antwort anhalten"
        assert model.closed.wait(10), "the connection to the model stayed open"
        assert len(model.sent) < 200
        deadline = time.monotonic() + 10
        while STOPPED not in (page := http.get(turn.headers["x-gespraech"]).text):
            assert time.monotonic() < deadline, "the stop was not stored with the turn"
            time.sleep(0.1)
        assert "Kurzantwort aus den Fundstellen" in page
        # The stored notice is the answer now: no second call to the model.
        done = read_events(http.post(address).text)
        assert model.calls == 1 and done[-1][1]["status"] == STOPPED


def test_without_javascript_the_whole_answer_comes_at_once(client_for, assistant) -> None:  # type: ignore[no-untyped-def]
    model = quoting_model(assistant)
    client = client_for(model)
    page = client.post("/gespraech", data={"question": QUESTION}).text  # the redirect followed
    assert model.calls == 1 and "Antwort des Sprachmodells, geprüft an den Fundstellen" in page
    assert "data-stream" not in page and "Antwort anhalten" not in page
    # The footer no longer says that nothing shown is generated, and says what the check does not do.
    assert "Die Antwort des Sprachmodells ist erzeugter Text" in page and "kein erzeugter Text" not in page
    assert "versteht den Text nicht" in page
    # Without JavaScript the marker leads to the evidence, quoted below the answer.
    first = assistant.ask(QUESTION, generate=False).hits[0].passage.text.split(". ")[0].strip(" .")
    assert 'href="#frage1-beleg-1"' in page and 'id="frage1-beleg-1"' in page
    evidence = page[page.index('id="frage1-beleg-1"') :]
    assert "<q>" in evidence and first.split()[0] in evidence[: evidence.index("</q>")]


def test_no_match_asks_no_model_and_offers_no_stream(client_for) -> None:  # type: ignore[no-untyped-def]
    model = FakeModel(events=[chunk("nie")])
    client = client_for(model)
    fragment, address = ask_streamed(client, "Xylophonunterricht für Pinguine auf dem Mond")
    assert "data-stream" not in fragment
    events = read_events(client.post(address).text)
    assert model.calls == 0 and events == [("done", {"html": "", "status": ""})]


def test_a_stream_for_an_unknown_turn_is_a_clear_404(client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(FakeModel())
    _, address = ask_streamed(client)
    for wrong in (
        address.replace("/1/", "/2/"),
        "/gespraech/AAAAAAAAAAAAAAAAAAAAAA/1/antwort",
        "/gespraech/x/1/antwort",
    ):
        response = client.post(wrong)
        assert response.status_code == 404 and "gibt es nicht" in response.text, wrong


def test_an_answer_over_the_character_cap_is_cut_shown_as_a_notice_and_not_stored(client_for) -> None:  # type: ignore[no-untyped-def]
    model = FakeModel(events=[chunk("Wort ")] * 5000)
    client = client_for(model, max_chars=400)
    _, address = ask_streamed(client)
    events = read_events(client.post(address).text)
    relayed = "".join(data["text"] for name, data in events if name == "text")
    assert len(relayed) <= 400 and len(model.sent) < 5000
    assert events[-1][0] == "done" and events[-1][1]["status"] == MODEL_TOO_LONG
    page = client.get(address.rsplit("/", 2)[0]).text
    assert MODEL_TOO_LONG in page and "Wort Wort Wort" not in page
    api = client_for(FakeModel(events=[chunk("Wort ")] * 5000), max_chars=400)
    answer = api.post("/api/ask", json={"question": QUESTION}).json()
    assert answer["notice"] == MODEL_TOO_LONG and answer["generated"] == []


def test_trickling_models_hold_no_worker_thread(settings, assistant) -> None:  # type: ignore[no-untyped-def]
    # Eight answers from a model that sends one byte every half second and never ends a line: the
    # server's eight worker threads must stay free for everyone else.
    model = FakeModel(events=list('data: {"choices":[{"delta":{"content":"' + "x" * 200), delay=0.5, raw=True)
    served = model.serve(assistant, first_token_timeout=30, total_timeout=30)
    with serving(settings.model_copy(update={"threads": 8}), served) as base:
        with httpx.Client(base_url=base, timeout=10) as http:
            turns = [
                http.post("/gespraech", data={"question": QUESTION, "fragment": "1", "stream": "1"})
                for _ in range(8)
            ]
        streams = [
            threading.Thread(
                target=lambda t=t: httpx.post(
                    f"{base}{t.headers['x-gespraech']}/1/antwort", timeout=httpx.Timeout(60)
                ),
                daemon=True,
            )
            for t in turns
        ]
        asks = [
            threading.Thread(
                target=lambda: httpx.post(f"{base}/api/ask", json={"question": QUESTION}, timeout=60),
                daemon=True,
            )
            for _ in range(8)
        ] + [  # and the chat without JavaScript, whose page waits for the model's whole answer
            threading.Thread(
                target=lambda: httpx.post(f"{base}/gespraech", data={"question": QUESTION}, timeout=60),
                daemon=True,
            )
            for _ in range(8)
        ]
        for thread in [*streams, *asks]:
            thread.start()
        time.sleep(2)  # all twenty-four are reading the trickle now
        assert all(thread.is_alive() for thread in [*streams, *asks])
        health = httpx.get(f"{base}/api/health", timeout=5)
        other = httpx.post(
            f"{base}/gespraech", data={"question": QUESTION, "fragment": "1", "stream": "1"}, timeout=5
        )
        assert health.status_code == 200 and other.status_code == 200
        model.closed.set()  # end the trickle so the server can stop


def test_the_api_gives_each_generated_sentence_its_support_and_evidence(client_for, assistant) -> None:  # type: ignore[no-untyped-def]
    first = assistant.ask(QUESTION, generate=False).hits[0].passage.text.split(". ")[0].strip(" .")
    negated = "Über den Quartiersfonds entscheidet nie jemand [1]."
    model = FakeModel(events=[chunk(f"{first} [1]. "), chunk(negated)])
    body = client_for(model).post("/api/ask", json={"question": QUESTION}).json()
    passages = body["passages"]
    good, bad = body["generated"]
    assert good["verified"] and good["support"] == 1.0 and good["reason"] is None
    [quote] = good["evidence"]
    passage = passages[quote["marker"] - 1]
    assert (
        quote["passage_id"] == passage["id"]
        and passage["text"][quote["start"] : quote["end"]] == quote["text"]
    )
    assert first in quote["text"]
    assert not bad["verified"] and bad["reason"] and 0 <= bad["support"] <= 1
