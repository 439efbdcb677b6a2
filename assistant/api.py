"""JSON API: ``POST /api/ask`` and ``GET /api/health``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from .config import Settings
from .service import Assistant

__all__ = ["AskRequest", "get_assistant", "get_settings", "router", "validate_question"]

router = APIRouter(prefix="/api", tags=["api"])


class AskRequest(BaseModel):
    """A question, optionally with the earlier questions of the same conversation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "Wer entscheidet über den Verfügungsfonds?", "history": [], "k": 5}]
        },
    )

    question: str = Field(description="The question, in German.", max_length=100_000)
    history: list[Annotated[str, Field(max_length=100_000)]] = Field(
        default_factory=list,
        description="Earlier questions of this conversation, oldest first.",
        max_length=1000,
    )
    k: int | None = Field(default=None, description="How many passages to return.")


class CitationOut(BaseModel):
    document: str
    chapter: str
    section: str
    page: str | None
    label: str
    url: str | None = Field(description="The source file as served by this app, at the page for PDFs.")


class PassageOut(BaseModel):
    id: str
    text: str
    score: float
    citation: CitationOut
    highlights: list[str] = Field(description="Words of the passage that matched the question.")


class AnswerSentenceOut(BaseModel):
    text: str = Field(description="A sentence quoted unchanged from a passage.")
    passage_id: str
    marker: int = Field(description="Number of the passage in 'passages' (1-based), the citation marker.")


class AskResponse(BaseModel):
    question: str
    passages: list[PassageOut]
    answer: list[AnswerSentenceOut] = Field(
        description="Short extractive answer: best-matching sentences of the top passages, nothing generated."
    )
    searched: str = Field(
        description="What was searched for: the question, with words taken from earlier turns."
    )
    no_match: bool
    message: str | None = Field(description="Shown instead of passages when nothing matches.")
    model: str
    build_id: str


class Problem(BaseModel):
    detail: str = Field(description="What is wrong with the request, in German.")


class Health(BaseModel):
    status: str
    build_id: str
    model: str
    passages: int


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_assistant(request: Request) -> Assistant:
    # One reference per request: a reload swaps app.state.assistant whole, never mutates it.
    return request.app.state.assistant


def validate_question(
    settings: Settings, question: str, history: list[str], k: int | None
) -> tuple[str, list[str], int]:
    """Apply the configured limits; raises HTTPException(422) with a message the caller can act on."""
    cleaned = " ".join(question.split())
    if not cleaned:
        raise HTTPException(422, "Die Frage ist leer.")
    if len(cleaned) > settings.max_question_chars:
        raise HTTPException(422, f"Die Frage ist zu lang (höchstens {settings.max_question_chars} Zeichen).")
    if len(history) > settings.max_history:
        raise HTTPException(422, f"Zu viele frühere Fragen (höchstens {settings.max_history}).")
    history = [" ".join(h.split())[: settings.max_question_chars] for h in history if h.strip()]
    if k is None:
        k = settings.top_k
    if not 1 <= k <= settings.max_k:
        raise HTTPException(422, f"k muss zwischen 1 und {settings.max_k} liegen.")
    return cleaned, history, k


@router.post(
    "/ask",
    response_model=AskResponse,
    summary="Ask a question, get cited passages",
    responses={422: {"model": Problem, "description": "Invalid question, history, k or body"}},
)
def ask(
    body: AskRequest,
    settings: Annotated[Settings, Depends(get_settings)],
    assistant: Annotated[Assistant, Depends(get_assistant)],
) -> dict[str, Any]:
    # A plain ``def``: FastAPI runs it in its thread pool, so encoding never blocks the event loop.
    question, history, k = validate_question(settings, body.question, body.history, body.k)
    return assistant.ask(question, history=history, k=k).to_dict()


@router.get("/health", response_model=Health, summary="Service status and the served release")
def health(assistant: Annotated[Assistant, Depends(get_assistant)]) -> dict[str, Any]:
    return {
        "status": "ok",
        "build_id": assistant.build_id,
        "model": assistant.model,
        "passages": assistant.passage_count,
    }
