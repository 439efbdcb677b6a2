"""The FastAPI application factory: JSON API, web chat and static files over one loaded release."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .api import router as api_router
from .config import Settings
from .service import Assistant, open_assistant
from .sources import make_router as make_sources_router
from .userdata import UserStore
from .views import make_router, relevance

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, assistant: Assistant | None = None) -> FastAPI:
    """Build the app for a release; the release is loaded here, so a broken one fails at start-up.

    ``create_app(Settings(index_dir=path))`` serves the release under ``path``; tests may hand in
    an already loaded ``assistant``.
    """
    settings = settings or Settings()
    app = FastAPI(
        docs_url=None,  # served below from vendored assets: no CDN, works offline
        redoc_url=None,
        title="QM-Assistent",
        version=__version__,
        description="Cited passages from the guide 'Quartiersmanagement Soziale Stadt' for German questions.",
    )
    app.state.settings = settings
    app.state.assistant = assistant or open_assistant(settings)
    app.state.userdata = UserStore(settings.database)

    templates = Jinja2Templates(directory=str(settings.web_dir / "templates"))  # autoescape is on for .html
    templates.env.undefined = StrictUndefined  # a missing template variable is a bug, not an empty string
    app.mount("/static", StaticFiles(directory=str(settings.web_dir / "static")), name="static")
    app.include_router(api_router)
    templates.env.globals["relevance"] = relevance
    app.include_router(make_router(templates))
    app.include_router(make_sources_router(templates))

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "docs.html", {})

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
        """JSON for the API, a page in the site's layout for people in a browser."""
        headers = getattr(exc, "headers", None)
        detail = exc.detail if isinstance(exc.detail, str) else "Anfrage nicht möglich."
        if exc.status_code == 404 and detail == "Not Found":
            detail = "Diese Seite gibt es nicht."
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = "Diese Anfrageart ist hier nicht möglich."
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)
        assistant: Assistant = request.app.state.assistant
        return templates.TemplateResponse(
            request,
            "problem.html",
            {"error": detail, "model": assistant.model, "build_id": assistant.build_id},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "Anfrage"
            problems.append(f"{where}: {error.get('msg', 'ungültig')}")
        detail = "Ungültige Anfrage – " + "; ".join(problems)
        return await http_problem(request, StarletteHTTPException(422, detail))

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        # Swagger UI sets inline styles, so /docs alone allows them; scripts stay 'self' everywhere.
        styles = "'self' 'unsafe-inline'" if request.url.path == "/docs" else "'self'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self'; style-src {styles}; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        return response

    return app
