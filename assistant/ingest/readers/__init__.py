"""One reader per file format, each turning a file into a ``Document``, and the one registry of
formats: which suffixes are read, by which reader, and how the app hands each file to a browser.

``read_document`` reads one file with its format's reader and turns every failure into a
``DocumentError`` with a one-line reason; ``discover`` finds the readable files in folders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ...errors import DocumentError
from ..documents import Document
from .html import read_html
from .markdown import read_markdown
from .office import read_docx
from .pdf import read_pdf
from .plain import read_plain

__all__ = ["FORMATS", "SUPPORTED_SUFFIXES", "Format", "discover", "read_document"]


@dataclass(frozen=True, slots=True)
class Format:
    """A file format: its reader and how the app serves the file itself."""

    read: Callable[[Path, str], Document]
    media_type: str
    disposition: str = "inline"  # "attachment" where browsers cannot show the file
    policy: str | None = None  # Content-Security-Policy for files from outside that could run scripts
    markdown: bool = False  # shown rendered from its Markdown source


_Read = TypeVar("_Read")

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

FORMATS: dict[str, Format] = {
    ".md": Format(read_markdown, "text/plain; charset=utf-8", markdown=True),
    ".markdown": Format(read_markdown, "text/plain; charset=utf-8", markdown=True),
    ".txt": Format(read_plain, "text/plain; charset=utf-8"),
    ".pdf": Format(read_pdf, "application/pdf"),
    # HTML sources are shown in a CSP sandbox: they come from outside the project and must not run
    # scripts on the app's origin.
    ".html": Format(read_html, "text/html; charset=utf-8", policy="sandbox"),
    ".htm": Format(read_html, "text/html; charset=utf-8", policy="sandbox"),
    ".docx": Format(read_docx, _DOCX, disposition="attachment"),
}
SUPPORTED_SUFFIXES = frozenset(FORMATS)


def read_document(file: Path, root: Path | None = None) -> Document:
    """Read one file; raises DocumentError with a one-line reason when it cannot be used."""
    source = file.relative_to(root).as_posix() if root else file.name
    fmt = FORMATS.get(file.suffix.lower())
    if fmt is None:
        raise DocumentError(f"{source}: Dateityp {file.suffix or '(ohne Endung)'} wird nicht unterstützt")
    return read_as(fmt.read, file, source)


def read_as(reader: Callable[[Path, str], _Read], file: Path, source: str) -> _Read:
    """Run a reader on a file under a given source name, every failure a one-line DocumentError."""
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


def discover(
    paths: Iterable[Path], skip: Callable[[str], None] = lambda _: None
) -> Iterator[tuple[Path, Path]]:
    """Yield (file, root) for every supported file in the given files and folders, in a stable order.

    Inside a folder only regular files that really lie in it are read: a symbolic link (to a file, or
    on the way through a linked folder) could point anywhere on the machine, and what a build reads the
    app serves under /quellen. Each one left out is named to ``skip``. A file named directly is read
    wherever it points: the operator chose it."""
    for path in paths:
        if path.is_dir():
            root = path.resolve()
            for file in sorted(path.rglob("*")):
                if file.suffix.lower() not in SUPPORTED_SUFFIXES or _hidden(file, path):
                    continue
                if _linked(file, path) or not file.resolve().is_relative_to(root):
                    name = file.relative_to(path).as_posix()
                    skip(f"{name}: symbolischer Verweis – gelesen werden nur Dateien im Ordner selbst")
                    continue
                if file.is_file():
                    yield file, path
        elif path.is_file():
            yield path, path.parent
        else:
            raise DocumentError(f"{path}: Datei oder Ordner nicht gefunden")


def _linked(file: Path, root: Path) -> bool:
    """Whether the file, or a folder between it and ``root``, is a symbolic link."""
    current = file
    while current != root:
        if current.is_symlink():
            return True
        current = current.parent
    return False


def _hidden(file: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(root).parts)
