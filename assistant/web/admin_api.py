"""The operator area's JSON API under ``/api/admin/``: documents (list, upload, delete) and builds
(start, state, live progress as server-sent events). Every route needs an operator (token or login
cookie): without one it answers 401 and changes nothing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import Settings
from ..errors import UploadRefused
from ..operators import BuildState, Operator, OperatorStore
from ..operators.store import fold_name
from ..operators.uploads import Incoming, remove_upload, shown_name, store_upload
from ..progress import PHASES
from ..service import Assistant
from .api import TOO_MANY, Problem
from .deps import AssistantDep, BuildsDep, OperatorsDep, SettingsDep
from .operator_auth import OperatorDep
from .urls import (
    ADMIN_API_BUILD_EVENTS_ROUTE,
    ADMIN_API_BUILD_ROUTE,
    ADMIN_API_BUILDS,
    ADMIN_API_DOCUMENT_ROUTE,
    ADMIN_API_DOCUMENTS,
    build_status_url,
)

__all__ = [
    "ADMIN_BUILDS",
    "ADMIN_DOCUMENTS",
    "DocumentRow",
    "build_events",
    "document_rows",
    "known_build",
    "receive_uploads",
    "router",
]

ADMIN_DOCUMENTS = ADMIN_API_DOCUMENTS
ADMIN_BUILDS = ADMIN_API_BUILDS
MAX_FILES = 20
#: Seconds between two looks at a build's state while streaming its progress, and the longest stream.
EVENT_INTERVAL = 0.5
EVENT_STREAM_SECONDS = 3 * 3600

router = APIRouter(tags=["admin"])

_UNAUTHORISED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid operator token or login"},
    **TOO_MANY,
}


@dataclass(frozen=True)
class DocumentRow:
    """One source as the operator area lists it."""

    name: str
    origin: str  # "upload" (can be deleted here), "corpus" (shipped or configured), or "removed" (an
    # upload deleted since the served release was built: it leaves with the next build)
    format: str
    title: str
    pages: int | None
    passages: int | None  # in the served release; None when not in it (yet)
    ocr_pages: int
    warnings: list[str]
    added_by: str | None
    added: float | None
    in_index: bool


def document_rows(assistant: Assistant, store: OperatorStore, settings: Settings) -> list[DocumentRow]:
    """The served release's sources and the uploads (also those not yet built), uploads first."""
    served = {str(f["source"]): f for f in assistant.release.manifest.facts.sources}
    for key in assistant.release.sources:
        served.setdefault(key, {"source": key, "format": Path(key).suffix.lstrip("."), "title": key})
    uploads = {u.name: u for u in store.uploads()}
    upload_folder = settings.upload_dir.name
    rows: list[DocumentRow] = []
    for name, upload in uploads.items():
        # A build keys an upload by its name, or by folder/name where the corpus has the same name.
        facts = served.pop(name, None) or served.pop(f"{upload_folder}/{name}", None)
        report = upload.report
        rows.append(
            DocumentRow(
                name=name,
                origin="upload",
                format=str(report.get("format", "")),
                title=str((facts or report).get("title", name)),
                pages=report.get("pages") if report.get("pages") is not None else (facts or {}).get("pages"),
                passages=int(facts["passages"]) if facts and "passages" in facts else None,
                ocr_pages=int(report.get("ocr_pages", 0)),
                warnings=[str(w) for w in report.get("warnings", [])],
                added_by=upload.added_by,
                added=upload.added,
                in_index=facts is not None,
            )
        )
    for key, facts in sorted(served.items()):
        removed = bool(facts.get("uploaded"))  # an upload deleted since the served release was built
        rows.append(
            DocumentRow(
                name=key,
                origin="removed" if removed else "corpus",
                format=str(facts.get("format", "")).upper(),
                title=str(facts.get("title", key)),
                pages=facts.get("pages"),
                passages=int(facts["passages"]) if "passages" in facts else None,
                ocr_pages=int(facts.get("ocr_pages", 0) or 0),
                warnings=(
                    [f"gescannt: {facts['ocr_pages']} Seite(n) per Texterkennung gelesen"]
                    if facts.get("ocr_pages")
                    else []
                ),
                added_by=None,
                added=None,
                in_index=True,
            )
        )
    return rows


