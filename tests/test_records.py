"""The records' storage round trip: what a release or a stored conversation keeps of a citation."""

from __future__ import annotations

from assistant.records import Citation, Passage


def test_a_recognised_passage_says_texterkennung_in_its_citation() -> None:
    citation = Citation("Merkblatt", "Kapitel", "Abschnitt", page=3, ocr=True)
    assert citation.label == "Kapitel › Abschnitt, S. 3 (Texterkennung)"
    labelled = Citation("Merkblatt", page=4, page_label="iv", ocr=True)
    assert labelled.label == "Merkblatt, S. iv (Texterkennung)"
    assert Citation("Merkblatt", "Kapitel", page=3).label == "Kapitel, S. 3"


def test_the_ocr_mark_round_trips_and_old_records_read_as_text_layer() -> None:
    marked = Passage("p1", "Text.", Citation("Dok", "Kap", "Abs", 3, None, "scan.pdf", ocr=True))
    assert marked.to_record()["citation"]["ocr"] is True
    assert Passage.from_record(marked.to_record()) == marked
    plain = Passage("p2", "Text.", Citation("Dok", "Kap", "Abs", 3, "iii", "a.pdf"))
    # Unmarked citations are stored as before the mark existed, so older releases and versions agree.
    assert "ocr" not in plain.to_record()["citation"]
    stored = {"document": "Dok", "chapter": "Kap", "section": "Abs", "page": 3, "page_label": "iii"}
    old = {"id": "p2", "text": "Text.", "citation": {**stored, "source": "a.pdf"}}
    assert Passage.from_record(old) == plain and not Passage.from_record(old).citation.ocr
