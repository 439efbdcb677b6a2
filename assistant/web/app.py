"""The FastAPI application factory: JSON API, web chat and static files over one loaded release."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .. import __version__
from ..config import Settings
from ..errors import CallerError, OperatorError, SearchUnavailable, Unavailable, UserStoreError
from ..operators import OperatorStore, open_operator_store
from ..operators.builds import BuildRunner
from ..reload import ReleaseWatcher, watch_releases
from ..service import Assistant, open_assistant
from ..userdata import UserStore, open_user_store, purge_periodically
from . import urls
from .admin import make_router as make_admin_router
from .admin_api import ADMIN_DOCUMENTS
from .admin_api import router as admin_api_router
from .api import router as api_router
from .chat import make_router, relevance, render_error
from .logs import private_path
from .messages import form_error, validation_problem
from .middleware import BodyLimit, CrossSiteGuard, SecurityHeaders, security_headers
from .privacy import make_router as make_privacy_router
from .ratelimit import RateLimit, TokenBuckets
from .sources import make_router as make_sources_router
from .urls import (
    ADMIN_DOCUMENT,
    admin_delete_url,
    admin_document_url,
    passage_url,
    reading_url,
    source_file_url,
    source_view_url,
)

__all__ = ["INTERNAL_ERROR", "SEARCH_UNAVAILABLE", "create_app", "create_app_from_env"]

log = logging.getLogger(__name__)

SEARCH_UNAVAILABLE = SearchUnavailable.public
INTERNAL_ERROR = (
    "Interner Fehler – die Anfrage konnte nicht beantwortet werden. Bitte später erneut versuchen."
)


def create_app(settings: Settings | None = None, *, assistant: Assistant | None = None) -> FastAPI:
    """Build the app for a release; the release is loaded here, so a broken one fails at start-up.

    ``create_app(Settings(index_dir=path))`` serves the release under ``path``; tests may hand in
    an already loaded ``assistant``.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Requests run in anyio's worker threads (plain ``def`` endpoints); size that pool as configured.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        async with anyio.create_task_group() as tasks:
            if settings.reload_interval > 0 and assistant is None:  # a handed-in assistant stays
                tasks.start_soon(
                    watch_releases, app.state, ReleaseWatcher(settings), settings.reload_interval
                )
            # Conversations and feedback past the retention period are deleted by the server itself.
            tasks.start_soon(
                purge_periodically, app.state.userdata, settings.retention_days, settings.retention_check
            )
            tasks.start_soon(purge_audit_periodically, app.state.operators, settings)
            yield
            tasks.cancel_scope.cancel()
        app.state.builds.stop()
        store: UserStore = app.state.userdata
        store.close()
        operators: OperatorStore = app.state.operators
        operators.close()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served below from vendored assets: no CDN, works offline
        redoc_url=None,
        title="QM-Assistent",
        version=__version__,
        description="Cited passages from the guide 'Quartiersmanagement Soziale Stadt' for German questions.",
    )
    app.state.settings = settings
    app.state.assistant = assistant or open_assistant(settings)
    app.state.userdata = open_user_store(settings)
    app.state.operators = open_operator_store(settings)
    watcher = ReleaseWatcher(settings)

    def load_published() -> None:
        """A build started here has published: swap it in now, not at the next reload check."""
        fresh = watcher.check(app.state.assistant)
        if fresh is not None:
            app.state.assistant = fresh

    app.state.builds = BuildRunner(settings, app.state.operators, load_published)

    def served_release(request: Request) -> dict[str, str]:
        # The footer of every page names the release and model answering now (a reload may swap them).
        assistant: Assistant = request.app.state.assistant
        return {"model": assistant.model, "build_id": assistant.build_id}

    templates = Jinja2Templates(  # autoescape is on for .html
        directory=str(settings.web_dir / "templates"), context_processors=[served_release]
    )
    templates.env.undefined = StrictUndefined  # a missing template variable is a bug, not an empty string
    app.state.templates = templates
    app.mount("/static", StaticFiles(directory=str(settings.web_dir / "static")), name="static")
    app.include_router(api_router)
    app.include_router(admin_api_router)
    templates.env.globals.update(
        urls=urls,  # every address a template writes, from the one module that declares them
        relevance=relevance,
        passage_url=passage_url,
        reading_url=reading_url,
        source_file_url=source_file_url,
        source_view_url=source_view_url,
        admin_document_url=admin_document_url,
        admin_delete_url=admin_delete_url,
    )
    app.include_router(make_router(templates))
    app.include_router(make_sources_router(templates))
    app.include_router(make_privacy_router(templates))
    app.include_router(make_admin_router(templates))

    @app.get(urls.DOCS, include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "docs.html", {})

    def problem(
        request: Request, message: str, status: int, headers: dict[str, str] | None = None
    ) -> Response:
        """An error in the caller's terms: JSON for the API; for a browser, the small fragment the
        chat's fetch() (app.js) puts into its status line, or a page in the site's layout when the
        browser navigates (a form post, a link; also any client that sends no Sec-Fetch-Mode)."""
        if is_api(request):
            return JSONResponse({"detail": message}, status_code=status, headers=headers)
        fetched = request.headers.get("sec-fetch-mode", "navigate") != "navigate"
        return render_error(templates, request, message, status, fragment=fetched, headers=headers)

    @app.exception_handler(StarletteHTTPException)
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

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        detail = validation_problem(list(exc.errors()))
        return await http_problem(request, StarletteHTTPException(422, detail))

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> Response:
        # The search engine's database (a replica, say) down or without the served release, the store
        # of conversations unreachable: a 503 to try again, never a 500 and never an answer from
        # another release. The error's own message (it may name a server) goes to the log only.
        log.error("%s for %s: %s", type(exc).__name__, private_path(request.url.path), exc)
        refusal = StarletteHTTPException(503, exc.public, {"Retry-After": str(exc.retry_after)})
        return await http_problem(request, refusal)

    @app.exception_handler(CallerError)
    async def caller_error(request: Request, exc: CallerError) -> Response:
        return await http_problem(request, StarletteHTTPException(exc.status, str(exc)))

    @app.exception_handler(OperatorError)
    async def operator_error(request: Request, exc: OperatorError) -> Response:
        # A file, model or release the operator must put right: the log says what, the visitor gets
        # the page of an internal error (the message may name paths).
        log.error("%s answering %s: %s", type(exc).__name__, private_path(request.url.path), exc)
        headers = dict(security_headers(request.url.path))
        return problem(request, INTERNAL_ERROR, 500, headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        """Anything unexpected: a 500 with a German message and nothing of the exception (its text may
        name paths or secrets); the traceback goes to the server's log only.

        Starlette calls this from its ServerErrorMiddleware, outside every middleware added below, so
        the security headers are set here; it re-raises the exception afterwards (for the server).
        """
        log.error(
            "internal error answering %s %s", request.method, private_path(request.url.path), exc_info=exc
        )
        headers = dict(security_headers(request.url.path))
        try:
            return problem(request, INTERNAL_ERROR, 500, headers)
        except Exception:  # noqa: BLE001 - the page itself fails (before routing, say): plain text then
            log.exception("the error page failed too")
            return PlainTextResponse(INTERNAL_ERROR, status_code=500, headers=headers)

    # Uploads may be larger than questions: up to the upload limit, plus room for the form around them.
    upload_limit = settings.max_upload_mb * 2**20 + 256 * 1024
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={ADMIN_DOCUMENTS: upload_limit, ADMIN_DOCUMENT: upload_limit},
    )
    if settings.rate_limit_per_minute > 0:

        async def too_many(scope: Scope, message: str, headers: dict[str, str]) -> Response:
            return problem(Request(scope), message, 429, headers)

        buckets = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
        app.add_middleware(RateLimit, buckets=buckets, refuse=too_many)

    async def cross_site(scope: Scope, message: str) -> Response:
        return problem(Request(scope), message, 403)

    app.add_middleware(CrossSiteGuard, refuse=cross_site, api_origins=settings.cors_origins)
    # The client a rate is counted for: the address a trusted reverse proxy forwarded, if any. Done
    # here rather than by uvicorn, so it holds however the app is served (``cmd_serve`` turns
    # uvicorn's own proxy handling off).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    if settings.cors_origins:  # no CORS headers at all unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization"],
            allow_credentials=False,
        )
    app.add_middleware(SecurityHeaders)  # added last, so it runs first: the 413 gets the headers too
    return app


async def purge_audit_periodically(store: OperatorStore, settings: Settings) -> None:
    """The audit log's retention: entries older than ``audit_retention_days`` are deleted at start and
    every ``retention_check`` seconds."""
    import time

    while True:
        try:
            before = time.time() - settings.audit_retention_days * 86400
            deleted = await anyio.to_thread.run_sync(store.purge_audit, before)
            if deleted:
                log.info(
                    "audit log retention (%d days): %d entries deleted",
                    settings.audit_retention_days,
                    deleted,
                )
        except UserStoreError as exc:
            log.warning("audit log retention failed now (%s); trying again later", exc)
        await anyio.sleep(settings.retention_check)


def is_api(request: Request) -> bool:
    """Whether a request is answered in JSON (the API) rather than with a page."""
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def create_app_from_env() -> FastAPI:
    """The app from ``ASSISTANT_*`` environment variables: the factory each server process calls
    when ``assistant serve`` runs several workers."""
    log_serving()
    return create_app(Settings())


def log_serving() -> None:
    """What a server operator sees: warnings from everything, and the assistant's own messages from
    INFO up (which release is served, which one a reload swapped in or refused)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("assistant").setLevel(logging.INFO)
