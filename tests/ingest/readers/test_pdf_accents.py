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
