"""Who is asking in the operator area: a session cookie from the login page, or an API token.

The session cookie holds a random secret (the store keeps only its digest), is HttpOnly and
SameSite=Strict, and Secure whenever the request came over https (behind a trusted proxy: as it
forwarded). Every state-changing request made with the cookie must also carry the session's form
token (a hidden ``csrf`` field, or the ``X-CSRF-Token`` header): with SameSite and the cross-site
guard, a third defence against forged requests. A bearer token needs none: a browser never sends it
on its own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from ..operators import Operator, OperatorStore
from .deps import OperatorsDep
from .urls import ADMIN

__all__ = [
    "COOKIE",
    "NOT_LOGGED_IN",
    "LoginRequired",
    "OperatorDep",
    "OptionalOperatorDep",
    "PageOperatorDep",
    "api_operator",
    "check_csrf",
    "optional_operator",
    "page_operator",
    "set_session_cookie",
]

COOKIE = "qm_verwaltung"
NOT_LOGGED_IN = f"Anmeldung erforderlich: bitte unter {ADMIN} anmelden oder ein gültiges Token senden."
BAD_FORM_TOKEN = "Das Formular ist abgelaufen oder kam nicht von dieser Seite. Bitte die Seite neu laden."

_bearer = HTTPBearer(
    auto_error=False, description="An operator token from 'assistant admin token NAME' (or the login cookie)."
)


def optional_operator(
    request: Request,
    store: OperatorsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Operator | None:
    """The operator behind the request's bearer token or session cookie, or None."""
    if credentials is not None:
        return store.token(credentials.credentials)
    secret = request.cookies.get(COOKIE, "")
    return store.session(secret) if secret else None


def api_operator(
    request: Request, operator: Annotated[Operator | None, Depends(optional_operator)]
) -> Operator:
    """The operator, or 401 (nothing is changed); a cookie-authenticated change also needs the form token."""
    if operator is None:
        raise HTTPException(401, NOT_LOGGED_IN, headers={"WWW-Authenticate": "Bearer"})
    if request.method not in ("GET", "HEAD") and operator.via == "session":
        check_csrf(operator, request.headers.get("x-csrf-token", ""))
    return operator


class LoginRequired(Exception):  # noqa: N818 (control flow, not an error a user is shown)
    """A page of the operator area asked for without a login: ``handlers.to_login`` answers it with
    a redirect to the login form, which comes back to ``path`` afterwards."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def page_operator(
    request: Request, operator: Annotated[Operator | None, Depends(optional_operator)]
) -> Operator:
    """The operator behind a page request; without one, the login form (``LoginRequired``)."""
    if operator is None:
        raise LoginRequired(request.url.path)
    return operator


#: The operator behind a request, or None.
OptionalOperatorDep = Annotated[Operator | None, Depends(optional_operator)]
#: The operator behind a page request; without one, a redirect to the login form.
PageOperatorDep = Annotated[Operator, Depends(page_operator)]
#: The operator behind an API request; without one, 401.
OperatorDep = Annotated[Operator, Depends(api_operator)]


def check_csrf(operator: Operator, sent: str) -> None:
    if operator.via == "session" and not OperatorStore.csrf_matches(operator, sent):
        raise HTTPException(403, BAD_FORM_TOKEN)


def set_session_cookie(response: Response, request: Request, secret: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
