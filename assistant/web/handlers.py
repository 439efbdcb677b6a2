"""Errors in the caller's terms: the app's exception handlers, one per branch of the tree in errors.py."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from ..errors import CallerError, OperatorError, SearchUnavailable, Unavailable
from .logs import private_path
from .messages import form_error, validation_problem
from .middleware import security_headers
from .operator_auth import LoginRequired
from .urls import ADMIN_LOGIN, API, OPENAPI

__all__ = [
    "HANDLERS",
    "INTERNAL_ERROR",
    "SEARCH_UNAVAILABLE",
    "cross_site",
    "is_api",
    "problem",
    "register_handlers",
    "render_error",
    "render_problem",
    "too_many",
]

log = logging.getLogger(__name__)

SEARCH_UNAVAILABLE = SearchUnavailable.public
INTERNAL_ERROR = (
    "Interner Fehler – die Anfrage konnte nicht beantwortet werden. Bitte später erneut versuchen."
)


def is_api(request: Request) -> bool:
    """Whether a request is answered in JSON (the API) rather than with a page."""
    return request.url.path.startswith(f"{API}/") or request.url.path == OPENAPI


def render_problem(
    templates: Jinja2Templates,
    request: Request,
    message: str,
    status: int,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A message for people in a browser, as a page in the site's layout."""
    return templates.TemplateResponse(
        request, "problem.html", {"error": message}, status_code=status, headers=headers
    )


def render_error(
    templates: Jinja2Templates,
    request: Request,
    message: str,
    status: int,
    *,
    fragment: bool,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """An error the visitor can act on: the fragment the chat's script puts into its status line, or
    a page in the site's layout."""
    if fragment:
        return templates.TemplateResponse(
            request, "_error.html", {"error": message}, status_code=status, headers=headers
        )
    return render_problem(templates, request, message, status, headers)


def problem(request: Request, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """An error in the caller's terms: JSON for the API; for a browser, the small fragment the
    chat's fetch() (app.js) puts into its status line, or a page in the site's layout when the
    browser navigates (a form post, a link; also any client that sends no Sec-Fetch-Mode)."""
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    fetched = request.headers.get("sec-fetch-mode", "navigate") != "navigate"
    templates: Jinja2Templates = request.app.state.templates
    return render_error(templates, request, message, status, fragment=fetched, headers=headers)


async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    """JSON for the API, a page in the site's layout for people in a browser."""
    headers = getattr(exc, "headers", None)
    detail = exc.detail if isinstance(exc.detail, str) else "Anfrage nicht möglich."
    if exc.status_code == 404 and detail == "Not Found":
        detail = "Diese Seite gibt es nicht."
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = "Diese Anfrageart ist hier nicht möglich."
    elif exc.status_code == 400 and (german := form_error(detail)):
        detail = german
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        # FastAPI's answer to a body that is not UTF-8 (a UnicodeDecodeError): the same mistake as
        # invalid JSON, which gets 422 with a German message, so it gets the same here.
        return await http_problem(
            request, StarletteHTTPException(422, "Ungültige Anfrage – der Inhalt ist kein JSON in UTF-8.")
        )
    return problem(request, detail, exc.status_code, headers)


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    detail = validation_problem(list(exc.errors()))
    return await http_problem(request, StarletteHTTPException(422, detail))


async def unavailable(request: Request, exc: Unavailable) -> Response:
    # The search engine's database (a replica, say) down or without the served release, the store
    # of conversations unreachable: a 503 to try again, never a 500 and never an answer from
    # another release. The error's own message (it may name a server) goes to the log only.
    log.error("%s for %s: %s", type(exc).__name__, private_path(request.url.path), exc)
    refusal = StarletteHTTPException(503, exc.public, {"Retry-After": str(exc.retry_after)})
    return await http_problem(request, refusal)


async def caller_error(request: Request, exc: CallerError) -> Response:
    return await http_problem(request, StarletteHTTPException(exc.status, str(exc)))


async def operator_error(request: Request, exc: OperatorError) -> Response:
    # A file, model or release the operator must put right: the log says what, the visitor gets
    # the page of an internal error (the message may name paths).
    log.error("%s answering %s: %s", type(exc).__name__, private_path(request.url.path), exc)
    headers = dict(security_headers(request.url.path))
    return problem(request, INTERNAL_ERROR, 500, headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    """Anything unexpected: a 500 with a German message and nothing of the exception (its text may
    name paths or secrets); the traceback goes to the server's log only.

    Starlette calls this from its ServerErrorMiddleware, outside every middleware the app adds, so
    the security headers are set here; it re-raises the exception afterwards (for the server).
    """
    log.error("internal error answering %s %s", request.method, private_path(request.url.path), exc_info=exc)
    headers = dict(security_headers(request.url.path))
    try:
        return problem(request, INTERNAL_ERROR, 500, headers)
    except Exception:  # noqa: BLE001 - the page itself fails (before routing, say): plain text then
        log.exception("the error page failed too")
        return PlainTextResponse(INTERNAL_ERROR, status_code=500, headers=headers)


async def too_many(scope: Scope, message: str, headers: dict[str, str]) -> Response:
    """The rate limit's refusal (``RateLimit``), in the caller's terms."""
    return problem(Request(scope), message, 429, headers)


async def cross_site(scope: Scope, message: str) -> Response:
    """The cross-site guard's refusal (``CrossSiteGuard``), in the caller's terms."""
    return problem(Request(scope), message, 403)


async def to_login(request: Request, exc: LoginRequired) -> Response:
    """A page of the operator area without a login: to the login form, and back afterwards."""
    return RedirectResponse(f"{ADMIN_LOGIN}?weiter={quote(exc.path)}", status_code=303)


#: Each handler with the exceptions it answers: the framework's refusals, then each branch of the
#: error tree (an exception finds the handler of its nearest class).
HANDLERS: tuple[tuple[type[Exception], Callable[[Request, Any], Awaitable[Response]]], ...] = (
    (LoginRequired, to_login),
    (StarletteHTTPException, http_problem),
    (RequestValidationError, invalid_request),
    (Unavailable, unavailable),
    (CallerError, caller_error),
    (OperatorError, operator_error),
    (Exception, internal_error),
)


def register_handlers(app: FastAPI) -> None:
    """The app's exception handlers, from ``HANDLERS``."""
    for exceptions, handler in HANDLERS:
        app.exception_handler(exceptions)(handler)
