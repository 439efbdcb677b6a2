"""JSON API: ``POST /api/ask``, ``POST``/``GET /api/feedback`` and ``GET /api/health``."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidInput, UserStoreError
from ..records import Answer, Passage
from ..validation import has_control_characters, validate_comment, validate_question
from .deps import AssistantDep, SettingsDep, StoreDep
from .urls import API_ASK, API_CONVERSATION_ROUTE, API_FEEDBACK, API_HEALTH, CONVERSATION, passage_url

__all__ = [
    "AskRequest",
    "AskResponse",
    "FeedbackRequest",
    "Problem",
    "TOO_MANY",
    "router",
]

router = APIRouter(tags=["api"])


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
    """Where a passage stands, with the address to check it."""

    document: str
    chapter: str
    section: str
    page: str | None
    label: str
    ocr: bool = Field(
        default=False, description="Read by text recognition from a scanned page (may misread characters)"
    )
    url: str | None = Field(
        description=(
            "Where to check the passage in this app: a PDF at its page, any other source as a rendered "
            "view scrolled to the passage and highlighted."
        )
    )

    @classmethod
    def of(cls, passage: Passage) -> CitationOut:
        citation = passage.citation
        return cls(
            document=citation.document,
            chapter=citation.chapter,
            section=citation.section,
            page=citation.page_label or (str(citation.page) if citation.page is not None else None),
            label=citation.label,
            ocr=citation.ocr,
            url=passage_url(passage),
        )


class PassageOut(BaseModel):
    id: str
    text: str
    score: float
    citation: CitationOut
    highlights: list[str] = Field(description="Words of the passage that matched the question.")
    quotation: str = Field(description="The passage as a quotation with its source, ready to paste.")


class AnswerSentenceOut(BaseModel):
    text: str = Field(description="A sentence quoted unchanged from a passage.")
    passage_id: str
    marker: int = Field(description="Number of the passage in 'passages' (1-based), the citation marker.")


class EvidenceOut(BaseModel):
    marker: int = Field(description="Number of the passage in 'passages' (1-based) that holds the evidence.")
    passage_id: str
    start: int = Field(description="Where the evidence starts in the passage's 'text' (character offset).")
    end: int = Field(description="Where it ends (exclusive): text[start:end] is the evidence.")
    text: str = Field(description="The evidence: one sentence of the passage, or two adjacent ones.")


class GeneratedSentenceOut(BaseModel):
    text: str = Field(description="A sentence written by the configured language model.")
    markers: list[int] = Field(description="The passages it cites: numbers in 'passages' (1-based).")
    verified: bool = Field(
        description="Whether the check found evidence for it in a passage it cites: one or two adjacent "
        "sentences holding its content words, its numbers with the nouns they count, the same negation "
        "and strength, the same actors in the same roles, and more than the question already said. The "
        "chat shows verified sentences only. The check is lexical: it does not understand the text."
    )
    support: float = Field(
        description="Share of the sentence's content words found in its evidence (0 to 1)."
    )
    evidence: list[EvidenceOut] = Field(
        description="The supporting sentence(s) of the cited passage(s); for an unverified sentence, the "
        "closest ones the check found (or none)."
    )
    reason: str | None = Field(description="Why it is not verified (German, short); null when verified.")


class AskResponse(BaseModel):
    """The API's (and ``assistant ask --json``'s) form of an :class:`~assistant.records.Answer`."""

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
    generated: list[GeneratedSentenceOut] = Field(
        default_factory=list,
        description="The language model's answer, sentence by sentence with its citations (empty when no "
        "model is configured (ASSISTANT_LLM_URL), nothing matched, or the model failed).",
    )
    notice: str | None = Field(
        default=None, description="Why the generated answer is not shown; the extractive answer stands."
    )
    related: list[CitationOut] = Field(
        default_factory=list,
        description="Only when no_match: the nearest sections the sources do cover (up to three), as "
        "topics to look at instead. They do not answer the question.",
    )

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        return cls(
            question=answer.question,
            passages=[
                PassageOut(
                    id=hit.passage.id,
                    text=hit.passage.text,
                    score=round(hit.score, 4),
                    citation=CitationOut.of(hit.passage),
                    highlights=list(answer.highlights_for(i)),
                    quotation=hit.passage.quotation,
                )
                for i, hit in enumerate(answer.hits)
            ],
            answer=[
                AnswerSentenceOut(text=s.text, passage_id=s.passage_id, marker=s.marker)
                for s in answer.sentences
            ],
            searched=answer.searched or answer.question,
            no_match=answer.no_match,
            message=answer.message,
            model=answer.model,
            build_id=answer.build_id,
            generated=[
                GeneratedSentenceOut(
                    text=s.text,
                    markers=list(s.markers),
                    verified=s.verified,
                    support=s.support,
                    evidence=[
                        EvidenceOut(
                            marker=e.marker, passage_id=e.passage_id, start=e.start, end=e.end, text=e.text
                        )
                        for e in s.evidence
                    ],
                    reason=s.reason,
                )
                for s in answer.generated
            ],
            notice=answer.notice,
            related=[CitationOut.of(passage) for passage in answer.related],
        )


class FeedbackRequest(BaseModel):
    """A rating of one answer, with an optional comment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "question": "Wer entscheidet über den Verfügungsfonds?",
                    "helpful": True,
                    "comment": "Genau die Stelle, die ich gesucht habe.",
                    "passage_ids": ["3f2a9c1e5b7d4a60"],
                }
            ]
        },
    )

    question: str = Field(description="The question that was answered.", max_length=100_000)
    helpful: bool = Field(description="true: 'Hilfreich', false: 'Nicht hilfreich'.")
    comment: str = Field(default="", description="Optional free text.", max_length=100_000)
    passage_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, description="Ids of the passages that were shown.", max_length=100
    )


