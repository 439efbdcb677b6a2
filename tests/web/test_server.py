"""uvicorn as `assistant serve` runs it: connections have Nagle's algorithm off in every mode."""

import asyncio
import socket
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from assistant.web.server import NoDelayHTTPProtocol


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def nodelay_of_accepted_connections(protocol: type) -> list[int]:
    """Serve through a listening socket made the way uvicorn's multi-process mode makes it
    (``socket.socket(family)``, proto 0) and report TCP_NODELAY of each accepted connection."""
    seen: list[int] = []

    class Recording(protocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    listener = socket.socket(family=socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(hello, http=Recording, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with httpx.Client() as client:
            assert client.get(f"http://127.0.0.1:{port}/").text == "ok"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
    return seen


def test_connections_through_a_multi_process_socket_have_nagle_off() -> None:
    assert nodelay_of_accepted_connections(NoDelayHTTPProtocol) == [1]


def test_without_it_such_connections_keep_nagle_on() -> None:
    """The premise: asyncio leaves Nagle on for sockets whose proto is 0 (what caused the 48 ms)."""
    if socket.socket(family=socket.AF_INET).proto != 0:
        pytest.skip("this platform gives TCP sockets a non-zero proto")
    assert nodelay_of_accepted_connections(AutoHTTPProtocol) == [0]
