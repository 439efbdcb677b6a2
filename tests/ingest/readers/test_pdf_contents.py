"""A contents list is left out even where its page numbers cannot be read (a scan's number column
that text recognition dropped): a title such as "Inhaltsverzeichnis" over section numbers rising in
order. Numbered lists in the body, without such a title or out of order, stay."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.chunking import chunk_document
from assistant.ingest.readers import read_document
from tests.pdfs import write_pdf

BODY = [
    "Das Quartiersmanagement arbeitet im Stadtteil mit vielen Partnern zusammen.",
    "Es beteiligt die Bewohnerinnen und Bewohner an Entscheidungen über kleine Projekte.",
    "Der Verfügungsfonds gibt dafür Geld, über das ein Gremium vor Ort entscheidet.",
    "Dieses Beispiel ist fiktiv und dient nur dem Test des Lesens.",
]
ENTRIES = [
    "1. Verstetigung", "1.1. Was Verstetigung bedeutet", "1.2. Verstetigung von Anfang an planen",
    "1.3. Aufgaben an bestehende Einrichtungen übergeben", "2. Beispiele aus der Praxis",
    "2.1. Das Forschungsprojekt hinter der Arbeitshilfe", "2.2. Die Fallstudiengebiete",
    "2.3. Von anderen Quartieren lernen",
]  # fmt: skip


def passages_text(pdf: Path) -> str:
    return " ".join(p.text for p in chunk_document(read_document(pdf)))


def test_a_contents_list_without_page_numbers_gives_no_passages(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "bericht.pdf", [["Inhaltsverzeichnis", *ENTRIES], BODY])
    text = passages_text(pdf)
    assert "Verfügungsfonds gibt dafür Geld" in text
    assert "Forschungsprojekt hinter der Arbeitshilfe" not in text, text


def test_numbered_lists_without_a_contents_title_or_out_of_order_stay(tmp_path: Path) -> None:
    steps = ["1. Antrag stellen", "2. Gremium beraten lassen", "3. Mittel abrufen", "4. Belege sammeln",
             "5. Nachweis führen", "6. Ergebnis zeigen"]  # fmt: skip
    shuffled = ["Inhalt", "2. Antrag stellen", "1. Gremium beraten lassen", "4. Mittel abrufen",
                "3. Belege sammeln", "6. Nachweis führen", "5. Ergebnis zeigen"]  # fmt: skip
    text = passages_text(write_pdf(tmp_path / "ablauf.pdf", [[*BODY, *steps]]))
    assert "Gremium beraten lassen" in text and "Ergebnis zeigen" in text, text
    text = passages_text(write_pdf(tmp_path / "liste.pdf", [[*BODY, *shuffled]]))
    assert "Belege sammeln" in text, text