class FeedbackOut(BaseModel):
    id: int
    created: str = Field(description="When it was stored, ISO 8601 in UTC.")
    helpful: bool
    comment: str
    question: str
    passage_ids: list[str]
    conversation: str | None = Field(description="The web-chat conversation, for feedback given there.")
    turn: int | None
    build_id: str = Field(description="The release that answered.")


class Problem(BaseModel):
    detail: str = Field(description="What is wrong with the request, in German.")


class Health(BaseModel):
    status: str
    build_id: str
    model: str
    passages: int


#: The rate limit's refusal (``assistant.web.ratelimit``), documented on every counted operation.
TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "description": "Too many requests from this client (ASSISTANT_RATE_LIMIT_PER_MINUTE)",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before the next request.",
                "schema": {"type": "integer"},
            }
        },
    }
}


@router.post(
    API_ASK,
    response_model=AskResponse,
    summary="Ask a question, get cited passages",
    responses={
        413: {"model": Problem, "description": "Body larger than ASSISTANT_MAX_BODY_BYTES"},
        422: {"model": Problem, "description": "Invalid question, history, k or body"},
        **TOO_MANY,
    },
)
async def ask(
    body: AskRequest,
    settings: SettingsDep,
    assistant: AssistantDep,
) -> AskResponse:
    # Searching (encoding the question) runs in the thread pool; the language model, when one is
    # configured, is read on the event loop, so waiting for it holds no worker thread.

    def search() -> tuple[Answer, list[str]]:
        question, history, k = validate_question(settings, body.question, body.history, body.k)
        return assistant.ask(question, history=history, k=k, generate=False), history

    try:
        answer, history = await run_in_threadpool(search)
    except InvalidInput as exc:
        raise HTTPException(422, str(exc)) from exc
    return AskResponse.of(await assistant.generated(answer, history))


@router.get(API_HEALTH, response_model=Health, summary="Service status and the served release")
def health(assistant: AssistantDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "build_id": assistant.build_id,
        "model": assistant.model,
        "passages": assistant.passage_count,
    }


_bearer = HTTPBearer(auto_error=False, description="The configured ASSISTANT_ADMIN_TOKEN.")


