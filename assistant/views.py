"""The web chat: server-rendered pages (work without JavaScript) and the answer fragment used by JS."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .api import get_assistant, get_settings, validate_question
from .config import Settings
from .records import Answer
from .service import Assistant

__all__ = ["EXAMPLE_QUESTIONS", "make_router"]

EXAMPLE_QUESTIONS = (
    "Was ist ein Verfügungsfonds?",
    "Welche Aufgaben hat ein Quartiersmanagement vor Ort?",
    "Wie wird ein Gebiet nach § 171e BauGB festgelegt?",
    "Was bedeutet Verstetigung?",
)


def marked_segments(text: str, words: Sequence[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, highlighted) pairs at whole-word matches of ``words``. The template
    escapes each piece and wraps the highlighted ones in <mark>: no markup is built from text here."""
    if not words:
        return [(text, False)]
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(map(re.escape, sorted(words, key=len, reverse=True))) + r")(?![\w-])"
    )
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in pattern.finditer(text):
        if match.start() > last:
            pieces.append((text[last : match.start()], False))
        pieces.append((match.group(0), True))
        last = match.end()
    if last < len(text):
        pieces.append((text[last:], False))
    return pieces


def make_router(templates: Jinja2Templates) -> APIRouter:
    templates.env.globals["marked_segments"] = marked_segments

    router = APIRouter(include_in_schema=False)

    def render(
        request: Request, turns: list[Answer], *, error: str | None = None, status: int = 200
    ) -> HTMLResponse:
        assistant: Assistant = request.app.state.assistant
        return templates.TemplateResponse(
            request,
            "chat.html",
            {
                "turns": turns,
                "history": [t.question for t in turns],
                "examples": EXAMPLE_QUESTIONS,
                "error": error,
                "model": assistant.model,
                "build_id": assistant.build_id,
            },
            status_code=status,
        )

    @router.get("/", response_class=HTMLResponse)
    def chat(request: Request) -> HTMLResponse:
        return render(request, [])

    @router.post("/", response_class=HTMLResponse)
    def ask_form(
        request: Request,
        settings: Annotated[Settings, Depends(get_settings)],
        assistant: Annotated[Assistant, Depends(get_assistant)],
        question: Annotated[str, Form(max_length=100_000)] = "",
        history: Annotated[list[str] | None, Form(max_length=100_000)] = None,
        fragment: Annotated[str, Form()] = "",
    ) -> HTMLResponse:
        history = list(history or [])
        try:
            question, history, k = validate_question(settings, question, history, None)
        except HTTPException as exc:
            if fragment:
                return templates.TemplateResponse(
                    request, "_error.html", {"error": exc.detail}, status_code=exc.status_code
                )
            # Without JavaScript the whole page comes back with the message and the earlier turns.
            return render(
                request,
                _replay(
                    assistant, [h[: settings.max_question_chars] for h in history[: settings.max_history]]
                ),
                error=str(exc.detail),
                status=422,
            )
        answer = assistant.ask(question, history=history, k=k)
        if fragment:
            return templates.TemplateResponse(
                request, "_turn.html", {"turn": answer, "turn_number": len(history) + 1}
            )
        return render(request, [*_replay(assistant, history), answer])

    return router


def _replay(assistant: Assistant, questions: list[str]) -> list[Answer]:
    """Earlier turns, asked again: deterministic, and so the page needs no server-side session."""
    return [assistant.ask(q, history=questions[:i]) for i, q in enumerate(questions) if q.strip()]
