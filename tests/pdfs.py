"""Writing small text PDFs for tests with pypdf (no PDF library beyond the one the reader uses)."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

__all__ = ["write_pdf"]


def _escape(line: str) -> bytes:
    raw = line.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


Line = str | tuple[float, float, str]  # a line of text, or (x, y, text) placed on the page


def write_pdf(
    path: Path,
    pages: list[list[Line]],
    *,
    labels: list[tuple[int, int, str, str, int]] = (),  # (first, last, style, prefix, start), 0-based
    title: str | None = None,
    password: str | None = None,
) -> Path:
    """A PDF of Helvetica text: plain lines run down from the top left, placed lines stand where
    they are put; optional page labels, title and password."""
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
        parts = []
        y = 770.0
        for line in lines:
            if isinstance(line, str):
                x, text = 72.0, line
                y -= 14
                at = y + 14
            else:
                x, at, text = line
            parts.append(b"BT /F1 11 Tf %.1f %.1f Td (" % (x, at) + _escape(text) + b") Tj ET")
        stream = DecodedStreamObject()
        stream.set_data(b"\n".join(parts))
        page[NameObject("/Contents")] = writer._add_object(stream)
    for first, last, style, prefix, start in labels:
        writer.set_page_label(first, last, style=style, prefix=prefix or None, start=start)
    if title:
        writer.add_metadata({"/Title": title})
    if password is not None:
        writer.encrypt(password)
    with open(path, "wb") as handle:
        writer.write(handle)
    return path
