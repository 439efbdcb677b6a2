"""Helpers for tests that talk to a real server on a loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from assistant.config import Settings
from assistant.service import Assistant
from assistant.web.app import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(base: str, *, seconds: float = 30, alive: Callable[[], None] = lambda: None) -> None:
    """Poll ``base``/api/health until it answers; ``alive()`` raises if the server has died meanwhile."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(f"{base}/api/health", timeout=1)
            return
        except httpx.TransportError:
            alive()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def serving(settings: Settings, assistant: Assistant | None = None) -> Iterator[str]:
    """The app for ``settings`` (serving ``assistant`` when given) on a free loopback port; yields its
    base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, assistant=assistant), host="127.0.0.1", port=port, log_level="warning"
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(base)
    try:
        yield base
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


def read_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events of the chat's answer stream as (name, data) pairs."""
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events
