"""The web chat: server-rendered pages that work without JavaScript, and the fragments JS inserts.

Each conversation has its own address, ``/gespraech/<id>``: questions and the answers shown are
stored (``userdata``), so a reload or a shared link shows the same conversation, and follow-up
questions are searched with the earlier ones. Plain form posts are answered with a redirect to the
conversation (post/redirect/get); with ``fragment=1`` the server returns just the new turn.

With a language model configured, a plain post waits for its checked answer. The script asks with
``stream=1`` instead: the turn comes back at once with the passages and the Kurzantwort, and the model's
answer is then streamed by ``POST /gespraech/<id>/<n>/antwort`` as server-sent events (``text`` events
with the unchecked draft, one ``done`` event with the checked section as HTML), and stored with the
turn. Stopping (the visitor closes the stream), a slow, refused or failing model all end in ``done``
with a notice, or for a stop, in the stored notice; the Kurzantwort stands in every case.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Annotated

import anyio
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..errors import GenerationFailed, InvalidInput, UserStoreError
from ..generation.writer import STOPPED, Writer
from ..records import Answer
from ..service import Assistant
from ..userdata import StoredTurn, UserStore, is_conversation_id
from ..validation import validate_comment, validate_question
from .deps import AssistantDep, SettingsDep, StoreDep, TemplatesDep
from .handlers import render_error
from .urls import (
    ANSWER_ROUTE,
    ANSWER_STREAM,
    CONVERSATION,
    CONVERSATION_ROUTE,
    DELETE_ROUTE,
    FEEDBACK_ROUTE,
    HOME,
    answer_url,
    conversation_url,
    delete_url,
)

__all__ = [
    "EXAMPLE_QUESTIONS",
    "NOT_KEPT",
    "INTERRUPTED",
    "NOT_LOADED",
    "TEMPLATE_GLOBALS",
    "marked_segments",
    "relevance",
    "router",
]

log = logging.getLogger(__name__)

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


def relevance(score: float) -> str:
    """A hit's score as shown in the chat, with a German decimal comma."""
    return f"{score:.2f}".replace(".", ",")


#: The chat's pages and fragments, declared at module level; the app includes it.
router = APIRouter(include_in_schema=False)

#: What the chat's templates call besides ``urls``; the app adds them to its templates' globals.
TEMPLATE_GLOBALS: dict[str, object] = {"relevance": relevance, "marked_segments": marked_segments}


def page(
    templates: Jinja2Templates,
    request: Request,
    turns: Sequence[StoredTurn],
    *,
    conversation: str | None = None,
    error: str | None = None,
    status: int = 200,
    earlier: Sequence[str] = (),
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "chat.html",
        {
            "turns": turns,
            "conversation": conversation,
            "earlier": earlier,
            "examples": EXAMPLE_QUESTIONS,
            "error": error,
        },
        status_code=status,
    )


