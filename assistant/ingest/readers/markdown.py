"""Markdown: front matter, ATX headings, paragraphs and lists; inline markup reduced to its text."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import DocumentError
from ..documents import Document, Heading, Paragraph, assemble, read_text_file, title_from_name

__all__ = ["FRONT_MATTER", "read_markdown"]

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def plain(markdown: str) -> str:
    """Inline markup reduced to its text (links keep their words, emphasis loses its marks)."""
    text = _LINK.sub(r"\1", markdown)
    previous = None
    while previous != text:
        previous, text = text, _EMPHASIS.sub(r"\2", text)
    return text


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def read_markdown(file: Path, source: str) -> Document:
    text = read_text_file(file)
    if not text:
        raise DocumentError(f"{source}: leer")
    meta, body = _front_matter(text)
    offset = text[: len(text) - len(body)].count("\n")  # lines taken by the front matter
    items: list[Heading | Paragraph] = []
    paragraph: list[str] = []
    first_line = 0
    in_fence = False

    def flush(last_line: int) -> None:
        if paragraph:
            items.append(Paragraph(plain("\n".join(paragraph)), (first_line, last_line)))
            paragraph.clear()

    for number, line in enumerate(body.split("\n"), start=offset + 1):
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush(number - 1)
            items.append(Heading(len(match.group(1)), plain(match.group(2))))
        elif not line.strip():
            flush(number - 1)
        else:
            if not paragraph:
                first_line = number
            paragraph.append(line.strip())
    flush(number)
    return assemble(items, source=source, title=meta.get("title", ""), default_title=title_from_name(file))
