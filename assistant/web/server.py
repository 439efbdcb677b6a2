"""How ``assistant serve`` runs uvicorn: its HTTP protocol with Nagle's algorithm off on every connection.

asyncio turns Nagle's algorithm off only for sockets whose ``proto`` is ``IPPROTO_TCP``. uvicorn's
multi-process mode binds its listening socket as ``socket.socket(family)``, whose ``proto`` is 0, so the
accepted connections kept Nagle on: a response written in two pieces then waited for the client's
delayed ACK, and every request with ``--workers 2`` took 40–48 ms longer (measured with
bench/latency.py). Setting ``TCP_NODELAY`` when a connection is made fixes that for every mode.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["NoDelayHTTPProtocol"]


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    def connection_made(self, transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not a TCP socket after all: nothing to switch off
                pass
        super().connection_made(transport)
