"""Source documents: what a reader returns, how headings become chapter and section, and dispatch.

Headings become chapter and section the same way for every format: with a document title from
metadata (Markdown front matter, HTML ``<title>``, DOCX core properties, or no single top heading),
level 1 is the chapter and level 2 the section; a document whose only level-1 heading opens it uses
that heading as its title, and levels 2/3 become chapter/section. Deeper headings fold into the
section ("Abschnitt › Unterabschnitt"). Sections titled "Quellen" list sources and are kept out of
the passages. PDFs take chapter and section from their bookmarks (see ``readers.pdf``). Reading a file by its
format is the business of ``readers`` (which imports this module, never the other way round).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DocumentError
from ..text import normalise

__all__ = [
    "Block",
    "Document",
    "Heading",
    "Paragraph",
    "assemble",
    "title_from_name",
]

_SOURCE_SECTIONS = frozenset({"quellen", "sources", "literatur", "quellenverzeichnis", "references"})


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph with where it stands in its document."""

    text: str
    chapter: str = ""
    section: str = ""
    page: int | None = None
    page_label: str | None = None
    lines: tuple[int, int] | None = None  # first and last source line (1-based), where the format has lines
    ocr: bool = False  # read by text recognition from a scanned page


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph handed to ``assemble`` with the source lines it came from."""

    text: str
    lines: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    source: str  # path relative to the folder it was found in
    blocks: tuple[Block, ...]
    sources: tuple[str, ...] = ()  # entries of the document's "Quellen" section


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str


def title_from_name(file: Path) -> str:
    stem = re.sub(r"^\d+[-_ ]*", "", file.stem)
    return stem.replace("-", " ").replace("_", " ").strip().capitalize() or file.stem


def assemble(
    items_in: Iterable[Heading | Paragraph | str], *, source: str, title: str, default_title: str
) -> Document:
    """Build a document from headings and paragraphs in reading order (see the module docstring)."""
    items: list[Heading | Paragraph] = [
        i if isinstance(i, Heading | Paragraph) else Paragraph(i)
        for i in items_in
        if isinstance(i, Heading) or (i.text if isinstance(i, Paragraph) else i).strip()
    ]
    headings = [i for i in items if isinstance(i, Heading)]
    shift = 0
    if not title and headings and headings[0].level == 1 and sum(h.level == 1 for h in headings) == 1:
        title = headings[0].text
        shift = 1  # the single level-1 heading is the title: level 2 becomes the chapter
    path: list[str] = []  # [chapter, section, sub, ...]
    in_sources = False
    blocks: list[Block] = []
    sources: list[str] = []
    for item in items:
        if isinstance(item, Heading):
            level = item.level - shift
            if level < 1:
                continue
            del path[level - 1 :]
            path.extend([""] * (level - 1 - len(path)))
            path.append(item.text)
            in_sources = item.text.strip().lower() in _SOURCE_SECTIONS
        elif in_sources:
            sources.extend(line.strip(" -*•") for line in item.text.split("\n") if line.strip(" -*•"))
        else:
            chapter = path[0] if path else ""
            section = " › ".join(p for p in path[1:] if p)
            blocks.append(
                Block(" ".join(item.text.split()), chapter=chapter, section=section, lines=item.lines)
            )
    if not blocks:
        raise DocumentError(f"{source}: enthält keinen Text")
    return Document(title=title or default_title, source=source, blocks=tuple(blocks), sources=tuple(sources))


def read_text_file(file: Path) -> str:
    """A text file's content: UTF-8 (with or without BOM), else Windows-1252; normalised."""
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return normalise(text)