async def receive_uploads(
    request: Request,
    settings: Settings,
    store: OperatorStore,
    operator: Operator,
    assistant: Assistant,
    check: Callable[[dict[str, str]], None] = lambda _: None,
) -> tuple[list[str], list[tuple[str, int, str]]]:
    """Read the multipart body's ``files`` and store each that passes every check: (stored names,
    refusals as (name, status, German message)). ``check`` sees the other form fields before anything
    is stored (the page's form token) and raises to refuse the whole upload."""
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=10, max_part_size=64 * 1024)
    except StarletteHTTPException:  # the body limit's 413, or the parser's own German-translated 400
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed multipart body, in the caller's terms
        raise HTTPException(400, "Die hochgeladenen Daten sind unvollständig oder beschädigt.") from exc
    try:
        check({k: v for k, v in form.items() if isinstance(v, str)})
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not files or all(not f.filename and not f.size for f in files):
            raise HTTPException(422, "Bitte mindestens eine Datei im Feld „files“ mitschicken.")
        return await _store_files(files, settings, store, operator, assistant)
    finally:
        await form.close()


async def _store_files(
    files: list[UploadFile],
    settings: Settings,
    store: OperatorStore,
    operator: Operator,
    assistant: Assistant,
) -> tuple[list[str], list[tuple[str, int, str]]]:
    served = {fold_name(Path(k).name) for k in assistant.release.sources if "/" not in k}
    stored: list[str] = []
    refused: list[tuple[str, int, str]] = []
    with tempfile.TemporaryDirectory(prefix="qm-upload-") as folder:
        for number, upload in enumerate(files):
            spooled = Path(folder) / f"{number}.bin"
            await anyio.to_thread.run_sync(_spool, upload, spooled)
            incoming = Incoming(upload.filename or "", spooled)
            try:
                record = await anyio.to_thread.run_sync(
                    store_upload, incoming, settings, store, operator, served
                )
            except UploadRefused as exc:
                refused.append((shown_name(incoming.filename), exc.status, exc.message))
                continue
            stored.append(record.name)
    return stored, refused


def _spool(upload: UploadFile, target: Path) -> None:
    upload.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)


class DocumentOut(BaseModel):
    name: str
    origin: str = Field(
        description="'upload' (can be deleted over this API), 'corpus', or 'removed' (deleted, still served "
        "until the next build)"
    )
    format: str
    title: str
    pages: int | None
    passages: int | None = Field(description="Passages in the served release; null when not in it yet")
    ocr_pages: int = Field(description="Pages read by text recognition")
    warnings: list[str]
    added_by: str | None
    added: float | None = Field(description="Seconds since the epoch")
    in_index: bool


class DocumentList(BaseModel):
    build_id: str
    documents: list[DocumentOut]


class UploadOutcome(BaseModel):
    """What happened to an upload; a request refused as a whole (no files, a body over the limit)
    carries only ``detail``."""

    stored: list[str] = Field(default_factory=list, description="Names of the files stored")
    refused: list[dict[str, Any]] = Field(
        default_factory=list, description="Each refused file: name, status and the German reason"
    )
    detail: str


class BuildOut(BaseModel):
    id: str
    state: str = Field(description="'running', 'done' or 'failed'")
    phase: str
    phase_label: str
    done: int
    total: int
    message: str
    started_by: str
    started: float
    finished: float | None
    result: dict[str, Any]
    status_url: str

    @classmethod
    def of(cls, state: BuildState) -> BuildOut:
        return cls(
            **state.to_dict(),
            phase_label=PHASES.get(state.phase, state.phase),
            status_url=build_status_url(state.id),
        )


@router.get(
    ADMIN_API_DOCUMENTS,
    response_model=DocumentList,
    summary="Every source, with how it was read",
    responses=_UNAUTHORISED,
)
def list_documents(
    _: OperatorDep,
    assistant: AssistantDep,
    store: OperatorsDep,
    settings: SettingsDep,
) -> DocumentList:
    rows = document_rows(assistant, store, settings)
    return DocumentList(build_id=assistant.build_id, documents=[DocumentOut(**asdict(r)) for r in rows])


