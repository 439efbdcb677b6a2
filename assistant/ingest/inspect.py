"""``assistant inspect FILE``: how a document was read, block by block, and the passages it makes.

For a PDF every page lists its blocks in reading order with their kind (text, heading, margin note,
box, footnote, caption, and the running heads/footers and contents entries that are left out), then
the passages a build would make with their citations. Other formats show the passages only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .chunking import chunk_document
from .documents import Document
from .readers import read_as, read_document
from .readers.pdf import PdfLayout, layout_document, page_paragraphs, read_layout

__all__ = ["KIND_NAMES", "Inspection", "inspect_lines", "parse_pages"]

KIND_NAMES = {
    "body": "Text",
    "heading": "Überschrift",
    "margin": "Randnotiz",
    "box": "Kasten",
    "footnote": "Fußnote",
    "caption": "Bildunterschrift",
    "furniture": "Kopf-/Fußzeile, entfällt",
    "contents": "Inhaltsverzeichnis, entfällt",
    "index": "Register, entfällt",
    "mark": "Fußnotenzeichen allein, entfällt",
}


def parse_pages(spec: str | None) -> set[int] | None:
    """ "3", "3-5", "1,4-6" → page numbers; None for all pages. ValueError with a German message."""
    if not spec:
        return None
    pages: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        try:
            a, b = int(first), int(last or first)
        except ValueError:
            raise ValueError(f"Seitenangabe „{spec}“ nicht verstanden (Beispiel: 3 oder 2-5)") from None
        if a < 1 or b < a or b - a > 100_000:
            raise ValueError(f"Seitenangabe „{spec}“ nicht verstanden (Beispiel: 3 oder 2-5)")
        pages.update(range(a, b + 1))
    return pages


def _short(text: str, full: bool, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if full or len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Inspection:
    """A file read once for ``assistant inspect``: the document a build gets, and for a PDF its layout."""

    file: Path
    document: Document
    layout: PdfLayout | None = None

    @classmethod
    def read(cls, file: Path) -> Inspection:
        """DocumentError when the file cannot be read."""
        if file.suffix.lower() != ".pdf":
            return cls(file, read_document(file))
        layout = read_as(read_layout, file, file.name)  # read once: the blocks and the passages
        return cls(file, layout_document(layout, file, file.name), layout)

    def lines(self, *, pages: set[int] | None = None, full: bool = False) -> Iterator[str]:
        """The report, line by line."""
        document, layout = self.document, self.layout
        if layout is None:
            yield f"{self.file.name}: „{document.title}“"
        else:
            yield from _page_lines(self.file, document, layout, pages, full)
        passages = [
            p
            for p in chunk_document(document)
            if pages is None or p.citation.page is None or p.citation.page in pages
        ]
        yield ""
        yield f"Passagen ({len(passages)}):"
        for number, passage in enumerate(passages, start=1):
            yield f"  [{number}] {passage.citation.document} › {passage.citation.label}"
            yield f"      {_short(passage.text, full, 300)}"


def inspect_lines(file: Path, *, pages: set[int] | None = None, full: bool = False) -> Iterator[str]:
    """The report, line by line; DocumentError when the file cannot be read."""
    yield from Inspection.read(file).lines(pages=pages, full=full)


def _page_lines(
    file: Path, document: Document, layout: PdfLayout, pages: set[int] | None, full: bool
) -> Iterator[str]:
    where = (
        f"Gliederung: {len(layout.outline)} Kapitel und Abschnitte" if layout.outline else "ohne Gliederung"
    )
    yield f"{file.name}: „{document.title}“, {len(layout.pages)} Seiten, {where}"
    for page in layout.pages:
        if pages is not None and page.number not in pages:
            continue
        label = layout.labels[page.number - 1]
        printed = f" (gedruckt: {label})" if label and label != str(page.number) else ""
        if page.number in layout.recognised:
            printed += " (Texterkennung)"
        elif page.number in layout.scanned:
            printed += " (gescannt, ohne Texterkennung)"
        yield ""
        yield f"Seite {page.number}{printed}"
        # The paragraphs as the build reads them, the left-out kinds included.
        paragraphs = page_paragraphs(page, tuple(KIND_NAMES), layout.lexicon)
        if not paragraphs:
            yield "  (kein Text)"
        for text, _, kind in paragraphs:
            yield f"  [{KIND_NAMES.get(kind, kind)}] {_short(text, full)}"
