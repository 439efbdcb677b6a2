"""Reading source files (Markdown, PDF, plain text) into documents with heading and page provenance.

Markdown headings become chapter and section: with a front-matter ``title`` (or no single top
heading), ``#`` is the chapter and ``##`` the section; a file whose only ``#`` heading opens it uses that
heading as the document title, and ``##``/``###`` become chapter/section. Deeper headings are folded
into the section ("Abschnitt › Unterabschnitt"). Sections titled "Quellen" list sources and are kept
out of the passages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .text import normalise

__all__ = ["SUPPORTED_SUFFIXES", "Block", "Document", "DocumentError", "discover", "read_document"]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".pdf"})
_SOURCE_SECTIONS = frozenset({"quellen", "sources", "literatur", "quellenverzeichnis"})
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


class DocumentError(Exception):
    """A source file could not be read; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (or a page of a PDF) with where it stands in its document."""

    text: str
    chapter: str = ""
    section: str = ""
    page: int | None = None
    page_label: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    source: str  # path relative to the folder it was found in
    blocks: tuple[Block, ...]
    sources: tuple[str, ...] = ()  # entries of the document's "Quellen" section


def discover(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """Yield (file, root) for every supported file in the given files and folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.suffix.lower() in SUPPORTED_SUFFIXES and not _hidden(file, path):
                    yield file, path
        elif path.is_file():
            yield path, path.parent
        else:
            raise DocumentError(f"{path}: Datei oder Ordner nicht gefunden")


def _hidden(file: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(root).parts)


def read_document(file: Path, root: Path | None = None) -> Document:
    """Read one file; raises DocumentError with a one-line reason when it cannot be used."""
    source = file.relative_to(root).as_posix() if root else file.name
    suffix = file.suffix.lower()
    try:
        if suffix == ".pdf":
            return _read_pdf(file, source)
        raw = file.read_bytes()
    except DocumentError:
        raise
    except OSError as exc:
        raise DocumentError(f"{source}: nicht lesbar ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    text = normalise(text)
    if not text:
        raise DocumentError(f"{source}: leer")
    if suffix in {".md", ".markdown"}:
        return _parse_markdown(text, source, default_title=_title_from_name(file))
    return Document(
        title=_title_from_name(file),
        source=source,
        blocks=tuple(Block(p) for p in _paragraphs(text)),
    )


def _title_from_name(file: Path) -> str:
    stem = re.sub(r"^\d+[-_ ]*", "", file.stem)
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or file.stem


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def _plain(markdown: str) -> str:
    """Markdown inline markup reduced to its text (links keep their words, emphasis loses its marks)."""
    text = _LINK.sub(r"\1", markdown)
    previous = None
    while previous != text:
        previous, text = text, _EMPHASIS.sub(r"\2", text)
    return text


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def _parse_markdown(text: str, source: str, default_title: str) -> Document:
    meta, body = _front_matter(text)
    lines = body.split("\n")
    headings = [(len(m.group(1)), m.group(2)) for m in map(_HEADING.match, lines) if m]
    title = meta.get("title", "")
    shift = 0
    top_level_count = sum(1 for level, _ in headings if level == 1)
    if not title and headings and headings[0][0] == 1 and top_level_count == 1:
        title = _plain(headings[0][1])
        shift = 1  # the single "#" is the title: "##" becomes the chapter
    title = title or default_title

    path: list[str] = []  # current heading path below the title: [chapter, section, sub, ...]
    in_sources = False
    blocks: list[Block] = []
    sources: list[str] = []
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        if not paragraph:
            return
        joined = " ".join(" ".join(paragraph).split())
        paragraph.clear()
        if not joined:
            return
        if in_sources:
            sources.extend(s.strip() for s in re.split(r"\s*(?:^|\s)[-*]\s+", joined) if s.strip())
            return
        chapter = path[0] if path else ""
        section = " › ".join(path[1:])
        blocks.append(Block(_plain(joined), chapter=chapter, section=section))

    for line in lines:
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1)) - shift
            heading = _plain(match.group(2))
            if level < 1:
                continue  # the title heading itself
            del path[level - 1 :]
            path.extend([""] * (level - 1 - len(path)))
            path.append(heading)
            in_sources = heading.lower() in _SOURCE_SECTIONS
            continue
        if not line.strip():
            flush()
        elif line.lstrip().startswith(("- ", "* ", "+ ")) and paragraph and not in_sources:
            # A list item starts its own line inside the paragraph; keep items apart in the text.
            paragraph.append("\n" + line.strip())
        else:
            paragraph.append(line.strip())
    flush()
    if not blocks:
        raise DocumentError(f"{source}: enthält keinen Text")
    return Document(title=title, source=source, blocks=tuple(blocks), sources=tuple(sources))


def _read_pdf(file: Path, source: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(file)
        # Many PDFs are "encrypted" only against editing, with an empty password for reading.
        if reader.is_encrypted and not _opens_without_password(reader):
            raise DocumentError(f"{source}: verschlüsselt, bitte ohne Passwortschutz speichern")
        labels = list(reader.page_labels) if reader.pages else []
        blocks = []
        for number, page in enumerate(reader.pages, start=1):
            text = normalise(page.extract_text() or "")
            if not text:
                continue
            label = labels[number - 1] if number - 1 < len(labels) else None
            blocks.append(
                Block(" ".join(text.split()), page=number, page_label=label if label != str(number) else None)
            )
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise DocumentError(f"{source}: keine lesbare PDF-Datei ({exc})") from exc
    if not blocks:
        raise DocumentError(f"{source}: keine Textebene (gescannt?)")
    return Document(
        title=normalise(metadata_title) or _title_from_name(file), source=source, blocks=tuple(blocks)
    )


def _opens_without_password(reader: object) -> bool:
    from pypdf import PasswordType

    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED  # type: ignore[attr-defined]
    except Exception:  # missing crypto support or an unsupported scheme: treat as locked
        return False
