from pathlib import Path

import pytest

from assistant.errors import DocumentError
from assistant.ingest.readers import discover, read_document


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


def test_discover_reads_nothing_through_a_symbolic_link(tmp_path: Path) -> None:
    corpus, outside = tmp_path / "korpus", tmp_path / "geheim"
    corpus.mkdir()
    outside.mkdir()
    write(outside, "konfig.txt", "Passwort: geheim.")
    write(corpus, "echt.md", "Text.")
    (corpus / "konfig.txt").symlink_to(outside / "konfig.txt")  # a linked file
    (corpus / "ordner").symlink_to(outside, target_is_directory=True)  # a linked folder
    (corpus / "kopie.md").symlink_to(corpus / "echt.md")  # even a link inside the folder
    skipped: list[str] = []
    found = [f.relative_to(corpus).as_posix() for f, _ in discover([corpus], skipped.append)]
    assert found == ["echt.md"]
    assert any(s.startswith("konfig.txt: symbolischer Verweis") for s in skipped)
    assert any(s.startswith("kopie.md: symbolischer Verweis") for s in skipped)
    assert not any("geheim" in f for f in found)
    # A file named directly is the operator's choice and is read where it points.
    assert [f for f, _ in discover([corpus / "konfig.txt"])] == [corpus / "konfig.txt"]


def test_a_build_does_not_serve_a_file_a_link_points_to(tmp_path: Path, tiny_model: Path) -> None:
    from fastapi.testclient import TestClient

    from assistant.build import build_index
    from assistant.config import Settings
    from assistant.web.app import create_app

    corpus, outside = tmp_path / "korpus", tmp_path / "aussen"
    corpus.mkdir()
    outside.mkdir()
    write(
        corpus,
        "leitfaden.md",
        "# Leitfaden\n\n## Fonds\n\nDer Quartiersrat entscheidet über den Fonds im Quartier.",
    )
    write(outside, "konfig.txt", "Zugangsdaten der Datenbank: geheim und vertraulich, nur für den Betrieb.")
    (corpus / "konfig.txt").symlink_to(outside / "konfig.txt")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model=str(tiny_model))
    report = build_index(settings, warn=lambda _: None)
    assert any("konfig.txt: symbolischer Verweis" in s for s in report.skipped)
    with TestClient(create_app(settings)) as client:
        assert client.get("/quellen/konfig.txt").status_code == 404
        assert "geheim" not in client.get("/quellen/konfig.txt").text
        assert client.get("/quellen/leitfaden.md").status_code == 200


def test_discover_names_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="nicht gefunden"):
        list(discover([tmp_path / "fehlt"]))
