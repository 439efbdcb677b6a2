"""Helpers for tests that talk to a real server on a loopback port."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx


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