def turn_fragment(
    templates: Jinja2Templates,
    request: Request,
    entry: StoredTurn,
    conversation: str | None,
    *,
    stream_url: str | None,
    stream_question: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """One turn for the script. With ``stream_url``, a placeholder the model's answer is streamed
    into; ``stream_question`` when the stream must be sent the question (nothing is stored)."""
    context: dict[str, object] = {"entry": entry, "conversation": conversation}
    if stream_url is not None:
        context["stream_url"] = stream_url
        context["notices"] = {"stopped": STOPPED, "interrupted": INTERRUPTED}
        if stream_question is not None:
            context["stream_question"] = stream_question
    return templates.TemplateResponse(request, "_turn.html", context, headers=headers)


@dataclass(frozen=True)
class _Asking:
    """What answering a question in the chat needs: the app's state for this request, and how the
    question came (``fragment``: from the script, which shows errors in its status line)."""

    request: Request
    settings: Settings
    assistant: Assistant
    store: UserStore
    templates: Jinja2Templates
    fragment: bool

    def problem(self, message: str, status: int) -> HTMLResponse:
        return render_error(self.templates, self.request, message, status, fragment=self.fragment)


def ask(
    asking: _Asking, conversation: str | None, question: str, stream: bool = False
) -> Response | _Pending:
    """The turn for ``question``; runs in a worker thread. Where the language model must write the
    answer before the page comes back (no script), it returns the search's answer as ``_Pending``:
    the route has the model write on the event loop, then calls its ``finish`` in a worker thread."""
    settings, assistant, store, fragment = asking.settings, asking.assistant, asking.store, asking.fragment
    if settings.keeps_nothing:  # an address from before: nothing of it is kept
        return asking.problem(GONE, 404)
    earlier: list[str] = []
    if conversation is not None:
        # Only the questions: a follow-up needs them, not the stored answers.
        try:
            found = store.questions(conversation) if is_conversation_id(conversation) else None
        except UserStoreError:
            return asking.problem(NOT_LOADED, 503)
        if found is None:
            return asking.problem(GONE, 404)
        earlier = found
    checked = _checked_question(asking, conversation, question, earlier)
    if isinstance(checked, Response):
        return checked
    question, k = checked
    history = earlier[-settings.max_history :] if settings.max_history else []
    # The script streams the model's answer afterwards; a plain post waits for it (``_Pending``).
    streamed = fragment and stream and assistant.writer is not None
    answer = assistant.ask(question, history=history, k=k, generate=False)

    def finish(answer: Answer) -> Response:
        try:
            stored, number = store.add_turn(conversation, answer)
        except UserStoreError:
            return asking.problem(NOT_SAVED, 503)
        except KeyError:  # the conversation vanished between reading and writing
            return asking.problem(GONE, 404)
        url = conversation_url(stored)
        if fragment:
            streams = streamed and assistant.generates_for(answer)
            return turn_fragment(
                asking.templates,
                asking.request,
                StoredTurn(number, answer),
                stored,
                stream_url=answer_url(stored, number) if streams else None,
                headers={"X-Gespraech": url, "X-Gespraech-Loeschen": delete_url(stored)},
            )
        return RedirectResponse(conversation_url(stored, f"frage{number}"), status_code=303)

    if not streamed and assistant.generates_for(answer):
        return _Pending(answer, history, finish)
    return finish(answer)


def _checked_question(
    asking: _Asking, conversation: str | None, question: str, earlier: list[str]
) -> tuple[str, int] | HTMLResponse:
    """The question, checked, with how many passages to find; or the page (or fragment) that refuses
    it: a question the settings do not allow, or one more than the conversation may hold."""
    settings = asking.settings
    try:
        try:
            question, _, k = validate_question(settings, question, [], None)
        except InvalidInput as invalid:
            raise HTTPException(422, str(invalid)) from invalid
        if len(earlier) >= settings.max_turns:
            raise HTTPException(
                422,
                f"Dieses Gespräch hat {settings.max_turns} Fragen erreicht; bitte ein neues beginnen.",
            )
    except HTTPException as exc:
        if asking.fragment:
            return asking.problem(str(exc.detail), exc.status_code)
        # Without JavaScript the whole page comes back with the message and the earlier turns.
        turns = (_load(asking.store, conversation) or []) if conversation is not None else []
        return page(
            asking.templates,
            asking.request,
            turns,
            conversation=conversation,
            error=str(exc.detail),
            status=exc.status_code,
        )
    return question, k


def ask_unstored(
    asking: _Asking, question: str, earlier: list[str], stream: bool, turn: int | None
) -> Response | _Pending:
    """With ASSISTANT_RETENTION_DAYS=0 nothing is stored: the page carries the earlier questions
    itself (hidden fields), the answer comes back at once (no redirect, no address), and the
    model's answer is streamed from the question rather than from a stored turn. ``turn`` is the
    turn's number on the page (the script counts; earlier questions are capped at max_history)."""
    assistant, fragment = asking.assistant, asking.fragment
    try:
        question, earlier, k = _unstored_question(asking.settings, question, earlier)
    except InvalidInput as invalid:
        if fragment:
            return asking.problem(str(invalid), 422)
        return page(asking.templates, asking.request, [], error=str(invalid), status=422, earlier=earlier)
    streamed = fragment and stream and assistant.writer is not None
    answer = assistant.ask(question, history=earlier, k=k, generate=False)

    def finish(answer: Answer) -> Response:
        entry = StoredTurn(turn or len(earlier) + 1, answer)
        if fragment:
            streams = streamed and assistant.generates_for(answer)
            return turn_fragment(
                asking.templates,
                asking.request,
                entry,
                None,
                stream_url=ANSWER_STREAM if streams else None,
                stream_question=question,
            )
        return page(asking.templates, asking.request, [entry], earlier=[*earlier, question])

    if not streamed and assistant.generates_for(answer):
        return _Pending(answer, earlier, finish)
    return finish(answer)


@router.post(ANSWER_STREAM)
async def stream_unstored(
    request: Request,
    settings: SettingsDep,
    assistant: AssistantDep,
    templates: TemplatesDep,
    question: Annotated[str, Form(max_length=100_000)] = "",
    earlier: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    number: Annotated[int, Form(ge=1, le=100_000)] = 1,
) -> Response:
    """The model's answer to a question asked in a conversation that is not stored (retention 0):
    the passages are found again from the question, then streamed as for a stored turn."""
    try:
        question, history, k = _unstored_question(settings, question, earlier)
    except InvalidInput as invalid:
        return render_error(templates, request, str(invalid), 422, fragment=True)
    answer = await run_in_threadpool(lambda: assistant.ask(question, history=history, k=k, generate=False))
    return answer_stream(request, templates, assistant, answer, number, keep=None)


@router.get(HOME, response_class=HTMLResponse)
def chat(request: Request, templates: TemplatesDep) -> HTMLResponse:
    return page(templates, request, [])


async def answered(assistant: Assistant, turn: Response | _Pending) -> Response:
    """The response for a turn; a pending one after the language model wrote its answer, read on the
    event loop (no worker thread waits for the model)."""
    if isinstance(turn, _Pending):
        written = await assistant.generated(turn.answer, turn.history)
        return await run_in_threadpool(turn.finish, written)
    return turn


@router.post(HOME, response_class=HTMLResponse)
@router.post(CONVERSATION, response_class=HTMLResponse)
async def start_conversation(
    request: Request,
    settings: SettingsDep,
    assistant: AssistantDep,
    store: StoreDep,
    templates: TemplatesDep,
    question: Annotated[str, Form(max_length=100_000)] = "",
    fragment: Annotated[str, Form(max_length=10)] = "",
    stream: Annotated[str, Form(max_length=10)] = "",
    earlier: Annotated[list[str], Form()] = [],  # noqa: B006 - only when nothing is stored
    turn: Annotated[int | None, Form(ge=1, le=100_000)] = None,
) -> Response:
    asking = _Asking(request, settings, assistant, store, templates, bool(fragment))
    if settings.keeps_nothing:
        pending = await run_in_threadpool(ask_unstored, asking, question, earlier, bool(stream), turn)
    else:
        pending = await run_in_threadpool(ask, asking, None, question, bool(stream))
    return await answered(assistant, pending)


@router.get(CONVERSATION_ROUTE, response_class=HTMLResponse)
def show_conversation(
    request: Request, conversation: str, store: StoreDep, templates: TemplatesDep
) -> HTMLResponse:
    turns = _load(store, conversation)
    if turns is None:
        return render_error(templates, request, GONE, 404, fragment=False)
    return page(templates, request, turns, conversation=conversation)


@router.post(CONVERSATION_ROUTE, response_class=HTMLResponse)
async def continue_conversation(
    request: Request,
    conversation: str,
    settings: SettingsDep,
    assistant: AssistantDep,
    store: StoreDep,
    templates: TemplatesDep,
    question: Annotated[str, Form(max_length=100_000)] = "",
    fragment: Annotated[str, Form(max_length=10)] = "",
    stream: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    asking = _Asking(request, settings, assistant, store, templates, bool(fragment))
    pending = await run_in_threadpool(ask, asking, conversation, question, bool(stream))
    return await answered(assistant, pending)


@router.post(ANSWER_ROUTE)
async def stream_generated(
    request: Request,
    conversation: str,
    number: int,
    assistant: AssistantDep,
    store: StoreDep,
    templates: TemplatesDep,
) -> Response:
    """The language model's answer to a stored turn, as server-sent events (see the module doc).
    A turn whose answer was already written (or that has nothing to write) gets its stored result
    without a call to the model."""
    try:
        turns = await run_in_threadpool(_load, store, conversation)
    except UserStoreError:
        return render_error(templates, request, NOT_LOADED, 503, fragment=True)
    if turns is None or not 1 <= number <= len(turns):
        return render_error(templates, request, GONE, 404, fragment=True)
    answer = turns[number - 1].answer

    def keep(final: Answer) -> None:
        _keep(store, conversation, number, final)

    return answer_stream(request, templates, assistant, answer, number, keep=keep)


def answer_stream(
    request: Request,
    templates: Jinja2Templates,
    assistant: Assistant,
    answer: Answer,
    number: int,
    *,
    keep: Callable[[Answer], None] | None,
) -> StreamingResponse:
    """The model's answer to ``answer`` as server-sent events; ``keep`` stores the result (also a
    stop) with the turn. An answer already written, or one with nothing to write, comes as its
    ``done`` event alone, without a call to the model."""

    def done(final: Answer) -> str:
        html = templates.get_template("_generated.html").render(
            {"turn": final, "anchor": f"frage{number}", "request": request}
        )
        return _event("done", {"html": html.strip(), "status": _summary(final)})

    async def stored() -> AsyncIterator[str]:
        yield done(answer)

    async def written() -> AsyncIterator[str]:
        pieces: list[str] = []
        final: Answer | None = None
        # Read on the event loop: waiting for the model holds no worker thread, so a slow or
        # trickling model server cannot starve the other visitors' requests.
        assert assistant.writer is not None  # ``fresh``: generates_for said so
        writer = assistant.writer
        stream = writer.stream(answer, answer.history)
        try:
            async for piece in stream:
                pieces.append(piece)
                yield _event("text", {"text": piece})
            # The check runs in a worker thread: linear in the text, but never on the event loop.
            final = await run_in_threadpool(writer.checked, answer, "".join(pieces))
        except GenerationFailed as exc:
            final = Writer.failed(answer, exc)
        finally:
            # Also when the visitor stopped the answer or left (the task is cancelled, or the
            # generator closed): the model is stopped and the turn keeps a notice saying so.
            with anyio.CancelScope(shield=True):
                if final is None:
                    final = replace(answer, notice=STOPPED)
                    await stream.aclose()
                if keep is not None:
                    await run_in_threadpool(keep, final)
        yield done(final)

    fresh = not (answer.generated or answer.notice) and assistant.generates_for(answer)
    return StreamingResponse(
        written() if fresh else stored(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post(FEEDBACK_ROUTE, response_class=HTMLResponse)
def give_feedback(
    request: Request,
    conversation: str,
    number: int,
    settings: SettingsDep,
    store: StoreDep,
    templates: TemplatesDep,
    helpful: Annotated[str, Form(max_length=10)] = "",
    comment: Annotated[str, Form(max_length=100_000)] = "",
    fragment: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    def problem(message: str, status: int) -> HTMLResponse:
        return render_error(templates, request, message, status, fragment=bool(fragment))

    if settings.keeps_nothing:
        return problem(NOT_KEPT, 403)
    try:
        turns = _load(store, conversation)
    except UserStoreError:
        return problem(NOT_LOADED, 503)
    if turns is None or not 1 <= number <= len(turns):
        return problem(GONE, 404)
    if helpful not in ("ja", "nein"):
        return problem("Bitte „Hilfreich“ oder „Nicht hilfreich“ wählen.", 422)
    try:
        comment = validate_comment(settings, comment)
    except InvalidInput as exc:
        return problem(str(exc), 422)
    answer = turns[number - 1].answer
    try:
        store.add_feedback(
            helpful=helpful == "ja",
            comment=comment,
            question=answer.question,
            passages=[h.passage.id for h in answer.hits],
            build_id=answer.build_id,
            conversation=conversation,
            turn=number,
        )
    except UserStoreError:
        return problem(NOT_SAVED, 503)
    if fragment:
        return templates.TemplateResponse(request, "_thanks.html", {"helpful": helpful == "ja"})
    return RedirectResponse(conversation_url(conversation, f"frage{number}"), status_code=303)


@router.get(DELETE_ROUTE, response_class=HTMLResponse)
def confirm_deletion(
    request: Request, conversation: str, store: StoreDep, templates: TemplatesDep
) -> HTMLResponse:
    """The confirmation, a page of its own: deleting works the same without JavaScript."""
    try:
        turns = _load(store, conversation)
    except UserStoreError:
        return render_error(templates, request, NOT_LOADED, 503, fragment=False)
    if turns is None:
        return render_error(templates, request, GONE, 404, fragment=False)
    return templates.TemplateResponse(
        request,
        "delete.html",
        {
            "conversation": conversation,
            "questions": len(turns),
            "rated": sum(t.feedback is not None for t in turns),
        },
    )


@router.post(DELETE_ROUTE, response_class=HTMLResponse)
def delete_conversation(
    request: Request, conversation: str, store: StoreDep, templates: TemplatesDep
) -> HTMLResponse:
    if not is_conversation_id(conversation):
        return render_error(templates, request, GONE, 404, fragment=False)
    try:
        deleted = store.delete_conversation(conversation)
    except UserStoreError:
        return render_error(templates, request, NOT_DELETED, 503, fragment=False)
    if deleted.conversations == 0:
        return render_error(templates, request, GONE, 404, fragment=False)
    return templates.TemplateResponse(request, "deleted.html", {"deleted": deleted})


GONE = "Dieses Gespräch gibt es nicht (mehr). Bitte ein neues Gespräch beginnen."
NOT_SAVED = "Die Eingabe konnte gerade nicht gespeichert werden. Bitte später erneut versuchen."
NOT_LOADED = UserStoreError.public
NOT_KEPT = "Dieser Dienst speichert keine Rückmeldungen."
NOT_DELETED = "Das Gespräch konnte gerade nicht gelöscht werden. Bitte später erneut versuchen."
INTERRUPTED = (
    "Die Antwort des Sprachmodells wurde unterbrochen; gezeigt wird die Kurzantwort aus den Fundstellen."
)


@dataclass(frozen=True)
class _Pending:
    """A turn whose page waits for the language model: the search's answer, the history the model is
    given, and what makes the page of the written answer (stores the turn; runs in a worker thread)."""

    answer: Answer
    history: Sequence[str]
    finish: Callable[[Answer], Response]


def _event(name: str, data: Mapping[str, object]) -> str:
    """One server-sent event; JSON keeps line breaks in the data out of the event's framing."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _summary(answer: Answer) -> str:
    """What the chat's status line announces when the model's answer is done."""
    if answer.notice:
        return answer.notice
    shown = len(answer.shown_generated)
    if not shown:
        return ""
    return "Antwort des Sprachmodells geprüft: " + (
        "ein Satz belegt." if shown == 1 else f"{shown} Sätze belegt."
    )


def _keep(store: UserStore, conversation: str, number: int, answer: Answer) -> None:
    """Store the finished answer with its turn; a store that fails now only costs the reload."""
    try:
        store.replace_answer(conversation, number, answer)
    except UserStoreError as exc:
        log.warning("a generated answer could not be stored: %s", exc)  # no conversation id in logs


def _unstored_question(settings: Settings, question: str, earlier: list[str]) -> tuple[str, list[str], int]:
    """A question asked where nothing is stored, with the earlier questions the page sent (the last
    max_history of them), checked; raises InvalidInput."""
    earlier = earlier[-settings.max_history :] if settings.max_history else []
    return validate_question(settings, question, earlier, None)


def _load(store: UserStore, conversation: str) -> list[StoredTurn] | None:
    if not is_conversation_id(conversation):
        return None
    return store.conversation(conversation)
