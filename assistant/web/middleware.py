"""The app's own ASGI middleware: security headers on every response and the limit on request bodies.

(The per-client rate limit is ``ratelimit.py``.) Both are plain ASGI, so they add no task or copy per
request.
"""

from __future__ import annotations

import anyio
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DRAIN_BYTES", "DRAIN_SECONDS", "BodyLimit", "SecurityHeaders", "security_headers"]

#: How much of a refused body is still read and thrown away, and for how long, before the 413 is sent.
#: A server that closes while the client is still sending makes the kernel answer with a reset, and a
#: client such as Python's urllib then reports "connection reset by peer" instead of the 413. A body
#: beyond these bounds is cut off anyway: reading gigabytes to be polite would be an invitation.
DRAIN_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 10.0


_CSP = (
    "default-src 'self'; script-src 'self'; style-src {styles}; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def security_headers(path: str) -> list[tuple[str, str]]:
    """The headers ``SecurityHeaders`` adds to every response for ``path``."""
    styles = "'self' 'unsafe-inline'" if path == "/docs" else "'self'"
    return [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("content-security-policy", _CSP.format(styles=styles)),
    ]


class SecurityHeaders:
    """Security headers on every response, as plain ASGI middleware (no per-request task or copy).

    Swagger UI sets inline styles, so /docs alone allows them; scripts stay 'self' everywhere. A
    header the endpoint set itself (the sandbox CSP of foreign HTML sources) is kept.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = security_headers(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in defaults:
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, as plain ASGI middleware.

    The body is counted while the app reads it, so a chunked body (no Content-Length) is limited too;
    a declared Content-Length over the limit is refused at the first read, before anything is read.
    The refusal is a 413 HTTPException raised from ``receive``, which FastAPI passes on unchanged from
    body parsing to the app's handler (JSON for the API, a page for the web chat), so no request makes
    the server hold more than ``max_bytes`` of body. Before refusing, the rest of the body is read and
    discarded (``discard``, bounded), so that the client, still sending, gets to read its 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = _BodyTooLarge(self.max_bytes)
        declared = next(
            (int(value) for name, value in scope["headers"] if name == b"content-length" and value.isdigit()),
            0,
        )
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            if declared > self.max_bytes:
                if declared <= DRAIN_BYTES:
                    await discard(receive, DRAIN_BYTES)
                raise too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if message.get("more_body", False):
                        await discard(receive, DRAIN_BYTES - received)
                    raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            # Raised where no handler of the app catches it (outside FastAPI's body parsing).
            if not started:
                response = JSONResponse({"detail": too_large.detail}, status_code=too_large.status_code)
                await response(scope, receive, send)


class _BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Die Anfrage ist zu groß (höchstens {limit} Bytes).")


async def discard(receive: Receive, limit: int) -> None:
    """Read and drop the rest of a request body: up to ``limit`` bytes and ``DRAIN_SECONDS``."""
    dropped = 0
    with anyio.move_on_after(DRAIN_SECONDS):
        while dropped < limit:
            message = await receive()
            if message["type"] != "http.request":
                return
            dropped += len(message.get("body", b""))
            if not message.get("more_body", False):
                return
