"""The app's own ASGI middleware: security headers on every response, the limit on request bodies, and
the refusal of state-changing requests that another web site's page sends.

(The per-client rate limit is ``ratelimit.py``.) Both are plain ASGI, so they add no task or copy per
request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import anyio
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .urls import API, DOCS

__all__ = [
    "CROSS_SITE",
    "DRAIN_BYTES",
    "DRAIN_SECONDS",
    "BodyLimit",
    "CrossSiteGuard",
    "SecurityHeaders",
    "security_headers",
]

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
    styles = "'self' 'unsafe-inline'" if path == DOCS else "'self'"
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

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})  # path → its own limit (the upload routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope["path"].rstrip("/"), self.max_bytes)
        too_large = _BodyTooLarge(max_bytes)
        declared = next(
            (int(value) for name, value in scope["headers"] if name == b"content-length" and value.isdigit()),
            0,
        )
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            if declared > max_bytes:
                if declared <= DRAIN_BYTES:
                    await discard(receive, DRAIN_BYTES)
                raise too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
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
        shown = f"{limit // 2**20} MB" if limit >= 2**20 else f"{limit} Bytes"
        super().__init__(413, f"Die Anfrage ist zu groß (höchstens {shown}).")


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


#: The refusal of a cross-site request, in the caller's terms.
CROSS_SITE = (
    "Diese Anfrage kam von einer anderen Website und wurde deshalb abgelehnt. Bitte stellen Sie sie "
    "direkt auf den Seiten des QM-Assistenten."
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteGuard:
    """Refuse a state-changing request (anything but GET, HEAD, OPTIONS) that a browser sends from
    another site's page: a form there could otherwise post a question, a rating or a deletion in a
    visitor's name (cross-site request forgery).

    Browsers say where a request comes from: ``Sec-Fetch-Site`` (all current ones), else ``Origin``.
    "same-origin" and "none" (typed or bookmarked) pass; "same-site" and "cross-site" are refused,
    except a page of an origin configured for CORS (``cors_origins``) calling the JSON API. Without
    either header the request is not a browser's (curl, a script), and no visitor's session can be
    abused by it: it passes. ``Origin`` is compared with the request's own scheme and host (behind a
    trusted proxy, the forwarded ones: this runs inside ``ProxyHeadersMiddleware``).
    """

    def __init__(
        self,
        app: ASGIApp,
        refuse: Callable[[Scope, str], Awaitable[Response]],
        api_origins: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.refuse = refuse
        self.api_origins = frozenset(o.rstrip("/").lower() for o in api_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = await self.refuse(scope, CROSS_SITE)
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        site = headers.get("sec-fetch-site", "").strip().lower()
        origin = headers.get("origin", "").strip().rstrip("/").lower()
        api = scope["path"].startswith(f"{API}/")
        if api and origin and origin in self.api_origins:
            return True
        if site:
            return site in ("same-origin", "none")
        if not origin:
            return True
        host = headers.get("host", "").strip().lower()
        return origin == f"{scope.get('scheme', 'http')}://{host}"