def require_admin(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if settings.admin_token is None:
        raise HTTPException(
            403,
            "Das Lesen der Rückmeldungen über die API ist nicht freigegeben "
            "(ASSISTANT_ADMIN_TOKEN setzen oder 'assistant feedback' auf dem Server nutzen).",
        )
    expected = settings.admin_token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    if not secrets.compare_digest(given, expected):
        raise HTTPException(401, "Anmeldung fehlt oder ist falsch.", headers={"WWW-Authenticate": "Bearer"})


@router.post(
    API_FEEDBACK,
    response_model=FeedbackOut,
    status_code=201,
    summary="Rate an answer ('Hilfreich' / 'Nicht hilfreich'), optionally with a comment",
    responses={
        403: {"model": Problem, "description": "Nothing is stored here (ASSISTANT_RETENTION_DAYS=0)"},
        413: {"model": Problem, "description": "Body larger than ASSISTANT_MAX_BODY_BYTES"},
        422: {"model": Problem, "description": "Invalid question, comment or body"},
        503: {"model": Problem, "description": "The feedback store cannot be written just now"},
        **TOO_MANY,
    },
)
def give_feedback(
    body: FeedbackRequest,
    settings: SettingsDep,
    assistant: AssistantDep,
    store: StoreDep,
) -> dict[str, Any]:
    if settings.keeps_nothing:
        raise HTTPException(403, "Dieser Dienst speichert keine Rückmeldungen.")
    try:
        question, _, _ = validate_question(settings, body.question, [], None)
        comment = validate_comment(settings, body.comment)
    except InvalidInput as exc:
        raise HTTPException(422, str(exc)) from exc
    if any(has_control_characters(p) for p in body.passage_ids):
        raise HTTPException(422, "Eine Passagen-ID enthält Steuerzeichen.")
    try:
        stored = store.add_feedback(
            helpful=body.helpful,
            comment=comment,
            question=question,
            passages=body.passage_ids,
            build_id=assistant.build_id,
        )
    except UserStoreError as exc:
        raise HTTPException(503, "Die Rückmeldung konnte gerade nicht gespeichert werden.") from exc
    return stored.to_dict()


@router.get(
    API_FEEDBACK,
    response_model=list[FeedbackOut],
    summary="Read the feedback, newest first (needs the admin token)",
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": Problem, "description": "Token missing or wrong"},
        403: {"model": Problem, "description": "No admin token is configured"},
        422: {"model": Problem, "description": "Invalid limit or offset"},
        503: {"model": Problem, "description": "The feedback store cannot be read just now"},
        **TOO_MANY,
    },
)
def read_feedback(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="How many entries.")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="How many newest entries to skip.")] = 0,
) -> list[dict[str, Any]]:
    return [f.to_dict() for f in store.feedback(limit=limit, offset=offset)]


class DeletedOut(BaseModel):
    conversations: int = Field(description="Conversations deleted (1).")
    turns: int = Field(description="Questions deleted, each with the answer that was shown.")
    feedback: int = Field(description="Feedback entries given in the conversation, deleted with it.")


@router.delete(
    API_CONVERSATION_ROUTE,
    response_model=DeletedOut,
    summary="Delete a chat conversation with its questions, answers and feedback",
    description=(
        f"The id is the last part of the conversation's address ({CONVERSATION}/ID); whoever has the "
        "address may delete it. Afterwards the address answers 404."
    ),
    responses={
        404: {"model": Problem, "description": "No such conversation (or it was deleted already)"},
        422: {
            "model": Problem,
            "description": "Not a conversation id (22 characters A–Z, a–z, 0–9, - and _)",
        },
        503: {"model": Problem, "description": "The store cannot be written just now"},
        **TOO_MANY,
    },
)
def delete_conversation(
    conversation: Annotated[
        str,
        PathParam(
            pattern="^[A-Za-z0-9_-]{22}$", description=f"The conversation's id, from {CONVERSATION}/ID."
        ),
    ],
    store: StoreDep,
) -> dict[str, int]:
    try:
        deleted = store.delete_conversation(conversation)
    except UserStoreError as exc:
        raise HTTPException(
            503, "Das Gespräch konnte gerade nicht gelöscht werden. Bitte später erneut versuchen."
        ) from exc
    if deleted.conversations == 0:
        raise HTTPException(404, "Dieses Gespräch gibt es nicht (mehr).")
    return {"conversations": deleted.conversations, "turns": deleted.turns, "feedback": deleted.feedback}
