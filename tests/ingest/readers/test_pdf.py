"""PDF reading: page labels, outline, dehyphenation, running heads, columns and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import DocumentError
from assistant.ingest.chunking import chunk_document
from assistant.ingest.readers import read_document
from assistant.ingest.readers.pdf import join_lines
from tests.pdfs import write_pdf


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["Das Quartiers-", "management arbeitet"], "Das Quartiersmanagement arbeitet"),
        (["mit den EU-", "Staaten"], "mit den EU-Staaten"),
        (["aus Bundes-", "und Landesmitteln"], "aus Bundes- und Landesmitteln"),
        (["Bundes- und Landes-", "mittel"], "Bundes- und Landesmittel"),
        (["Debian\x02", "Richtlinien"], "Debian-Richtlinien"),
        (["verfüg\x02", "bar"], "verfügbar"),
        (["Macken und so-", "wie Abstürze"], "Macken und sowie Abstürze"),
        (["Ende.", "Anfang"], "Ende. Anfang"),
    ],
)
def test_join_lines(lines: list[str], expected: str) -> None:
    assert join_lines(lines) == expected


def test_pages_carry_their_number_and_printed_label(tmp_path: Path) -> None:
    pdf = write_pdf(
        tmp_path / "leitfaden.pdf",
        [
            ["Vorwort zur Arbeitshilfe."],
            ["Inhaltsverzeichnis."],
            ["Das Quartiersmanagement vor Ort."],
            ["Über die Verstetigung."],
        ],
        labels=[(0, 1, "/r", "", 1), (2, 3, "/D", "", 1)],
        title="Arbeitshilfe Quartiersmanagement",
    )
    doc = read_document(pdf, tmp_path)
    assert doc.title == "Arbeitshilfe Quartiersmanagement"
    assert [(b.page, b.page_label) for b in doc.blocks] == [(1, "i"), (2, "ii"), (3, "1"), (4, "2")]
    assert doc.blocks[3].text == "Über die Verstetigung."


def test_without_labels_a_page_is_cited_by_its_number(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "notiz.pdf", [["Erste Seite."], ["Zweite Seite über den Quartiersrat."]])
    passages = chunk_document(read_document(pdf, tmp_path))
    assert [p.citation.label for p in passages] == ["Notiz, S. 1", "Notiz, S. 2"]


def test_hyphenation_is_joined_and_real_hyphens_stay(tmp_path: Path) -> None:
    pdf = write_pdf(
        tmp_path / "trennung.pdf",
        [
            [
                "Das Quartiers-",
                "management arbeitet mit EU-",
                "Staaten und bündelt Bundes-",
                "und Landesmittel.",
            ]
        ],
    )
    text = read_document(pdf, tmp_path).blocks[0].text
    assert text == "Das Quartiersmanagement arbeitet mit EU-Staaten und bündelt Bundes- und Landesmittel."


def test_running_heads_footers_and_page_numbers_are_dropped(tmp_path: Path) -> None:
    pages = [
        [
            (72, 800, "Arbeitshilfe Quartiersmanagement"),
            (400, 800, f"Kapitel {n}"),
            (72, 700, f"Inhalt der Seite {n} über Beteiligung im Quartier."),
            (290, 40, str(n)),
        ]
        for n in range(1, 6)
    ]
    doc = read_document(write_pdf(tmp_path / "kopf.pdf", pages), tmp_path)
    assert [b.text for b in doc.blocks] == [
        f"Inhalt der Seite {n} über Beteiligung im Quartier." for n in range(1, 6)
    ]


def test_a_footnote_alone_at_the_foot_of_pages_is_kept_and_a_changing_footer_is_not(tmp_path: Path) -> None:
    """A document without footers: the last row of its pages stands at the same height, set off from the
    text. A sentence there is a footnote and stays; a row that changes from page to page and is no
    sentence (a chapter's name) is a footer and goes."""
    topics = ["Beteiligung", "Verstetigung", "Lenkungsgruppe", "Verfügungsfonds", "Netzwerke", "Monitoring"]
    verbs = ["beschreibt", "erklärt", "ordnet", "zeigt", "nennt"]
    notes = {2: "3 Quelle: Baugesetzbuch, Paragraf 171e.", 4: "7 Quelle: BBSR-Forschung zum Verfügungsfonds."}
    pages = [
        [
            (72, 760 - 14 * i, f"Hier {verb} der Text {topics[n - 1]} im Quartier.")
            for i, verb in enumerate(verbs)
        ]
        + [(72, 60, notes.get(n, f"Teil {n} Beteiligung und Verstetigung"))]
        for n in range(1, 7)
    ]
    doc = read_document(write_pdf(tmp_path / "fuss.pdf", pages), tmp_path)
    texts = [b.text for b in doc.blocks]
    assert all(note in texts for note in notes.values()), texts
    assert not any(text.startswith("Teil ") for text in texts), texts
    assert sum(text.count("Hier ") for text in texts) == 30, texts


def test_two_columns_are_read_left_column_first(tmp_path: Path) -> None:
    left = [(60, 700 - 14 * i, f"Links Zeile {i}.") for i in range(8)]
    right = [(320, 700 - 14 * i, f"Rechts Zeile {i}.") for i in range(8)]
    title = [(60, 760, "Eine Überschrift, die über beide Spalten der Seite hinweg reicht")]
    doc = read_document(write_pdf(tmp_path / "spalten.pdf", [title + right + left]), tmp_path)
    text = " ".join(b.text for b in doc.blocks)
    expected = " ".join([title[0][2]] + [t for *_, t in left] + [t for *_, t in right])
    assert text == expected


def test_margin_notes_stand_apart_from_the_body_lines_beside_them(tmp_path: Path) -> None:
    body = [
        "Das Quartiersmanagement bereitet die Sitzung des Beirats vor",
        "und lädt alle Mitglieder rechtzeitig mit der Tagesordnung ein.",
        "Die Unterlagen gehen spätestens eine Woche vorher hinaus, damit",
        "alle sich vorbereiten und Fragen vorab stellen können.",
    ]
    lines = [(150, 700 - 14 * i, text) for i, text in enumerate(body)]
    notes = [(40, 700, "Frist:"), (40, 686, "eine"), (40, 672, "Woche")]
    doc = read_document(write_pdf(tmp_path / "rand.pdf", [notes + lines]), tmp_path)
    texts = [b.text for b in doc.blocks]
    assert " ".join(body) in texts  # the body paragraph whole, no note spliced into its lines
    assert "Frist: eine Woche" in texts  # the note a block of its own, after the paragraph


def test_a_printed_contents_page_is_left_out_and_names_the_chapters(tmp_path: Path) -> None:
    contents = [(72, 760, "Inhaltsverzeichnis")] + [
        (72, 730 - 16 * i, f"{title} . . . . . . . . . . . . . . . . . . {page}")
        for i, (title, page) in enumerate(
            [("1 Grundlagen", 2), ("2 Beteiligung", 3), ("3 Verstetigung", 4), ("4 Anhang", 5)]
        )
    ]
    chapters = [
        [(72, 800, "Testbericht Quartier"), (72, 700, title)]
        + [
            (72, 670 - 14 * i, f"Text des Kapitels {title[2:]}, Zeile {i}, über das Quartier.")
            for i in range(4)
        ]
        for title in ("1 Grundlagen", "2 Beteiligung", "3 Verstetigung", "4 Anhang")
    ]
    doc = read_document(write_pdf(tmp_path / "inhalt.pdf", [contents, *chapters]), tmp_path)
    assert {b.page for b in doc.blocks} == {2, 3, 4, 5}  # no passage from the contents page
    passage = next(p for p in chunk_document(doc) if "Kapitels Beteiligung" in p.text)
    assert passage.citation.chapter == "2 Beteiligung" and passage.citation.page == 3


def test_encrypted_textless_and_broken_pdfs_are_refused_with_a_reason(tmp_path: Path) -> None:
    locked = write_pdf(tmp_path / "geheim.pdf", [["Vertraulich."]], password="geheim")
    with pytest.raises(DocumentError, match=r"^geheim.pdf: verschlüsselt"):
        read_document(locked, tmp_path)
    scanned = write_pdf(tmp_path / "scan.pdf", [[]])
    with pytest.raises(DocumentError, match=r"^scan.pdf: keine Textebene"):
        read_document(scanned, tmp_path)
    broken = tmp_path / "kaputt.pdf"
    broken.write_bytes(b"%PDF-1.4 nur der Anfang")
    with pytest.raises(DocumentError, match=r"^kaputt.pdf: keine lesbare PDF-Datei"):
        read_document(broken, tmp_path)
    empty = tmp_path / "leer.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match=r"^leer.pdf: "):
        read_document(empty, tmp_path)


def test_pdf_locked_only_against_editing_is_read(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "offen.pdf", [["Lesbar ohne Passwort."]], password="")
    assert read_document(pdf, tmp_path).blocks[0].text == "Lesbar ohne Passwort."


def test_a_document_that_never_hyphenates_keeps_its_line_end_hyphens(tmp_path: Path) -> None:
    """Slides and spreadsheet cells are set without hyphenation: a hyphen at the end of a line is a
    real one there ("nicht-|investive"), while in a document that breaks words it is a break."""
    topics = ["Beteiligung", "Verstetigung", "Netzwerke", "Monitoring", "Öffentlichkeitsarbeit"]
    filler = [f"Folie über {topics[i % 5]} im Quartier, Punkt {i}." for i in range(120)]
    broken = ["Ein Fest gilt als nicht-", "investive Ausgabe des Fonds."]
    pages = [filler[:40], filler[40:80] + broken, filler[80:]]
    doc = read_document(write_pdf(tmp_path / "folien.pdf", pages), tmp_path)
    text = " ".join(b.text for b in doc.blocks)
    assert "als nicht-investive Ausgabe" in text, text
    # The same lines in a document that hyphenates (every fourth line broken): joined.
    hyphenating = [
        f"Text über {topics[i % 5]} im Quar-" if i % 4 == 0 else f"tier, Punkt {i}." for i in range(120)
    ]
    pages = [hyphenating[:40], hyphenating[40:80] + broken, hyphenating[80:]]
    doc = read_document(write_pdf(tmp_path / "bericht.pdf", pages), tmp_path)
    text = " ".join(b.text for b in doc.blocks)
    assert "als nichtinvestive Ausgabe" in text, text
    # A manual whose many short lines dilute its breaks, but which writes one broken word unbroken
    # elsewhere: it hyphenates, so a word it breaks only once is joined too.
    manual = ["Die Ausrichtung der Zeilen ist wichtig."] + filler[:-1]
    breaks = ["Die Seite zeigt die Ausrich-", "tung der Zeilen und po-", "tentielle Fehler."]
    pages = [manual[:40], manual[40:80] + breaks, manual[80:]]
    doc = read_document(write_pdf(tmp_path / "handbuch.pdf", pages), tmp_path)
    text = " ".join(b.text for b in doc.blocks)
    assert "zeigt die Ausrichtung der Zeilen und potentielle Fehler." in text, text


def test_a_line_end_hyphen_set_a_little_apart_still_breaks_its_word(tmp_path: Path) -> None:
    """LibreOffice may set the hyphen of a broken word a little apart when it justifies the line
    ("Öffent -|lichkeitsarbeit"); a dash typed with spaces (" - ") stays a dash."""
    first = "Ehrenamtliche lernen Moderation und Öffent"
    width = sum({"Ö": 778, "f": 278, "e": 556, "n": 556, "t": 278}[c] for c in "Öffent") * 11 / 1000
    start = 72 + 11 * 0.001 * sum(
        {" ": 278, "E": 667, "h": 556, "r": 333, "a": 556, "m": 833, "i": 222, "c": 500, "l": 222, "u": 556,
         "M": 833, "o": 556, "d": 556, "t": 278, "n": 556, "e": 556}[c]
        for c in first[: -len("Öffent")]
    )  # fmt: skip
    lines = [
        (72, 700, first),
        (start + width + 2.0, 700, "-"),
        (72, 686, "lichkeitsarbeit, und das Team hilft dabei."),
        (72, 672, "Die Frage ist offen -"),
        (72, 658, "wer zahlt, bleibt unklar."),
    ]
    doc = read_document(write_pdf(tmp_path / "trenn.pdf", [lines]), tmp_path)
    text = " ".join(b.text for b in doc.blocks)
    assert "Moderation und Öffentlichkeitsarbeit, und" in text, text
    assert "offen - wer zahlt" in text, text


def _write_with_cmap(path: Path, content: bytes, mapped: bytes) -> Path:
    """One page of Helvetica text (``content``: its text operators) whose font maps its codes to
    Unicode through a ToUnicode CMap: printable ASCII to itself, plus the ``mapped`` bfchar lines."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    cmap = DecodedStreamObject()
    cmap.set_data(
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Test def "
        b"1 begincodespacerange <00> <FF> endcodespacerange "
        b"1 beginbfrange <20> <7E> <0020> endbfrange 1 beginbfchar " + mapped + b" endbfchar "
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            NameObject("/ToUnicode"): writer._add_object(cmap),
        }
    )
    page = writer.add_blank_page(width=595, height=842)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(content)
    page[NameObject("/Contents")] = writer._add_object(stream)
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def test_a_no_break_space_between_words_is_a_space(tmp_path: Path) -> None:
    """A no-break space ("Abschnitt 2.4", as DocBook sets a cross-reference) that the font maps to
    U+00A0 is a space, however narrow the gap it leaves."""
    # The number follows the no-break space kerned 0.8 pt closer: a gap of 0.2 em.
    pdf = _write_with_cmap(
        tmp_path / "nbsp.pdf",
        b"BT /F1 11 Tf 72 700 Td [(Bitte lesen Sie Abschnitt\\240) 70 (2.4 und den Leitfaden.)] TJ ET",
        b"<A0> <00A0>",
    )
    doc = read_document(pdf, tmp_path)
    assert doc.blocks[0].text == "Bitte lesen Sie Abschnitt 2.4 und den Leitfaden."


def test_a_character_outside_the_basic_plane_is_read_whole(tmp_path: Path) -> None:
    """A glyph mapped to a character beyond U+FFFF (a math italic epsilon in "LaTeX 2𝜀") is one
    character in the passages, not two UTF-16 halves that no encoder can write."""
    pdf = _write_with_cmap(
        tmp_path / "epsilon.pdf",
        b"BT /F1 11 Tf 72 700 Td (Mit LaTeX 2\\200 wissenschaftlich publizieren.) Tj ET",
        b"<80> <D835DF00>",
    )
    passages = chunk_document(read_document(pdf, tmp_path))
    assert passages[0].text == "Mit LaTeX 2\U0001d700 wissenschaftlich publizieren."


_HELVETICA = {
    " ": 278, "a": 556, "d": 556, "e": 556, "i": 222, "m": 833,
    "n": 556, "r": 333, "s": 500, "t": 278, "u": 556,
}  # fmt: skip


def _line_to(width: float, first: str = "") -> str:
    """Words of Helvetica 11 pt filling ``width`` points to within 2.5 pt (after ``first``)."""
    words, text = ["unser", "rat", "sitzt", "da", "und", "mit", "einem", "team", "immer"], first
    size = 11 / 1000
    k = 0
    while True:
        word = words[k % len(words)]
        k += 1
        candidate = f"{text} {word}".strip()
        if sum(_HELVETICA.get(c.lower(), 556) for c in candidate) * size > width:
            break
        text = candidate
    while sum(_HELVETICA.get(c.lower(), 556) for c in text + "i") * size <= width:
        text += "i"
    return text


_TOPICS = ["Beteiligung", "Verstetigung", "Netzwerke", "Monitoring", "Fonds", "Quartiersrat", "Lenkung"]
_WORDS = ["rand", "mast", "nest", "turm", "dame", "rest", "saat"]  # a row's own first word


def _glossary_page(cells: range) -> list[tuple[float, float, str]]:
    """A spreadsheet page: a term, a wide explanation wrapped over ten lines whose first two end close
    to the next column, and a short third column of two lines per row."""
    lines: list[tuple[float, float, str]] = [
        (50, 790, "Begriff"),
        (150, 790, "Erklärung"),
        (446, 790, "Teil"),
    ]
    for n, cell in enumerate(cells):
        top = 770 - 150 * n
        lines.append((50, top, _TOPICS[cell]))
        for i in range(10):
            # the first line ends an em before the next column, the second half an em before it
            end = 435.0 if i == 0 else 441.0 if i == 1 else 400.0
            lines.append((150, top - 14 * i, _line_to(end - 150, _WORDS[cell])))
        lines += [(446, top, f"Glossar {_TOPICS[cell]}"), (446, top - 14, f"Teil {cell}")]
    return lines


def test_a_table_column_that_the_page_shows_many_times_cuts_a_wrapped_cell(tmp_path: Path) -> None:
    """A spreadsheet's wide cell wraps its lines close to the next column, whose cells hold a line or
    two each: near any one row few lines start at that column's edge, but all down the page they do.
    The cell beside it is not spliced into the wrapped cell's lines."""
    doc = read_document(write_pdf(tmp_path / "tabelle.pdf", [_glossary_page(range(5))]), tmp_path)
    texts = [b.text for b in doc.blocks]
    assert all(f"Glossar {_TOPICS[cell]} Teil {cell}" in texts for cell in range(5)), texts
    assert not any("Glossar" in t and "unser" in t for t in texts), texts


def test_a_table_column_that_another_page_proves_cuts_a_wrapped_cell(tmp_path: Path) -> None:
    """The table's last page holds two rows: the column's edge shows there only three times, but the
    page before proves it."""
    pages = [_glossary_page(range(5)), _glossary_page(range(5, 7))]
    doc = read_document(write_pdf(tmp_path / "tabelle.pdf", pages), tmp_path)
    texts = [b.text for b in doc.blocks]
    assert all(f"Glossar {_TOPICS[cell]} Teil {cell}" in texts for cell in range(7)), texts
    assert not any("Glossar" in t and "unser" in t for t in texts), texts


def test_an_example_set_beside_its_source_between_two_paragraphs_is_read_column_by_column(
    tmp_path: Path,
) -> None:
    """A manual shows a source beside its typeset result, in two narrow columns between paragraphs that
    run across the page: the paragraphs cross the gap near every row, the lines right beside it do not."""
    lines: list[tuple[float, float, str]] = [(112, 780 - 14 * i, _line_to(370)) for i in range(5)]
    for i in range(9):
        lines += [(112, 700 - 14 * i, f"quelle {i} " + _line_to(120)), (310, 700 - 14 * i, f"satz {i} ")]
    lines += [(112, 560 - 14 * i, _line_to(370)) for i in range(5)]
    doc = read_document(write_pdf(tmp_path / "beispiel.pdf", [lines]), tmp_path)
    text = " ".join(b.text for b in doc.blocks)
    source, result = text[text.index("quelle 0") : text.index("quelle 8")], text[text.index("satz 0") :]
    assert "satz" not in source, text
    assert result.startswith("satz 0 satz 1 satz 2 satz 3 satz 4 satz 5 satz 6 satz 7 satz 8"), text


def test_the_first_row_of_a_table_under_a_paragraph_is_read_cell_by_cell(tmp_path: Path) -> None:
    """A table without rules right under a paragraph that runs across its columns: near its first
    rows the paragraph's lines cross every gap between the columns, but the page shows the columns'
    edges all down the table, and below the first row the gaps stay empty."""
    lines: list[tuple[float, float, str]] = [(72, 780 - 14 * i, _line_to(448)) for i in range(8)]
    top = 660
    for row in range(4):
        for i in range(3):
            y = top - 14 * i
            lines += [(72, y, _line_to(100)), (222, y, _line_to(110)), (374, y, _line_to(90))]
        lines[-9 + 2] = (374, top, f"Teil {row}")  # the third column's first line names the row
        top -= 14 * 3 + 8
    doc = read_document(write_pdf(tmp_path / "tabelle.pdf", [lines]), tmp_path)
    texts = [b.text for b in doc.blocks]
    assert all(any(t.startswith(f"Teil {row}") for t in texts) for row in range(4)), texts
    assert not any(f"Teil {row}" in t and not t.startswith("Teil") for row in range(4) for t in texts), texts


def test_ligatures_named_by_the_glyph_list_are_read(tmp_path: Path) -> None:
    """LaTeX writes OpenType-derived Type 1 fonts (Linux Libertine) without a ToUnicode map, their
    ligatures named "f_i", "f_f": PDFium passes the raw codes through ("de\\x1bnition", "Vnden"). The
    glyph names say what they are."""
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    encoding = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Encoding"),
            NameObject("/BaseEncoding"): NameObject("/WinAnsiEncoding"),
            NameObject("/Differences"): ArrayObject(
                [NumberObject(27), NameObject("/f_i"), NumberObject(85), NameObject("/f_f")]
            ),
        }
    )
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/ABCDEF+Helvetica"),
            NameObject("/Encoding"): encoding,
        }
    )
    page = writer.add_blank_page(width=595, height=842)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    content = DecodedStreamObject()
    line = b"Die De\\033nition der O\\125enbarung ist klar."
    content.set_data(b" ".join(b"BT /F1 11 Tf 72 %d Td (%s) Tj ET" % (700 - 14 * i, line) for i in range(6)))
    page[NameObject("/Contents")] = writer._add_object(content)
    with open(tmp_path / "ligaturen.pdf", "wb") as handle:
        writer.write(handle)
    text = " ".join(p.text for p in chunk_document(read_document(tmp_path / "ligaturen.pdf", tmp_path)))
    assert "Die Definition der Offenbarung ist klar." in text, ascii(text)
