"""A language model behind an in-process httpx transport, for the faults a real server cannot be made to
show on demand: a stream cut mid-sentence, garbage chunks, a model too slow to answer, a slow drip
that a visitor stops. The happy path is tested against the real llama.cpp server
(tests/generation/test_llama_server.py, tests/browser/test_generated.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace

import anyio
import httpx

from assistant.generation.client import ChatClient
from assistant.generation.writer import Writer
from assistant.service import Assistant

__all__ = ["FakeModel", "chunk"]


def chunk(text: str) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]})


@dataclass
class FakeModel:
    """Streams ``events`` (the JSON after ``data:``) ``delay`` seconds apart, then ``[DONE]``; or, with
    ``fault``, raises that httpx error where the events end (a connection that breaks off). With
    ``raw``, the events are sent unframed: a trickle of single bytes, a line without end."""

    events: Sequence[str] = ()
    delay: float = 0.0
    fault: type[httpx.TransportError] | None = None
    status: int = 200  # anything else: the server refuses (with a JSON error, as real ones do)
    calls: int = 0
    closed: threading.Event = field(default_factory=threading.Event)  # the client hung up
    sent: list[str] = field(default_factory=list)
    raw: bool = False  # send ``events`` as they are (bytes of a stream the test frames itself)

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.calls += 1
            if self.status != 200:
                return httpx.Response(self.status, json={"error": {"message": "model overloaded"}})
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, stream=_Body(self, request)
            )

        return httpx.MockTransport(handle)

    def serve(self, assistant: Assistant, **settings: object) -> Assistant:
        """``assistant`` answering with this model."""
        client = ChatClient("http://llm.invalid/v1", transport=self.transport())
        writer = Writer.of(replace(client, **settings), assistant.searcher.analyzer)  # type: ignore[arg-type]
        return replace(assistant, writer=writer)


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The response body, for the synchronous and the asynchronous client alike."""

    def __init__(self, model: FakeModel, request: httpx.Request) -> None:
        self.model = model
        self.request = request

    def __iter__(self) -> Iterator[bytes]:
        for event in self.model.events:
            if self.model.closed.is_set():
                return
            if self.model.delay:
                time.sleep(self.model.delay)
            yield self._send(event)
        yield from self._end()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.model.events:
            if self.model.closed.is_set():
                return
            if self.model.delay:
                await anyio.sleep(self.model.delay)
            yield self._send(event)
        for data in self._end():
            yield data

    def _send(self, event: str) -> bytes:
        self.model.sent.append(event)
        return event.encode() if self.model.raw else f"data: {event}\n\n".encode()

    def _end(self) -> Iterator[bytes]:
        if self.model.fault is not None:
            raise self.model.fault("peer closed connection without sending complete message body")
        if not self.model.raw:
            yield b"data: [DONE]\n\n"

    def close(self) -> None:
        self.model.closed.set()

    async def aclose(self) -> None:
        self.model.closed.set()
