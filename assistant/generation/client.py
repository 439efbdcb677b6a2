"""A streaming client for OpenAI-compatible chat completions (llama.cpp's llama-server, Ollama, vLLM,
hosted services): ``POST {base}/chat/completions`` with ``stream: true``, read as server-sent events.

Tolerant where servers differ: a first delta with ``"content": null``, chunks with empty ``choices``,
extra keys, comment and ``event:`` lines, ``text/event-stream`` with or without a charset, line ends as
LF, CRLF or CR, and a stream that ends without ``data: [DONE]``. Strict where it matters: an HTTP
error, a time-out (before the first token or for the whole answer), a body that is not an event stream,
a chunk that is not JSON, a line longer than ``MAX_LINE_CHARS`` or an answer longer than ``max_chars``
ends the answer with ``GenerationFailed`` (a German message without the API key). The key is sent
only as the ``Authorization`` header and never logged.

Everything from the server is bounded while it is read: each read waits at most until the first-token
or the total deadline (a server that trickles one byte at a time is cut at the deadline, not at its
next line end), a pending line holds at most ``MAX_LINE_CHARS``, and the text at most ``max_chars``.
The work per byte is constant, so a hostile stream costs linear time. ``astream`` reads on the event
loop without holding a worker thread; ``stream`` is the same for synchronous callers (command line,
benches).
"""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.from_thread
import httpx
from pydantic import SecretStr

from ..errors import GenerationFailed, GenerationTimedOut, GenerationTooLong

__all__ = ["MAX_LINE_CHARS", "ChatClient"]

#: The longest event-stream line read: one chunk of a token stream is a few hundred characters.
MAX_LINE_CHARS = 64 * 1024


