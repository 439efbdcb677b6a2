"""DOCX with python-docx: heading styles (English and German names) give chapter and section."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import DocumentError
from ...text import normalise
from ..documents import Document, Heading, assemble, title_from_name

__all__ = ["read_docx"]

_HEADING_STYLE = re.compile(r"^(?:heading|überschrift)\s*(\d)$", re.IGNORECASE)


def read_docx(file: Path, source: str) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(file))
    except PackageNotFoundError as exc:
        raise DocumentError(f"{source}: keine gültige DOCX-Datei") from exc
    except KeyError as exc:  # a zip without the parts a DOCX needs
        raise DocumentError(f"{source}: keine gültige DOCX-Datei ({exc})") from exc
    title = normalise(document.core_properties.title or "")
    items: list[Heading | str] = []
    # Paragraphs and tables in document order, so a table stays in the section it stands in.
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [normalise(c.text) for c in row.cells if normalise(c.text)]
                if cells:
                    items.append(" | ".join(dict.fromkeys(cells)))  # merged cells repeat: keep one
            continue
        text = normalise(block.text)
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        match = _HEADING_STYLE.match(style.strip())
        if style.strip().lower() in {"title", "titel"} and not title:
            title = text
        elif match:
            items.append(Heading(int(match.group(1)), text))
        else:
            items.append(text)
    if not any(isinstance(i, str) for i in items):
        raise DocumentError(f"{source}: enthält keinen Text")
    return assemble(items, source=source, title=title, default_title=title_from_name(file))
