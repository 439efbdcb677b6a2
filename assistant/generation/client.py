"""A streaming client for OpenAI-compatible chat completions (llama.cpp's llama-server, Ollama, vLLM,
hosted services): ``POST {base}/chat/completions`` with ``stream: true``, read as server-sent events.

Tolerant where servers differ: a first delta with ``"content": null``, chunks with empty ``choices``,
extra keys, comment and ``event:`` lines, ``text/event-stream`` with or without a charset, and a stream
that ends without ``data: [DONE]``. Strict where it matters: an HTTP error, a time-out (before the first
token or for the whole answer), a body that is not an event stream, or a chunk that is not JSON ends the
answer with ``GenerationFailed`` (a German message without the API key). The key is sent only as the
``Authorization`` header and never logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from ..errors import AssistantError

__all__ = ["ChatClient", "GenerationFailed", "GenerationTimedOut"]


class GenerationFailed(AssistantError):
    """The language model gave no usable answer (unreachable, refused, too slow, malformed stream)."""


class GenerationTimedOut(GenerationFailed):
    """The language model was reachable but too slow: no first words in time, or no end in time."""


@dataclass(frozen=True)
class ChatClient:
    base_url: str  # e.g. http://127.0.0.1:8080/v1
    model: str = ""
    api_key: SecretStr | None = None
    first_token_timeout: float = 20.0
    total_timeout: float = 60.0
    max_tokens: int = 400
    temperature: float = 0.2
    grammar: bool = False  # constrain the form of the answer with llama.cpp's grammar field
    transport: httpx.BaseTransport | None = None  # tests hand in a fake one for faults real servers lack

    def stream(
        self, messages: Sequence[dict[str, str]], *, grammar: str | None = None
    ) -> Generator[str, None, None]:
        """The answer's text as it arrives, piece by piece. ``grammar`` (GBNF) constrains the output on
        servers that take llama.cpp's ``grammar`` field; others would refuse or ignore it.

        Closing the iterator early (a visitor who stops the answer) closes the connection, which is
        what makes llama-server and vLLM stop generating."""
        body: dict[str, object] = {
            "model": self.model or "default",
            "messages": list(messages),
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if grammar is not None:
            body["grammar"] = grammar
        headers = {"Accept": "text/event-stream"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        started = time.monotonic()
        timeout = httpx.Timeout(
            self.total_timeout, connect=min(5.0, self.first_token_timeout), read=self.first_token_timeout
        )
        try:
            with (
                httpx.Client(timeout=timeout, transport=self.transport) as client,
                client.stream("POST", url, json=body, headers=headers) as response,
            ):
                if response.status_code != 200:
                    raise GenerationFailed(f"Sprachmodell antwortet mit HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind != "text/event-stream":
                    raise GenerationFailed(f"Sprachmodell sendet keinen Ereignisstrom ({kind or 'ohne Typ'})")
                for line in response.iter_lines():
                    if time.monotonic() - started > self.total_timeout:
                        raise GenerationTimedOut("Sprachmodell braucht zu lange (Zeitlimit für die Antwort)")
                    piece = _delta(line)
                    if piece is None:
                        return
                    if piece:
                        yield piece
        except httpx.TimeoutException as exc:
            raise GenerationTimedOut("Sprachmodell antwortet nicht rechtzeitig") from exc
        except httpx.HTTPError as exc:
            raise GenerationFailed(f"Sprachmodell nicht erreichbar ({type(exc).__name__})") from exc

    def complete(self, messages: Sequence[dict[str, str]], *, grammar: str | None = None) -> str:
        return "".join(self.stream(messages, grammar=grammar))


def _delta(line: str) -> str | None:
    """The text of one event-stream line ('' for lines without text), None at ``[DONE]``."""
    line = line.strip()
    if not line.startswith("data:"):
        return ""  # blank lines, comments (":"), "event:" and "id:" lines
    data = line[5:].strip()
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
