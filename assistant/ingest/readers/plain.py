"""Plain text: blank lines separate paragraphs; the title comes from the file name."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import DocumentError
from ..documents import Block, Document, read_text_file, title_from_name

__all__ = ["read_plain"]


def read_plain(file: Path, source: str) -> Document:
    text = read_text_file(file)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paragraphs:
        raise DocumentError(f"{source}: leer")
    return Document(title=title_from_name(file), source=source, blocks=tuple(Block(p) for p in paragraphs))