@dataclass(frozen=True)
class ChatClient:
    base_url: str  # e.g. http://127.0.0.1:8080/v1
    model: str = ""
    api_key: SecretStr | None = None
    first_token_timeout: float = 20.0
    total_timeout: float = 60.0
    max_tokens: int = 400
    max_chars: int = 6000  # the cap beside max_tokens: servers that ignore max_tokens are cut here
    temperature: float = 0.2
    grammar: bool = False  # constrain the form of the answer with llama.cpp's grammar field
    transport: httpx.AsyncBaseTransport | None = None  # tests hand in a fake one for faults real servers lack

    async def astream(
        self, messages: Sequence[dict[str, str]], *, grammar: str | None = None
    ) -> AsyncGenerator[str, None]:
        """The answer's text as it arrives, piece by piece. ``grammar`` (GBNF) constrains the output on
        servers that take llama.cpp's ``grammar`` field; others would refuse or ignore it.

        Closing the generator early (a visitor who stops the answer) closes the connection, which is
        what makes llama-server and vLLM stop generating."""
        started = time.monotonic()
        first_deadline = started + self.first_token_timeout
        deadline = started + self.total_timeout
        timeout = httpx.Timeout(
            self.total_timeout, connect=min(5.0, self.first_token_timeout), read=self.first_token_timeout
        )
        events = _EventStream(self.max_chars)
        wrote = False
        try:
            async with (
                httpx.AsyncClient(timeout=timeout, transport=self.transport) as client,
                client.stream(
                    "POST", self._url(), json=self._body(messages, grammar), headers=self._headers()
                ) as response,
            ):
                if response.status_code != 200:
                    raise GenerationFailed(f"Sprachmodell antwortet mit HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind != "text/event-stream":
                    raise GenerationFailed(f"Sprachmodell sendet keinen Ereignisstrom ({kind or 'ohne Typ'})")
                chunks = response.aiter_bytes()
                while True:
                    until = deadline if wrote else min(deadline, first_deadline)
                    with anyio.move_on_after(max(0.0, until - time.monotonic())) as waited:
                        data = await anext(chunks, None)
                    if waited.cancelled_caught:
                        raise GenerationTimedOut(
                            "Sprachmodell braucht zu lange (Zeitlimit für die Antwort)"
                            if wrote
                            else "Sprachmodell antwortet nicht rechtzeitig"
                        )
                    if data is None:
                        last = events.close()
                        if last:
                            yield last
                        return
                    for piece in events.feed(data):
                        if piece is None:
                            return
                        wrote = True
                        yield piece
        except httpx.TimeoutException as exc:
            raise GenerationTimedOut("Sprachmodell antwortet nicht rechtzeitig") from exc
        except httpx.HTTPError as exc:
            raise GenerationFailed(f"Sprachmodell nicht erreichbar ({type(exc).__name__})") from exc

    def stream(
        self, messages: Sequence[dict[str, str]], *, grammar: str | None = None
    ) -> Generator[str, None, None]:
        """``astream`` for synchronous callers: the same reading, deadlines and caps, on an event loop
        of its own in a helper thread. Closing the iterator early stops the model."""
        with anyio.from_thread.start_blocking_portal() as portal:
            pieces = self.astream(messages, grammar=grammar)
            try:
                while True:
                    try:
                        piece = portal.call(pieces.__anext__)
                    except StopAsyncIteration:
                        return
                    yield piece
            finally:
                portal.call(pieces.aclose)

    def complete(self, messages: Sequence[dict[str, str]], *, grammar: str | None = None) -> str:
        return "".join(self.stream(messages, grammar=grammar))

    def _url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def _body(self, messages: Sequence[dict[str, str]], grammar: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model or "default",
            "messages": list(messages),
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if grammar is not None:
            body["grammar"] = grammar
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers


class _EventStream:
    """Bytes of an event stream in, the text of its deltas out (``None`` at ``[DONE]``).

    Lines end only where the event-stream format says: CRLF, LF or CR (not at U+2028 or the other
    Unicode line breaks that ``str.splitlines`` knows, which JSON may carry raw). A pending line is
    kept as a list of pieces and joined once, so a line trickled byte by byte costs linear time."""

    def __init__(self, max_chars: int) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []
        self._pending_chars = 0
        self._after_cr = False  # the last chunk ended with CR: a LF opening the next one belongs to it
        self._chars = 0
        self._max_chars = max_chars

    def feed(self, data: bytes) -> Generator[str | None, None, None]:
        text = self._decoder.decode(data)
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        if text:
            self._after_cr = text.endswith("\r")
        start = 0
        for end, after in _line_ends(text):
            self._pending.append(text[start:end])
            line = "".join(self._pending)
            self._pending, self._pending_chars = [], 0
            start = after
            piece = self._delta(line)
            if piece is None:
                yield None
                return
            if piece:
                yield piece
        if start < len(text):
            self._pending.append(text[start:])
            self._pending_chars += len(text) - start
            if self._pending_chars > MAX_LINE_CHARS:
                raise GenerationFailed("Sprachmodell sendet unlesbare Daten (Zeile zu lang)")

    def close(self) -> str:
        """The stream ended: the text of a last line that came without its line end."""
        line = "".join(self._pending) + self._decoder.decode(b"", final=True)
        self._pending = []
        return self._delta(line) or ""

    def _delta(self, line: str) -> str | None:
        piece = _delta(line)
        if piece:
            self._chars += len(piece)
            if self._chars > self._max_chars:
                raise GenerationTooLong(
                    f"Sprachmodell schreibt mehr als {self._max_chars} Zeichen; die Antwort wurde abgebrochen"
                )
        return piece


def _line_ends(text: str) -> Generator[tuple[int, int], None, None]:
    """Each line end in ``text`` (CRLF, LF or CR) as (where it starts, where the next line starts),
    left to right, in linear time."""
    position = 0
    while True:
        lf = text.find("\n", position)
        cr = text.find("\r", position)
        if lf < 0 and cr < 0:
            return
        end = lf if cr < 0 or 0 <= lf < cr else cr
        after = end + (2 if text.startswith("\r\n", end) else 1)
        yield end, after
        position = after


def _delta(line: str) -> str | None:
    """The text of one event-stream line ('' for lines without text), None at ``[DONE]``."""
    if not line.startswith("data:"):
        return ""  # blank lines, comments (":"), "event:" and "id:" lines
    data = line[5:].strip(" \t")
    if data == "[DONE]":
        return None
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise GenerationFailed("Sprachmodell sendet unlesbare Daten") from exc
    if not isinstance(chunk, dict):
        raise GenerationFailed("Sprachmodell sendet unlesbare Daten")
    if "error" in chunk:
        raise GenerationFailed("Sprachmodell meldet einen Fehler")
    choices = chunk.get("choices") or []
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    delta = choices[0].get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
