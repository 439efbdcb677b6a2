"""Per-client rate limiting: a token bucket per client address, as plain ASGI middleware.

Each client may send ``burst`` requests at once and ``per_minute`` requests a minute after that;
a request over the limit is answered 429 with ``Retry-After`` (whole seconds until the next request
would be accepted) and never reaches the app. Static files and ``/api/health`` are not counted: a
page load fetches its stylesheet and script, and load balancers probe health often.

Who the client is: ``scope["client"]``, which the app's ``ProxyHeadersMiddleware`` has already
replaced with the address a trusted reverse proxy forwarded (``Settings.trusted_proxies``). IPv6
clients are counted per /64 network, the block one household or host is usually given, so walking
through addresses inside it gains nothing.

The buckets live in the process: with several worker processes each keeps its own, so a client may
get up to ``workers`` times the rate (an exact limit across processes or servers belongs in the
reverse proxy). Their number is bounded (``max_clients``, least recently seen forgotten first), so
many addresses cannot grow the memory; a forgotten client starts again with a full bucket.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from time import monotonic

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .urls import API_HEALTH, STATIC

__all__ = ["RateLimit", "TokenBuckets", "client_key"]

#: Requests not counted: static files (by prefix) and the health check (this path exactly).
EXEMPT_PREFIX = f"{STATIC}/"
EXEMPT_PATHS = frozenset({API_HEALTH})

Refusal = Callable[[Scope, str, dict[str, str]], Awaitable[Response]]


def client_key(host: str | None) -> str:
    """The bucket a client address counts against: the address, or its /64 network for IPv6."""
    if not host:
        return "-"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]  # not an IP (a Unix socket path, say): counted as given, bounded
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class TokenBuckets:
    """Token buckets by key: ``take(key)`` returns 0 when a request may pass, else seconds to wait."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock or monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, time)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        now = self.clock()
        tokens, then = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)  # re-inserted last: the dict is ordered by last use
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        # A bucket that has had time to fill up again says nothing a new one would not: the client's
        # address is forgotten then (burst / rate seconds after its last request, 12 s by default).
        full_again = now - self.burst / self.rate
        while self._buckets and next(iter(self._buckets.values()))[1] <= full_again:
            self._buckets.popitem(last=False)
        return wait


class RateLimit:
    """Refuse requests over a client's rate with 429 and ``Retry-After``.

    ``refuse(scope, message, headers)`` builds the refusal, so the app answers in its own terms (JSON
    for the API, a page for the web chat). The buckets are only touched from the event loop, so they
    need no lock.
    """

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, refuse: Refusal) -> None:
        self.app = app
        self.buckets = buckets
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in EXEMPT_PATHS
            or scope["path"].startswith(EXEMPT_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.buckets.take(client_key(client[0] if client else None))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        unit = "Sekunde" if seconds == 1 else "Sekunden"
        message = f"Zu viele Anfragen – bitte in {seconds} {unit} erneut versuchen."
        response = await self.refuse(scope, message, {"Retry-After": str(seconds)})
        await response(scope, receive, send)
