"""HTML and DOCX: headings become chapter and section; page furniture and empty files are handled."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import DocumentError
from assistant.ingest.readers import read_document


def test_html_main_content_with_headings(tmp_path: Path) -> None:
    page = tmp_path / "seite.html"
    page.write_text(
        """<!doctype html><html lang="de"><head><title>Quartiersfonds in der Praxis</title>
        <style>p { color: red }</style><script>var x = "<p>kein Text</p>";</script></head>
        <body><nav><ul><li>Startseite</li><li>Kontakt</li></ul></nav>
        <main><h1>Fonds</h1><p>Ein <b>Quartiersfonds</b> finanziert kleine Projekte.</p>
        <h2>Wer entscheidet?</h2>
        <ul><li><p>Eine Jury aus dem Quartier.</p></li><li>Die Verwaltung prüft.</li></ul>
        <table><tr><td>Fest</td><td>500 Euro</td></tr></table></main>
        <footer>Impressum</footer></body></html>""",
        encoding="utf-8",
    )
    doc = read_document(page, tmp_path)
    assert doc.title == "Quartiersfonds in der Praxis"
    assert [(b.chapter, b.section, b.text) for b in doc.blocks] == [
        ("Fonds", "", "Ein Quartiersfonds finanziert kleine Projekte."),
        ("Fonds", "Wer entscheidet?", "Eine Jury aus dem Quartier."),
        ("Fonds", "Wer entscheidet?", "Die Verwaltung prüft."),
        ("Fonds", "Wer entscheidet?", "Fest"),
        ("Fonds", "Wer entscheidet?", "500 Euro"),
    ]


def test_html_in_windows_1252_and_without_blocks(tmp_path: Path) -> None:
    page = tmp_path / "alt.htm"
    page.write_bytes("<html><body>Größere Straßenfeste im Quartier</body></html>".encode("cp1252"))
    assert read_document(page, tmp_path).blocks[0].text == "Größere Straßenfeste im Quartier"


def test_html_without_text_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "leer.html"
    page.write_text("<html><head><title>Nichts</title></head><body><script>1</script></body></html>")
    with pytest.raises(DocumentError, match=r"^leer.html: enthält keinen Text"):
        read_document(page, tmp_path)


def test_docx_heading_styles_title_and_tables_in_order(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Protokoll Stadtteilkonferenz"
    document.add_heading("Tagesordnung", level=1)
    document.add_paragraph("Begrüßung durch das Quartiersmanagement.")
    document.add_heading("Verfügungsfonds", level=2)
    document.add_paragraph("Die Jury hat drei Anträge beraten.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Antrag"
    table.rows[0].cells[1].text = "bewilligt"
    document.add_heading("Verschiedenes", level=1)
    document.add_paragraph("Nächster Termin im Frühjahr.")
    path = tmp_path / "protokoll.docx"
    document.save(str(path))

    doc = read_document(path, tmp_path)
    assert doc.title == "Protokoll Stadtteilkonferenz"
    assert [(b.chapter, b.section, b.text) for b in doc.blocks] == [
        ("Tagesordnung", "", "Begrüßung durch das Quartiersmanagement."),
        ("Tagesordnung", "Verfügungsfonds", "Die Jury hat drei Anträge beraten."),
        ("Tagesordnung", "Verfügungsfonds", "Antrag | bewilligt"),
        ("Verschiedenes", "", "Nächster Termin im Frühjahr."),
    ]


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 kein echtes Zip", b"einfach Text"])
def test_broken_docx_is_refused_with_the_file_name(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "kaputt.docx"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=r"^kaputt.docx: "):
        read_document(path, tmp_path)
