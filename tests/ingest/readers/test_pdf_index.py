"""A back-of-book index (Register) is left out of the passages; a list or table with numbers that is
not sorted by its terms stays."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.chunking import chunk_document
from assistant.ingest.inspect import inspect_lines
from assistant.ingest.readers import read_document
from tests.pdfs import write_pdf

BODY = [
    "Das Quartiersmanagement arbeitet im Stadtteil mit vielen Partnern zusammen.",
    "Es beteiligt die Bewohnerinnen und Bewohner an Entscheidungen über kleine Projekte.",
    "Der Verfügungsfonds gibt dafür Geld, über das ein Gremium vor Ort entscheidet.",
    "Dieses Beispiel ist fiktiv und dient nur dem Test des Lesens.",
]
TERMS = [
    "Aktionsfonds, 12", "Akteure, 4, 17", "Aktivierung, 8–10", "Beirat, 21", "Beteiligung, 3, 9, 44",
    "Bürgerhaus, 30", "Datenschutz, 51", "Evaluation, 40f.", "Fördermittel, 14", "Gremium, 22",
    "Jugend, 33", "Kooperation, 19", "Monitoring, 41", "Netzwerk, 25", "Öffentlichkeitsarbeit, 28",
    "Quartiersrat, 23", "Stadtteilbüro, 7", "Verfügungsfonds, 12, 13", "Verstetigung, 47", "Zielgruppen, 5",
]  # fmt: skip


def index_page() -> list[str | tuple[float, float, str]]:
    lines: list[str | tuple[float, float, str]] = [(72.0, 780.0, "Register")]
    half = len(TERMS) // 2
    for column, terms in enumerate((TERMS[:half], TERMS[half:])):
        y = 750.0
        for term in terms:
            if term[0] in "ADFJMOQSVZ" and (
                terms.index(term) == 0 or terms[terms.index(term) - 1][0] != term[0]
            ):
                lines.append((72.0 + 250 * column, y, term[0]))
                y -= 14
            lines.append((72.0 + 250 * column, y, term))
            y -= 14
    return lines


def test_an_index_page_gives_no_passages(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "handbuch.pdf", [BODY, index_page()])
    text = " ".join(p.text for p in chunk_document(read_document(pdf)))
    assert "Verfügungsfonds gibt dafür Geld" in text
    assert "Aktionsfonds, 12" not in text and "Zielgruppen" not in text, text
    report = "\n".join(inspect_lines(pdf))
    index_lines = [line for line in report.splitlines() if "[Register, entfällt]" in line]
    assert any("Beteiligung, 3, 9, 44" in line for line in index_lines), report


def test_numbered_lists_not_sorted_by_term_stay(tmp_path: Path) -> None:
    budget = [
        "Stadtteilfest im Sommer, 1200", "Nachbarschaftsgarten, 800", "Hausaufgabenhilfe, 2400",
        "Repair-Café, 300", "Seniorencafé, 650", "Bücherschrank, 150", "Lesepaten, 900",
        "Mieterberatung, 1800", "Kiezzeitung, 700", "Sportangebot im Park, 500",
    ]  # fmt: skip
    pdf = write_pdf(tmp_path / "haushalt.pdf", [[*BODY, *budget]])
    text = " ".join(p.text for p in chunk_document(read_document(pdf)))
    assert "Hausaufgabenhilfe, 2400" in text and "Kiezzeitung, 700" in text, text
