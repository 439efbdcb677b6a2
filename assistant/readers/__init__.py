"""One reader per file format, each turning a file into a ``Document``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..documents import Document
from .html import read_html
from .markdown import read_markdown
from .office import read_docx
from .pdf import read_pdf
from .plain import read_plain

__all__ = ["READERS"]

READERS: dict[str, Callable[[Path, str], Document]] = {
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_plain,
    ".pdf": read_pdf,
    ".html": read_html,
    ".htm": read_html,
    ".docx": read_docx,
}
