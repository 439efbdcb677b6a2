"""The FastAPI application factory: JSON API, web chat and static files over one loaded release."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from starlette.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .. import __version__
from ..config import Settings
from ..errors import UserStoreError
from ..operators import OperatorStore, open_operator_store
from ..operators.builds import BuildRunner
from ..reload import ReleaseWatcher, watch_releases
from ..service import Assistant, open_assistant
from ..userdata import UserStore, open_user_store, purge_periodically
from . import admin, admin_api, api, chat, privacy, sources, urls
from .deps import TemplatesDep
from .handlers import cross_site, register_handlers, too_many
from .middleware import BodyLimit, CrossSiteGuard, SecurityHeaders
from .ratelimit import RateLimit, TokenBuckets
from .urls import (
    admin_delete_url,
    admin_document_url,
    passage_url,
    reading_url,
    source_file_url,
    source_view_url,
)

__all__ = ["create_app", "create_app_from_env", "log_serving"]

log = logging.getLogger(__name__)

#: The API documentation: the vendored Swagger UI (no CDN, works offline) on the app's own schema.
docs_router = APIRouter(include_in_schema=False)


@docs_router.get(urls.DOCS)
def api_docs(request: Request, templates: TemplatesDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "docs.html", {})


#: Every router, in the order their routes are matched.
ROUTERS = (
    api.router,
    admin_api.router,
    chat.router,
    sources.router,
    privacy.router,
    admin.router,
    docs_router,
)


def create_app(settings: Settings | None = None, *, assistant: Assistant | None = None) -> FastAPI:
    """Build the app for a release; the release is loaded here, so a broken one fails at start-up.

    ``create_app(Settings(index_dir=path))`` serves the release under ``path``; tests may hand in
    an already loaded ``assistant``.
    """
    settings = settings or Settings()
    app = FastAPI(
        lifespan=_lifespan(settings, reload=assistant is None),  # a handed-in assistant stays
        docs_url=None,  # served by docs_router from vendored assets
        redoc_url=None,
        openapi_url=urls.OPENAPI,
        title="QM-Assistent",
        version=__version__,
        description="Cited passages from the guide 'Quartiersmanagement Soziale Stadt' for German questions.",
    )
    _open_state(app, settings, assistant)
    app.state.templates = _templates(settings)
    app.mount(urls.STATIC, StaticFiles(directory=str(settings.web_dir / "static")), name="static")
    for router in ROUTERS:
        app.include_router(router)
    register_handlers(app)
    _add_middleware(app, settings)
    return app


def _lifespan(settings: Settings, *, reload: bool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's background tasks while it serves (reloading releases when ``reload``, the retention
    periods), and at shut-down the builds stopped and the stores closed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run in anyio's worker threads (plain ``def`` endpoints); size that pool as configured.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        async with anyio.create_task_group() as tasks:
            if settings.reload_interval > 0 and reload:
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

    return lifespan


def _open_state(app: FastAPI, settings: Settings, assistant: Assistant | None) -> None:
    """What the routes' dependencies (``deps.py``) read: the settings, the served release (loaded
    here unless handed in), the stores and the build runner."""
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


def _served_release(request: Request) -> dict[str, str]:
    # The footer of every page names the release and model answering now (a reload may swap them).
    assistant: Assistant = request.app.state.assistant
    return {"model": assistant.model, "build_id": assistant.build_id}


def _templates(settings: Settings) -> Jinja2Templates:
    """The pages' templates (autoescape is on for .html), with the helpers they call."""
    templates = Jinja2Templates(
        directory=str(settings.web_dir / "templates"), context_processors=[_served_release]
    )
    templates.env.undefined = StrictUndefined  # a missing template variable is a bug, not an empty string
    templates.env.globals.update(
        urls=urls,  # every address a template writes, from the one module that declares them
        passage_url=passage_url,
        reading_url=reading_url,
        source_file_url=source_file_url,
        source_view_url=source_view_url,
        admin_document_url=admin_document_url,
        admin_delete_url=admin_delete_url,
        **chat.TEMPLATE_GLOBALS,
        **admin.TEMPLATE_GLOBALS,
    )
    return templates


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """The middleware, innermost first: the body limit, the rate limit, the cross-site guard, the
    forwarded client address, CORS, and outermost the security headers."""
    # Uploads may be larger than questions: up to the upload limit, plus room for the form around them.
    upload_limit = settings.max_upload_mb * 2**20 + 256 * 1024
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={urls.ADMIN_API_DOCUMENTS: upload_limit, urls.ADMIN_DOCUMENT: upload_limit},
    )
    if settings.rate_limit_per_minute > 0:
        buckets = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
        app.add_middleware(RateLimit, buckets=buckets, refuse=too_many)
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
