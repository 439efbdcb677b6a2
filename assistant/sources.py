"""Serving the source files a release was built from, and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse

from .api import get_assistant
from .service import Assistant

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# How each kind of source is handed to the browser. HTML sources are shown in a CSP sandbox: they
# come from outside the project and must not run scripts on the app's origin.
_MEDIA = {
    ".pdf": ("application/pdf", "inline", None),
    ".md": ("text/plain; charset=utf-8", "inline", None),
    ".markdown": ("text/plain; charset=utf-8", "inline", None),
    ".txt": ("text/plain; charset=utf-8", "inline", None),
    ".html": ("text/html; charset=utf-8", "inline", "sandbox"),
    ".htm": ("text/html; charset=utf-8", "inline", "sandbox"),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment", None),
}


@router.get("/quellen/{key:path}")
def source_file(key: str, assistant: Annotated[Assistant, Depends(get_assistant)]) -> FileResponse:
    # The key is looked up, never joined to a path: only files recorded at build time can be served.
    path: Path | None = assistant.release.sources.get(key)
    if path is None:
        raise HTTPException(404, "Diese Quelle gehört nicht zum Index.")
    if not path.is_file():
        raise HTTPException(404, "Die Quelldatei ist nicht mehr vorhanden; bitte den Index neu bauen.")
    media_type, disposition, policy = _MEDIA.get(
        path.suffix.lower(), ("application/octet-stream", "attachment", None)
    )
    headers = {"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(path.name)}"}
    if policy:
        headers["Content-Security-Policy"] = policy
    return FileResponse(path, media_type=media_type, headers=headers)
