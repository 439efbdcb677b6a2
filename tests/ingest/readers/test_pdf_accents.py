"""Accents drawn as glyphs of their own (as dvips and older Ghostscript write them) are joined to the
letter they stand on, by position: "erkl¨art" is read as "erklärt", whichever comes first in the file."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.chunking import chunk_document
from assistant.ingest.readers import read_document
from tests.pdfs import write_pdf

# Helvetica's advance widths (1/1000 em) for the characters used; the test PDFs set 11 pt.
WIDTHS = {
    " ": 278,
    ".": 278,
    "D": 722,
    "B": 667,
    "M": 833,
    "R": 722,
    "a": 556,
    "d": 556,
    "e": 556,
    "g": 556,
    "i": 222,
    "k": 500,
    "l": 222,
    "m": 833,
    "n": 556,
    "r": 333,
    "s": 500,
    "t": 278,
    "u": 556,
    "\u00a8": 333,
    "\u00b4": 333,
    "\u00b8": 333,
    "c": 500,
    "F": 611,
    "o": 556,
    "/": 278,
    "~": 584,
    "P": 667,
    "f": 278,
    "q": 556,
    "^": 469,
    "2": 556,
    "h": 556,
    "w": 722,
    "z": 500,
    "S": 667,
    "A": 667,
    "p": 556,
}


def advance(text: str) -> float:
    return sum(WIDTHS[c] for c in text) * 11 / 1000


def accent_over(line: str, at: int, accent: str, x: float = 72.0) -> float:
    """Where to draw ``accent`` so that it stands centred over ``line[at]``."""
    return x + advance(line[:at]) + (advance(line[at]) - advance(accent)) / 2


def test_accents_drawn_apart_are_joined_to_their_letters(tmp_path: Path) -> None:
    line = "Der Beirat erklart die Regeln im Munster."
    second = "Die Fassade ist restauriert und sehr schon."
    lines = [
        (72.0, 700.0, "\u00a8"),  # drawn before its letter: over the a of "erklart"
        (72.0, 700.0, line),
        (accent_over(line, line.index("Munster") + 1, "\u00a8"), 700.0, "\u00a8"),  # after: over the u
        (72.0, 686.0, second),
        (accent_over(second, second.index("schon") + 3, "\u00a8"), 686.0, "\u00a8"),
    ]
    lines[0] = (accent_over(line, line.index("erklart") + 4, "\u00a8"), 702.5, "\u00a8")
    document = read_document(write_pdf(tmp_path / "akzente.pdf", [lines]))
    text = " ".join(p.text for p in chunk_document(document))
    assert "erklärt die Regeln im Münster." in text, text
    assert "sehr schön." in text, text
    assert "\u00a8" not in text


def test_marks_beside_letters_stay_as_they_are(tmp_path: Path) -> None:
    line = "Der Pfad ~/quellen und a^2 stehen so im Text, auch diese Satzteile."
    document = read_document(write_pdf(tmp_path / "code.pdf", [[(72.0, 700.0, line)]]))
    text = " ".join(p.text for p in chunk_document(document))
    assert "~/quellen" in text and "a^2" in text, text


def _write_with_bitmap_quote(path: Path, before: str, after: str, *, low: bool) -> Path:
    """One line of Helvetica with a glyph of a Type 3 font between ``before`` and ``after``, as
    pdfTeX writes a bitmap (pk) font from TeX's T1 encoding: code 18 (T1's „), named ``/a18``, no
    Unicode map. ``low``: the glyph sits on the baseline like „; otherwise high, like OT1's grave
    accent with the same code."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        NumberObject,
    )

    writer = PdfWriter()
    helvetica = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    bottom, top = (-180, 60) if low else (560, 720)
    glyph = DecodedStreamObject()
    glyph.set_data(
        b"400 0 40 %d 360 %d d1 40 %d 120 %d re f 240 %d 120 %d re f"
        % (bottom, top, bottom, top - bottom, bottom, top - bottom)
    )
    bitmap = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type3"),
                NameObject("/FontMatrix"): ArrayObject([FloatObject(v) for v in (0.001, 0, 0, 0.001, 0, 0)]),
                NameObject("/FontBBox"): ArrayObject([NumberObject(v) for v in (0, bottom, 400, top)]),
                NameObject("/FirstChar"): NumberObject(18),
                NameObject("/LastChar"): NumberObject(18),
                NameObject("/Widths"): ArrayObject([NumberObject(400)]),
                NameObject("/Encoding"): DictionaryObject(
                    {
                        NameObject("/Type"): NameObject("/Encoding"),
                        NameObject("/Differences"): ArrayObject([NumberObject(18), NameObject("/a18")]),
                    }
                ),
                NameObject("/CharProcs"): DictionaryObject({NameObject("/a18"): writer._add_object(glyph)}),
                NameObject("/Resources"): DictionaryObject(),
            }
        )
    )
    page = writer.add_blank_page(width=595, height=842)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): helvetica, NameObject("/F2"): bitmap})}
    )
    content = DecodedStreamObject()
    content.set_data(
        b"BT /F1 11 Tf 72 700 Td (" + before.encode("cp1252") + b") Tj /F2 11 Tf (\\022) Tj "
        b"/F1 11 Tf (" + after.encode("cp1252") + b") Tj ET"
    )
    page[NameObject("/Contents")] = writer._add_object(content)
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def test_a_low_quote_from_a_bitmap_font_without_unicode_is_read(tmp_path: Path) -> None:
    """texinfo.tex sets „ from an EC font as a Type 3 bitmap glyph with code 18 and no Unicode map:
    PDFium passes the raw code through. Standing low before a word, it is the low quote; the same code
    set high (OT1's grave accent) is not."""
    before, after = "Das Programm heißt seit 2020 ", "Sozialer Zusammenhalt“ und ist bekannt."
    low = read_document(_write_with_bitmap_quote(tmp_path / "tief.pdf", before, after, low=True))
    text = " ".join(p.text for p in chunk_document(low))
    assert "heißt seit 2020 „Sozialer Zusammenhalt“ und" in text, text
    high = read_document(_write_with_bitmap_quote(tmp_path / "hoch.pdf", before, after, low=False))
    text = " ".join(p.text for p in chunk_document(high))
    assert "„" not in text, text


