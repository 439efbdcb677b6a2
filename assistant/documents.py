"""Source documents: what a reader returns, how headings become chapter and section, and dispatch.

Headings become chapter and section the same way for every format: with a document title from
metadata (Markdown front matter, HTML ``<title>``, DOCX core properties, or no single top heading),
level 1 is the chapter and level 2 the section; a document whose only level-1 heading opens it uses
that heading as its title, and levels 2/3 become chapter/section. Deeper headings fold into the
section ("Abschnitt › Unterabschnitt"). Sections titled "Quellen" list sources and are kept out of
the passages. PDFs take chapter and section from their bookmarks (see ``readers.pdf``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .text import normalise

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Block",
    "Document",
    "DocumentError",
    "Heading",
    "Paragraph",
    "assemble",
    "discover",
    "read_document",
    "title_from_name",
]

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".pdf", ".html", ".htm", ".docx"})
_SOURCE_SECTIONS = frozenset({"quellen", "sources", "literatur", "quellenverzeichnis", "references"})


class DocumentError(Exception):
    """A source file could not be read; the message names the file and the reason, in one line."""


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph with where it stands in its document."""

    text: str
    chapter: str = ""
    section: str = ""
    page: int | None = None
    page_label: str | None = None
    lines: tuple[int, int] | None = None  # first and last source line (1-based), where the format has lines


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
    from .readers import READERS

    source = file.relative_to(root).as_posix() if root else file.name
    reader: Callable[[Path, str], Document] | None = READERS.get(file.suffix.lower())
    if reader is None:
        raise DocumentError(f"{source}: Dateityp {file.suffix or '(ohne Endung)'} wird nicht unterstützt")
    if not file.is_file():
        raise DocumentError(f"{source}: Datei nicht gefunden")
    try:
        return reader(file, source)
    except DocumentError:
        raise
    except PermissionError as exc:
        raise DocumentError(f"{source}: keine Leseberechtigung") from exc
    except OSError as exc:
        raise DocumentError(f"{source}: nicht lesbar ({exc.strerror or exc})") from exc
    except Exception as exc:  # a damaged file of any format: name it, keep the build going
        raise DocumentError(f"{source}: beschädigt oder nicht lesbar ({type(exc).__name__}: {exc})") from exc


def read_text_file(file: Path) -> str:
    """A text file's content: UTF-8 (with or without BOM), else Windows-1252; normalised."""
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    return normalise(text)
