"""The operator area at ``/verwaltung``: log in, the documents (upload by drag and drop or a plain
form, "So wurde gelesen", delete), rebuilding with live progress, and the audit log.

Every page works without JavaScript: forms post and the progress page reloads itself while a build
runs; with JavaScript, files can be dropped on the upload area and the progress streams (server-sent
events from ``/api/admin/builds/{id}/events``). A page asked for without a login leads to the login
form; every form carries the session's form token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..config import Settings
from ..errors import LoginRefused
from ..operators import Operator, OperatorStore
from ..progress import PHASES
from ..service import Assistant
from .admin_api import document_rows, known_build, receive_uploads, upload_summary
from .deps import AssistantDep, BuildsDep, OperatorsDep, SettingsDep
from .operator_auth import COOKIE, OptionalOperatorDep, PageOperatorDep, check_csrf, set_session_cookie
from .ratelimit import client_key
from .urls import (
    ADMIN,
    ADMIN_AUDIT,
    ADMIN_BUILD,
    ADMIN_BUILD_ROUTE,
    ADMIN_DELETE_ROUTE,
    ADMIN_DOCUMENT,
    ADMIN_DOCUMENT_ROUTE,
    ADMIN_LOGIN,
    ADMIN_LOGOUT,
    admin_build_url,
)

__all__ = ["TEMPLATE_GLOBALS", "render", "router"]

LOGIN_FAILED = "Name oder Passwort ist falsch."


def _when(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).astimezone().strftime("%d.%m.%Y %H:%M")


def _next(target: str) -> str:
    """Where to go after logging in: only an address inside the operator area (no open redirect)."""
    return (
        target if target.startswith(ADMIN) and not target.startswith("//") and "\\" not in target else ADMIN
    )


#: The pages, declared at module level; the app includes it.
router = APIRouter(include_in_schema=False)

#: What the operator area's templates call besides ``urls``; the app adds them to its templates' globals.
TEMPLATE_GLOBALS: dict[str, object] = {"when": _when, "phases": PHASES}


def render(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
    """A page of the operator area, never kept by a browser or proxy cache."""
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(ADMIN_LOGIN, response_class=HTMLResponse)
def login_page(request: Request, weiter: str = ADMIN) -> HTMLResponse:
    return render(request, "admin/login.html", error=None, name="", weiter=_next(weiter))


@router.post(ADMIN_LOGIN, response_class=HTMLResponse)
def login(
    request: Request,
    store: OperatorsDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    weiter: Annotated[str, Form(max_length=500)] = ADMIN,
) -> Response:
    client = client_key(request.client.host if request.client else None)
    try:
        secret, operator = store.login(name, password, client)  # slow on purpose: a worker thread
    except LoginRefused as refused:
        if refused.checked:  # attempts refused unchecked during a slow-down are not logged one by one
            store.audit(name.strip()[:64] or "(leer)", "Anmeldung fehlgeschlagen")
        if refused.wait > 0:
            seconds = int(refused.wait) + 1
            message = f"Zu viele fehlgeschlagene Anmeldungen. Bitte in {seconds} Sekunden erneut versuchen."
            headers = {"Retry-After": str(int(refused.wait) + 1)}
            response = render(
                request, "admin/login.html", 429, error=message, name=name, weiter=_next(weiter)
            )
            response.headers.update(headers)
            return response
        return render(request, "admin/login.html", 401, error=LOGIN_FAILED, name=name, weiter=_next(weiter))
    store.audit(operator.name, "angemeldet")
    redirect = RedirectResponse(_next(weiter), status_code=303)
    set_session_cookie(redirect, request, secret, int(settings.session_hours * 3600))
    return redirect


@router.post(ADMIN_LOGOUT)
def logout(
    request: Request,
    store: OperatorsDep,
    operator: OptionalOperatorDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if operator is not None:
        check_csrf(operator, csrf)
        store.logout(request.cookies.get(COOKIE, ""))
        store.audit(operator.name, "abgemeldet")
    response = RedirectResponse(ADMIN_LOGIN, status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def documents_page(
    request: Request,
    operator: Operator,
    assistant: Assistant,
    store: OperatorStore,
    settings: Settings,
    status: int = 200,
    outcome: str | None = None,
    problems: list[str] | None = None,
) -> HTMLResponse:
    builds = store.builds(limit=1)
    return render(
        request,
        "admin/documents.html",
        status,
        operator=operator,
        documents=document_rows(assistant, store, settings),
        outcome=outcome,
        problems=problems or [],
        last_build=builds[0] if builds else None,
        max_upload_mb=settings.max_upload_mb,
    )


@router.get(ADMIN, response_class=HTMLResponse)
def documents(
    request: Request,
    operator: PageOperatorDep,
    assistant: AssistantDep,
    store: OperatorsDep,
    settings: SettingsDep,
) -> Response:
    return documents_page(request, operator, assistant, store, settings)


@router.post(ADMIN_DOCUMENT, response_class=HTMLResponse)
async def upload(
    request: Request,
    operator: PageOperatorDep,
    assistant: AssistantDep,
    store: OperatorsDep,
    settings: SettingsDep,
) -> Response:
    # Nothing is stored before the form token is checked.
    stored, refused = await receive_uploads(
        request,
        settings,
        store,
        operator,
        assistant,
        check=lambda f: check_csrf(operator, f.get("csrf", "")),
    )
    status = 200 if not refused else refused[0][1]

    def page() -> HTMLResponse:
        return documents_page(
            request,
            operator,
            assistant,
            store,
            settings,
            status=status,
            outcome=upload_summary(stored, []) if stored else None,
            problems=[message for _, _, message in refused],
        )

    return await anyio.to_thread.run_sync(page)


@router.get(ADMIN_DOCUMENT_ROUTE, response_class=HTMLResponse)
def how_read(
    request: Request,
    name: str,
    operator: PageOperatorDep,
    store: OperatorsDep,
) -> Response:
    upload = store.upload(name)
    if upload is None:
        raise HTTPException(404, "Ein hochgeladenes Dokument dieses Namens gibt es nicht.")
    return render(request, "admin/read.html", operator=operator, upload=upload)


@router.post(ADMIN_DELETE_ROUTE)
def delete(
    name: str,
    operator: PageOperatorDep,
    store: OperatorsDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    from ..operators.uploads import remove_upload

    check_csrf(operator, csrf)
    if not remove_upload(name, settings, store, operator):
        raise HTTPException(404, "Ein hochgeladenes Dokument dieses Namens gibt es nicht.")
    return RedirectResponse(ADMIN, status_code=303)


@router.post(ADMIN_BUILD)
def start_build(
    operator: PageOperatorDep,
    builds: BuildsDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(operator, csrf)
    state, _ = builds.start(operator)
    return RedirectResponse(admin_build_url(state.id), status_code=303)


@router.get(ADMIN_BUILD_ROUTE, response_class=HTMLResponse)
def build_page(
    request: Request,
    build_id: str,
    operator: PageOperatorDep,
    store: OperatorsDep,
) -> Response:
    return render(request, "admin/build.html", operator=operator, build=known_build(store, build_id))


@router.get(ADMIN_AUDIT, response_class=HTMLResponse)
def audit(
    request: Request,
    operator: PageOperatorDep,
    store: OperatorsDep,
    settings: SettingsDep,
) -> Response:
    return render(
        request,
        "admin/audit.html",
        operator=operator,
        entries=store.audit_log(limit=500),
        days=settings.audit_retention_days,
    )
