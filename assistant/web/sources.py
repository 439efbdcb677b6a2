"""Showing the sources a release was built from, and nothing else.

``/quellen/<key>`` serves the file itself (PDFs open at a page with ``#page=``). ``/ansicht/<key>``
shows a text source rendered as a page, with the passage named by ``?stelle=<passage id>``
highlighted and given the id ``stelle`` so that ``#stelle`` scrolls to it. Markdown is rendered with
markdown-it-py (raw HTML off, so a source cannot inject markup); other formats are shown from the
blocks their reader found. For a PDF the view shows the passage's page as the reader read it (which
page, its printed number, the text of its blocks) with a link to the PDF at that page. The passage is
found by cutting the document exactly as the build did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

from ..errors import DocumentError
from ..ingest.chunking import locate_passages
from ..ingest.documents import Block, Document, read_text_file
from ..ingest.readers import FORMATS, ocr, read_as
from ..ingest.readers.markdown import FRONT_MATTER
from ..service import Assistant
from .deps import AssistantDep, SettingsDep, TemplatesDep
from .urls import SOURCE_FILE_ROUTE, SOURCE_VIEW_ROUTE, source_file_url

__all__ = ["render_markdown", "router"]


def _recorded(assistant: Assistant, key: str) -> Path:
    # The key is looked up, never joined to a path: only files recorded at build time can be served.
    path: Path | None = assistant.release.sources.get(key)
    if path is None:
        raise HTTPException(404, "Diese Quelle gehört nicht zum Index.")
    if not path.is_file():
        raise HTTPException(404, "Die Quelldatei ist nicht mehr vorhanden; bitte den Index neu bauen.")
    return path


@dataclass(frozen=True, slots=True)
class Section:
    """A piece of the rendered view: before, the passage itself, or after it."""

    html: Markup
    is_passage: bool = False


#: The source files and the source view, declared at module level; the app includes it.
router = APIRouter(include_in_schema=False)


@router.get(SOURCE_FILE_ROUTE)
def source_file(key: str, assistant: AssistantDep) -> FileResponse:
    path = _recorded(assistant, key)
    fmt = FORMATS.get(path.suffix.lower())
    media_type, disposition, policy = (
        (fmt.media_type, fmt.disposition, fmt.policy)
        if fmt
        else ("application/octet-stream", "attachment", None)
    )
    headers = {"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(path.name)}"}
    if policy:
        headers["Content-Security-Policy"] = policy
    return FileResponse(path, media_type=media_type, headers=headers)


@router.get(SOURCE_VIEW_ROUTE, response_class=HTMLResponse)
def source_view(
    request: Request,
    key: str,
    assistant: AssistantDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    stelle: str = "",
) -> Response:
    def page(status: int = 200, **context: object) -> HTMLResponse:
        for name in ("error", "missing", "found", "pdf_page", "pdf_url"):
            context.setdefault(name, None)
        return templates.TemplateResponse(
            request,
            "source.html",
            {"key": key, **context},
            status_code=status,
        )

    try:
        path = _recorded(assistant, key)
    except HTTPException as exc:
        return page(exc.status_code, error=exc.detail, title="Quelle nicht gefunden", sections=[])
    suffix = path.suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None or (suffix == ".pdf" and not stelle):
        return RedirectResponse(source_file_url(key), status_code=303)
    try:
        document = _read_cached(fmt.read, path, key, settings.ocr_cache_dir)
        blocks = _passage_blocks(document, stelle[:64])
        if suffix == ".pdf":
            return _pdf_page(page, key, document, blocks)
        if fmt.markdown:
            sections = render_markdown(read_text_file(path), blocks)
        else:
            sections = _render_blocks(document, blocks)
    except (DocumentError, OSError, UnicodeError, ValueError) as exc:
        message = "Die Quelle kann nicht angezeigt werden; bitte den Index neu bauen."
        return page(422, error=f"{message} ({type(exc).__name__})", title=key, sections=[])
    return page(
        title=document.title,
        sections=sections,
        missing=bool(stelle) and not blocks,
        found=bool(blocks),
    )


def _pdf_page(
    page: Callable[..., HTMLResponse], key: str, document: Document, blocks: tuple[Block, ...]
) -> Response:
    """The page of a PDF passage as read: its blocks in reading order, the passage marked."""
    if not blocks:
        return page(title=document.title, sections=[], missing=True, pdf_url=source_file_url(key))
    number = blocks[0].page
    on_page = tuple(b for b in document.blocks if b.page == number)
    shown = Document(title=document.title, source=document.source, blocks=on_page)
    printed = blocks[0].page_label
    return page(
        title=document.title,
        sections=_render_blocks(shown, blocks),
        found=True,
        pdf_page=f"Seite {number}" + (f" (gedruckt: {printed})" if printed else ""),
        pdf_url=source_file_url(key, number),
    )


@lru_cache(maxsize=4)
def _read_cached_at(
    reader: Callable[[Path, str], Document], path: Path, key: str, stamp: tuple[int, int], cache: Path
) -> Document:
    del stamp  # part of the cache key only: a changed file is read again
    # Scanned pages: the copy the build's text recognition made, never a new run in the server.
    with ocr.options(cache, recognise=False):
        return read_as(reader, path, key)


def _read_cached(reader: Callable[[Path, str], Document], path: Path, key: str, cache: Path) -> Document:
    """A source read once per version of the file (a long PDF takes a second or two to read)."""
    stat = path.stat()
    return _read_cached_at(reader, path, key, (stat.st_mtime_ns, stat.st_size), cache)


def _passage_blocks(document: Document, passage: str) -> tuple[Block, ...]:
    if not passage:
        return ()
    for candidate, blocks in locate_passages(document):
        if candidate.id == passage:
            return blocks
    return ()


def render_markdown(text: str, blocks: tuple[Block, ...]) -> list[Section]:
    """Markdown as HTML in up to three sections: before the passage, the passage, after it.

    The passage is the run of top-level elements whose source lines overlap the passage's blocks.
    Headings move one level down: the page's own heading is the document title.
    """
    front = FRONT_MATTER.match(text)
    if front:  # blank it out line for line, so line numbers stay those the reader recorded
        text = "\n" * front.group(0).count("\n") + text[front.end() :]
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    spans = [b.lines for b in blocks if b.lines]
    if not spans:
        return [Section(Markup(md.renderer.render(tokens, md.options, {})))]
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    start = end = None
    for i, token in enumerate(tokens):
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        top, bottom = token.map[0] + 1, token.map[1]  # 1-based, inclusive
        if top <= last and bottom >= first:
            start = i if start is None else start
            end = _closing(tokens, i) + 1
    if start is None or end is None:
        return [Section(Markup(md.renderer.render(tokens, md.options, {})))]

    def html(part: list[Token]) -> Markup:
        return Markup(md.renderer.render(part, md.options, {}))  # noqa: S704 - markdown-it escapes, html is off

    return [
        Section(html(tokens[:start])),
        Section(html(tokens[start:end]), is_passage=True),
        Section(html(tokens[end:])),
    ]


def _closing(tokens: list[Token], opening: int) -> int:
    """Index of the token that closes the top-level element opened at ``opening``."""
    if tokens[opening].nesting == 0:
        return opening
    depth = 0
    for i in range(opening, len(tokens)):
        depth += tokens[i].nesting
        if depth == 0:
            return i
    return len(tokens) - 1


def _render_blocks(document: Document, passage: tuple[Block, ...]) -> list[Section]:
    """A non-Markdown source from its reader's blocks: chapter and section headings, paragraphs."""
    wanted = {id(b) for b in passage}
    sections: list[Section] = []
    parts: list[str] = []
    in_passage = False
    chapter = section = None
    for block in document.blocks:
        inside = id(block) in wanted
        if inside != in_passage:
            sections.append(Section(Markup("".join(parts)), is_passage=in_passage))
            parts, in_passage = [], inside
        if block.chapter != chapter:
            chapter, section = block.chapter, None
            if chapter:
                parts.append(f"<h2>{escape(chapter)}</h2>")
        if block.section != section:
            section = block.section
            if section:
                parts.append(f"<h3>{escape(section)}</h3>")
        parts.append(f"<p>{escape(block.text)}</p>")
    sections.append(Section(Markup("".join(parts)), is_passage=in_passage))
    return [s for s in sections if s.html]
