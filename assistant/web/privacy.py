"""The privacy notice (/datenschutz), written from the settings in force: what is stored, for how long,
who can read it, how it is deleted, what the logs hold and where questions go. The operator adds their
own part (who runs the service, the data protection officer) from ``ASSISTANT_PRIVACY_CONTACT_FILE``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..config import Settings
from .deps import SettingsDep, TemplatesDep
from .urls import PRIVACY

__all__ = ["PrivacyFacts", "router"]

log = logging.getLogger(__name__)

#: The longest operator text read (a privacy notice, not a book).
_CONTACT_LIMIT = 20_000


@dataclass(frozen=True)
class PrivacyFacts:
    """What the notice states, each fact taken from a setting."""

    retention_days: int
    keeps_nothing: bool  # nothing stored beyond the request (retention_days 0)
    shared_database: bool  # PostgreSQL (several servers) rather than a file on this server
    feedback_over_api: bool  # an admin token is configured
    access_log: bool
    log_clients: str
    rate_limit_seconds: int | None  # how long an address is kept in memory, None without a rate limit
    language_model_host: str | None  # where questions go when a language model is configured
    contact: list[str]  # the operator's paragraphs

    @classmethod
    def of(cls, settings: Settings) -> PrivacyFacts:
        seconds = None
        if settings.rate_limit_per_minute > 0:
            seconds = max(1, round(settings.rate_limit_burst / (settings.rate_limit_per_minute / 60)))
        host = None
        if settings.llm_url:
            parts = urlsplit(settings.llm_url)
            host = parts.hostname or settings.llm_url  # never the path, a user name or a password
            if parts.port:
                host = f"{host}:{parts.port}"
        return cls(
            retention_days=settings.retention_days,
            keeps_nothing=settings.keeps_nothing,
            shared_database=settings.database_url is not None,
            feedback_over_api=settings.admin_token is not None,
            access_log=settings.access_log,
            log_clients=settings.log_clients,
            rate_limit_seconds=seconds,
            language_model_host=host,
            contact=_contact(settings),
        )


def _contact(settings: Settings) -> list[str]:
    path = settings.privacy_contact_file
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")[:_CONTACT_LIMIT]
    except (OSError, UnicodeDecodeError) as exc:
        log.error("the privacy contact file cannot be read: %s", exc)
        return []
    return [" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


#: The notice's page, declared at module level; the app includes it.
router = APIRouter(include_in_schema=False)


@router.get(PRIVACY, response_class=HTMLResponse)
def privacy_notice(request: Request, settings: SettingsDep, templates: TemplatesDep) -> HTMLResponse:
    facts = PrivacyFacts.of(settings)
    return templates.TemplateResponse(request, "privacy.html", {"facts": facts})
