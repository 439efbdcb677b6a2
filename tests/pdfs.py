"""Writing small text PDFs for tests with pypdf (no PDF library beyond the one the reader uses)."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

__all__ = ["write_pdf"]


def _escape(line: str) -> bytes:
    raw = line.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def write_pdf(
    path: Path,
    pages: list[list[str]],
    *,
    labels: list[tuple[int, int, str, str, int]] = (),  # (first, last, style, prefix, start), 0-based pages
    title: str | None = None,
    password: str | None = None,
) -> Path:
    """A PDF with one Helvetica text line per entry on each page; optional page labels and password."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for lines in pages:
        page = writer.add_blank_page(width=595, height=842)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        body = (
            b"BT /F1 11 Tf 72 770 Td "
            + b"".join(b"(" + _escape(line) + b") Tj 0 -14 Td " for line in lines)
            + b"ET"
        )
        stream = DecodedStreamObject()
        stream.set_data(body)
        page[NameObject("/Contents")] = writer._add_object(stream)
    for first, last, style, prefix, start in labels:
        writer.set_page_label(first, last, style=style, prefix=prefix or None, start=start)
    if title:
        writer.add_metadata({"/Title": title})
    if password:
        writer.encrypt(password)
    with open(path, "wb") as handle:
        writer.write(handle)
    return path
