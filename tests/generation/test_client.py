"""The streaming client against faults a real server cannot be made to show (a fake transport): a
hostile or broken stream is bounded in time, size and work, and read as the event-stream format says."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from assistant.errors import GenerationFailed, GenerationTimedOut, GenerationTooLong
from assistant.generation.client import MAX_LINE_CHARS, ChatClient

from ..fake_llm import FakeModel, chunk

MESSAGES = [{"role": "user", "content": "Frage"}]


def client_for(body: bytes, *, status: int = 200, kind: str = "text/event-stream", seen: list | None = None):  # type: ignore[no-untyped-def]
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, headers={"content-type": kind}, content=body)

    return ChatClient(
        "http://llm.invalid/v1", api_key=SecretStr("geheim"), transport=httpx.MockTransport(handle)
    )


def events(*chunks: str) -> bytes:
    return "".join(f"data: {chunk}\n\n" for chunk in chunks).encode()


def test_what_servers_differ_in_is_tolerated() -> None:
    body = b": keep-alive comment\n\nevent: message\n" + events(
        '{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}',
        '{"choices":[],"usage":{"prompt_tokens":3}}',
        '{"choices":[{"delta":{"content":"Der Beirat"}}],"extra":1}',
        '{"choices":[{"delta":{"content":" berät [2]."},"finish_reason":"stop"}]}',
        "[DONE]",
    )
    seen: list[httpx.Request] = []
    client = client_for(body, kind="text/event-stream; charset=utf-8", seen=seen)
    assert client.complete(MESSAGES) == "Der Beirat berät [2]."
    assert seen[0].headers["authorization"] == "Bearer geheim" and seen[0].url.path == "/v1/chat/completions"


def test_a_stream_without_done_ends_with_what_came() -> None:
    assert client_for(events('{"choices":[{"delta":{"content":"Satz"}}]}')).complete(MESSAGES) == "Satz"


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (events("{kaputt"), 200, "text/event-stream"),
        (events('"nur ein Text"'), 200, "text/event-stream"),
        (events('{"error":{"message":"model not loaded"}}'), 200, "text/event-stream"),
        (b'{"error":"unauthorized"}', 401, "application/json"),
        (b'{"choices":[]}', 200, "application/json"),
    ],
    ids=["not json", "not an object", "error chunk", "http 401", "not a stream"],
)
def test_faults_end_in_a_german_error_without_the_key(body: bytes, status: int, kind: str) -> None:
    with pytest.raises(GenerationFailed) as failed:
        client_for(body, status=status, kind=kind).complete(MESSAGES)
    assert "geheim" not in str(failed.value) and "Sprachmodell" in str(failed.value)


def test_an_unreachable_server_is_a_german_error() -> None:
    client = ChatClient("http://127.0.0.1:9/v1", first_token_timeout=2, total_timeout=2)
    with pytest.raises(GenerationFailed, match="Sprachmodell"):
        client.complete(MESSAGES)


def streaming_client(model: FakeModel, **options: object) -> ChatClient:
    return replace(ChatClient("http://llm.invalid/v1", transport=model.transport()), **options)  # type: ignore[arg-type]


def test_lines_end_only_where_the_event_stream_format_says() -> None:
    # Raw U+2028/U+2029/U+0085 inside valid JSON are text, not line ends; CR, LF and CRLF all end a
    # line, also when a CRLF is split between two reads.
    text = "Zeile\u2028eins\u2029zwei\u0085drei"
    body = f'data: {{"choices":[{{"delta":{{"content":"{text}"}}}}]}}\r\r'
    body += 'data: {"choices":[{"delta":{"content":" [1]."}}]}\r'
    pieces = [body, "\n\n", "data: [DONE]\r\n\r\n"]
    model = FakeModel(events=pieces, raw=True)
    assert streaming_client(model).complete(MESSAGES) == text + " [1]."


def test_a_trickling_model_is_cut_at_the_total_deadline() -> None:
    # One byte every 50 ms, never a line end: the deadline must hold while the line is still open.
    line = 'data: {"choices":[{"delta":{"content":"' + "x" * 400
    model = FakeModel(events=list(line), delay=0.05, raw=True)
    started = time.monotonic()
    with pytest.raises(GenerationTimedOut):
        streaming_client(model, first_token_timeout=0.5, total_timeout=0.5).complete(MESSAGES)
    assert time.monotonic() - started < 5 and len(model.sent) < len(line)


def test_no_first_words_in_time_is_a_time_out_even_when_bytes_arrive() -> None:
    model = FakeModel(events=[": warte\n"] * 100, delay=0.05, raw=True)
    with pytest.raises(GenerationTimedOut):
        streaming_client(model, first_token_timeout=0.4, total_timeout=30).complete(MESSAGES)
    assert len(model.sent) < 100


def test_an_answer_longer_than_the_cap_is_cut() -> None:
    model = FakeModel(events=[chunk("wort ")] * 2000)
    pieces: list[str] = []
    with pytest.raises(GenerationTooLong):
        for piece in streaming_client(model, max_chars=500).stream(MESSAGES):
            pieces.append(piece)
    assert len("".join(pieces)) <= 500 and len(model.sent) < 2000


def test_a_line_over_the_line_cap_is_refused_without_reading_it_whole() -> None:
    word = "x" * (MAX_LINE_CHARS * 4)
    line = 'data: {"choices":[{"delta":{"content":"' + word + '"}}]}\n\n'
    model = FakeModel(events=[line[i : i + 4096] for i in range(0, len(line), 4096)], raw=True)
    with pytest.raises(GenerationFailed, match="unlesbare Daten"):
        streaming_client(model, max_chars=10 * len(word)).complete(MESSAGES)
    assert len(model.sent) < len(line) // 4096
