from pathlib import Path

import pytest

from assistant.documents import DocumentError, discover, read_document


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_front_matter_title_makes_h1_the_chapter_and_h2_the_section(tmp_path: Path) -> None:
    doc = read_document(
        write(
            tmp_path,
            "a.md",
            "---\ntitle: Wissensbasis\n---\n# Teil A\n\nVorspann.\n\n## Abschnitt 1\n\n**Fett** und [Link](http://x).\n",
        ),
        tmp_path,
    )
    assert doc.title == "Wissensbasis"
    assert [(b.chapter, b.section, b.text) for b in doc.blocks] == [
        ("Teil A", "", "Vorspann."),
        ("Teil A", "Abschnitt 1", "Fett und Link."),
    ]


def test_single_h1_is_the_title_and_deeper_headings_fold_into_the_section(tmp_path: Path) -> None:
    text = "# Mein Dokument\n\n## Kapitel\n\n### Abschnitt\n\n#### Unterpunkt\n\nText hier.\n"
    doc = read_document(write(tmp_path, "b.md", text), tmp_path)
    assert doc.title == "Mein Dokument"
    assert (doc.blocks[0].chapter, doc.blocks[0].section) == ("Kapitel", "Abschnitt › Unterpunkt")


def test_sources_section_is_kept_out_of_the_text(tmp_path: Path) -> None:
    text = "# Titel\n\n## Kapitel\n\nInhalt.\n\n## Quellen\n\n- BauGB § 171e\n- sozialestadt.de\n"
    doc = read_document(write(tmp_path, "c.md", text), tmp_path)
    assert [b.text for b in doc.blocks] == ["Inhalt."]
    assert doc.sources == ("BauGB § 171e", "sozialestadt.de")


def test_plain_text_paragraphs_and_title_from_file_name(tmp_path: Path) -> None:
    doc = read_document(
        write(tmp_path, "03-eine_notiz.txt", "Erster Absatz\nzweite Zeile.\n\nZweiter Absatz."), tmp_path
    )
    assert doc.title == "Eine notiz"
    assert [b.text for b in doc.blocks] == ["Erster Absatz zweite Zeile.", "Zweiter Absatz."]


@pytest.mark.parametrize("content", ["", "   \n\n", "# Nur eine Überschrift\n"])
def test_empty_files_are_refused_with_the_file_name(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, "leer.md", content)
    with pytest.raises(DocumentError, match="leer.md"):
        read_document(path, tmp_path)


def test_discover_finds_supported_files_in_order_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.md", "a.txt", "c.png", ".hidden.md"):
        write(tmp_path, name, "Text.")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "d.md", "Text.")
    found = [f.relative_to(tmp_path).as_posix() for f, _ in discover([tmp_path])]
    assert found == ["a.txt", "b.md", "sub/d.md"]


def test_discover_names_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="nicht gefunden"):
        list(discover([tmp_path / "fehlt"]))


def test_pdf_pages_carry_their_number_and_printed_label(tmp_path: Path) -> None:
    from tests.pdfs import write_pdf

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


def test_pdf_without_labels_is_cited_by_page_number(tmp_path: Path) -> None:
    from assistant.chunking import chunk_document
    from tests.pdfs import write_pdf

    pdf = write_pdf(tmp_path / "notiz.pdf", [["Erste Seite."], ["Zweite Seite über den Quartiersrat."]])
    passages = chunk_document(read_document(pdf, tmp_path))
    assert [p.citation.label for p in passages] == ["Notiz, S. 1", "Notiz, S. 2"]


def test_encrypted_and_textless_pdfs_are_refused_with_a_reason(tmp_path: Path) -> None:
    from tests.pdfs import write_pdf

    locked = write_pdf(tmp_path / "geheim.pdf", [["Vertraulich."]], password="geheim")
    with pytest.raises(DocumentError, match="geheim.pdf: verschlüsselt"):
        read_document(locked, tmp_path)
    scanned = write_pdf(tmp_path / "scan.pdf", [[]])
    with pytest.raises(DocumentError, match="scan.pdf: keine Textebene"):
        read_document(scanned, tmp_path)
    broken = tmp_path / "kaputt.pdf"
    broken.write_bytes(b"%PDF-1.4 nur der Anfang")
    with pytest.raises(DocumentError, match="kaputt.pdf"):
        read_document(broken, tmp_path)


def test_pdf_locked_only_against_editing_is_read(tmp_path: Path) -> None:
    from tests.pdfs import write_pdf

    pdf = write_pdf(tmp_path / "offen.pdf", [["Lesbar ohne Passwort."]], password="")
    assert read_document(pdf, tmp_path).blocks[0].text == "Lesbar ohne Passwort."