def test_an_accent_on_a_letter_without_a_precomposed_form_becomes_a_combining_mark(tmp_path: Path) -> None:
    """ "o" with a cedilla has no precomposed character. Set as TeX sets an accent (the accent, a
    step back, the letter, in one text object), the accent is read as the letter followed by the
    combining cedilla, not as a spacing cedilla of its own."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    page = writer.add_blank_page(width=595, height=842)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    content = DecodedStreamObject()
    # The cedilla (333 units wide) centred under the "o" (556): 111.5 units on, then 444.5 back.
    content.set_data(
        b"BT /F1 11 Tf 72 700 Td [(Der Laut ) -111.5 (\\270) 444.5 (o steht in einer Tabelle.)] TJ ET"
    )
    page[NameObject("/Contents")] = writer._add_object(content)
    with open(tmp_path / "cedille.pdf", "wb") as handle:
        writer.write(handle)
    document = read_document(tmp_path / "cedille.pdf")
    text = " ".join(p.text for p in chunk_document(document))
    assert "Der Laut o\u0327 steht in einer Tabelle." in text, ascii(text)


def test_text_scaled_by_its_matrix_keeps_its_size_and_its_lowered_quotes(tmp_path: Path) -> None:
    """Old dvipdfm output sets every font at 1 pt and scales the text by its matrix, so PDFium reports
    a size of 1; german.sty sets „ as a lowered ”. Both are read: the size from the glyphs' boxes, the
    quote as „ before its word."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    page = writer.add_blank_page(width=595, height=842)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    before = "Die Makropakete "
    x = 72 + advance(before) * 10 / 11  # advance() measures 11 pt; the text here is 10 pt
    quote_width = 333 * 10 / 1000
    parts = [
        b"BT /F1 1 Tf 10 0 0 10 72 700 Tm (" + before.encode("cp1252") + b") Tj ET",
        b"BT /F1 1 Tf 10 0 0 10 %.2f 695 Tm (\\224) Tj ET" % x,  # ” lowered by half an em
        b"BT /F1 1 Tf 10 0 0 10 %.2f 700 Tm (german\\223 dienen mehreren Zwecken.) Tj ET" % (x + quote_width),
    ]
    parts += [
        b"BT /F1 1 Tf 10 0 0 10 72 %d Tm (Sie aktivieren die deutschen Trennmuster und Befehle.) Tj ET"
        % (686 - 12 * i)
        for i in range(4)
    ]
    content = DecodedStreamObject()
    content.set_data(b"\n".join(parts))
    page[NameObject("/Contents")] = writer._add_object(content)
    with open(tmp_path / "skaliert.pdf", "wb") as handle:
        writer.write(handle)
    text = " ".join(p.text for p in chunk_document(read_document(tmp_path / "skaliert.pdf")))
    assert "Die Makropakete \u201egerman\u201c dienen mehreren Zwecken." in text, ascii(text)
