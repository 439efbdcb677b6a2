"""The streaming client against faults a real server cannot be made to show (a fake transport)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from assistant.generation.client import ChatClient, GenerationFailed

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
