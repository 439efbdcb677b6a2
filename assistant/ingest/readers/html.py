"""HTML with Beautiful Soup: headings and text blocks of the main content, page furniture left out."""

from __future__ import annotations

from pathlib import Path

from ...errors import DocumentError
from ..documents import Document, Heading, assemble, read_text_file, title_from_name

__all__ = ["read_html"]

_SKIP = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "svg",
)
_BLOCKS = ("p", "li", "dd", "dt", "blockquote", "pre", "td", "th", "figcaption", "caption")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


def read_html(file: Path, source: str) -> Document:
    from bs4 import BeautifulSoup

    text = read_text_file(file)
    if not text:
        raise DocumentError(f"{source}: leer")
    soup = BeautifulSoup(text, "html.parser")
    title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for tag in root.find_all(_SKIP):
        tag.decompose()
    items: list[Heading | str] = []
    for element in root.find_all([*_HEADINGS, *_BLOCKS]):
        # A block nested in another block (a <p> inside an <li>) is read with its outer block.
        if element.find_parent(_BLOCKS):
            continue
        words = " ".join(element.get_text(" ").split())
        if not words:
            continue
        if element.name in _HEADINGS:
            items.append(Heading(_HEADINGS[element.name], words))
        else:
            items.append(words)
    if not any(isinstance(i, str) for i in items):
        # Text outside the usual block elements (a bare <body> with line breaks).
        loose = " ".join(root.get_text(" ").split())
        if loose:
            items.append(loose)
    return assemble(items, source=source, title=title, default_title=title_from_name(file))