@router.post(
    ADMIN_API_DOCUMENTS,
    response_model=UploadOutcome,
    status_code=201,
    summary="Upload documents (multipart, field 'files', one or more); used from the next build on",
    responses={
        400: {"model": Problem, "description": "A malformed multipart body"},
        409: {"model": UploadOutcome, "description": "A file of that name exists"},
        413: {"model": UploadOutcome, "description": "Larger than ASSISTANT_MAX_UPLOAD_MB"},
        415: {"model": UploadOutcome, "description": "Not the type its name says, or not supported"},
        422: {"model": UploadOutcome, "description": "Unreadable, encrypted, too many pages, or a bad name"},
        **_UNAUTHORISED,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                        },
                        "required": ["files"],
                    }
                }
            },
        }
    },
)
async def upload_documents(
    request: Request,
    operator: OperatorDep,
    assistant: AssistantDep,
    store: OperatorsDep,
    settings: SettingsDep,
) -> Response:
    stored, refused = await receive_uploads(request, settings, store, operator, assistant)
    status = 201 if not refused else (refused[0][1] if len({r[1] for r in refused}) == 1 else 422)
    detail = upload_summary(stored, refused)
    body = UploadOutcome(
        stored=stored,
        refused=[{"name": n, "status": s, "detail": m} for n, s, m in refused],
        detail=detail,
    )
    return JSONResponse(body.model_dump(), status_code=status)


def known_build(store: OperatorStore, build_id: str) -> BuildState:
    """The build of this id, or 404 (for the pages and the API alike)."""
    state = store.build(build_id[:64])
    if state is None:
        raise HTTPException(404, "Diesen Neubau gibt es nicht (mehr).")
    return state


def upload_summary(stored: list[str], refused: list[tuple[str, int, str]]) -> str:
    """One German sentence on what happened to an upload (the refusals' reasons follow it)."""
    parts = []
    if stored:
        parts.append(f"{len(stored)} Datei(en) gespeichert; sie kommen mit dem nächsten Neubau in den Index.")
    if refused:
        parts.append(f"{len(refused)} Datei(en) abgelehnt: " + " ".join(m for _, _, m in refused))
    return " ".join(parts)


@router.delete(
    ADMIN_API_DOCUMENT_ROUTE,
    status_code=204,
    summary="Delete an uploaded document; it leaves the index with the next build",
    responses={404: {"model": Problem, "description": "No uploaded document of that name"}, **_UNAUTHORISED},
)
def delete_document(
    name: str,
    operator: OperatorDep,
    store: OperatorsDep,
    settings: SettingsDep,
) -> Response:
    if not remove_upload(name, settings, store, operator):
        raise HTTPException(404, f"Ein hochgeladenes Dokument „{name[:120]}“ gibt es nicht.")
    return Response(status_code=204)


@router.post(
    ADMIN_API_BUILDS,
    response_model=BuildOut,
    status_code=202,
    summary="Start a rebuild (one at a time); its state is at the returned status_url",
    responses={409: {"model": BuildOut, "description": "A build is running already"}, **_UNAUTHORISED},
)
def start_build(
    operator: OperatorDep,
    builds: BuildsDep,
) -> Response:
    state, new = builds.start(operator)
    out = BuildOut.of(state)
    return JSONResponse(
        out.model_dump(), status_code=202 if new else 409, headers={"Location": out.status_url}
    )


@router.get(
    ADMIN_API_BUILD_ROUTE,
    response_model=BuildOut,
    summary="A build's state and progress",
    responses={404: {"model": Problem, "description": "No such build"}, **_UNAUTHORISED},
)
def build_state(
    build_id: str,
    _: OperatorDep,
    store: OperatorsDep,
) -> BuildOut:
    return BuildOut.of(known_build(store, build_id))


@router.get(
    ADMIN_API_BUILD_EVENTS_ROUTE,
    summary="A build's progress as server-sent events ('progress' events with the state, until it ends)",
    responses={404: {"model": Problem, "description": "No such build"}, **_UNAUTHORISED},
)
def build_progress(
    build_id: str,
    _: OperatorDep,
    store: OperatorsDep,
) -> StreamingResponse:
    return StreamingResponse(
        build_events(store, known_build(store, build_id).id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def build_events(store: OperatorStore, build_id: str) -> AsyncIterator[str]:
    """Server-sent events: the build's state whenever it changed, until it is done or failed."""
    last, quiet = "", 0.0
    with anyio.move_on_after(EVENT_STREAM_SECONDS):
        while True:
            state = await anyio.to_thread.run_sync(store.build, build_id)
            if state is None:
                return
            data = BuildOut.of(state).model_dump_json()
            if data != last:
                yield f"event: progress\ndata: {data}\n\n"
                last, quiet = data, 0.0
            elif (quiet := quiet + EVENT_INTERVAL) >= 15:
                yield ": warte\n\n"  # a comment: keeps proxies from closing an idle stream
                quiet = 0.0
            if not state.running:
                yield f"event: end\ndata: {json.dumps({'state': state.state})}\n\n"
                return
            await anyio.sleep(EVENT_INTERVAL)
