"""A real German PDF the project did not write: Debian's German FAQ (see tests/data/README.md)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from assistant.ingest.chunking import chunk_document
from assistant.ingest.documents import Document
from assistant.ingest.readers import read_document

PDF = Path(__file__).resolve().parents[3] / ".cache" / "testdata" / "debian-faq.de.pdf"


@pytest.fixture(scope="module")
def faq() -> Document:
    if not PDF.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{PDF} missing: tests/data/fetch-real-documents.sh should have fetched it")
        pytest.skip("real PDF not fetched: run tests/data/fetch-real-documents.sh")
    return read_document(PDF, PDF.parent)


def page_text(doc: Document, page: int) -> str:
    return " ".join(b.text for b in doc.blocks if b.page == page)


def test_title_and_printed_page_labels(faq: Document) -> None:
    assert faq.title == "Die Debian GNU/Linux-FAQ"
    labels = {b.page: b.page_label for b in faq.blocks}
    assert labels[2] == "ii" and labels[9] == "1" and labels[11] == "3" and labels[76] == "68"
    assert 77 not in labels, "the last page is the index (Register), which is left out"


def test_line_break_hyphenation_is_joined_on_known_pages(faq: Document) -> None:
    page_2 = page_text(faq, 10)  # printed page 2
    for word in ("bedeutet", "Programmen", "entsprechend", "Verfügung", "verfügbar"):
        assert re.search(rf"\b{word}\b", page_2), word
    assert "verfüg-" not in page_2 and "Program-" not in page_2
    page_3 = page_text(faq, 11)
    assert "anderen Linux-Distributionen" in page_3 and "Projektstandards" in page_3


def test_real_hyphens_stay_on_known_pages(faq: Document) -> None:
    page_2 = page_text(faq, 10)
    for word in ("GNU-Projekt", "Debian-Richtlinien", "Desktop-Plattform"):
        assert word in page_2, word
    assert "E-Mail" in page_text(faq, 11)


def test_words_keep_their_spaces(faq: Document) -> None:
    # pypdf's own extraction runs these words together on this PDF.
    sentence = "Folgende Schlüsselmerkmale unterscheiden Debian von anderen Linux-Distributionen"
    assert sentence in page_text(faq, 11)


def test_running_heads_and_page_numbers_are_gone(faq: Document) -> None:
    assert not any("KAPITEL" in b.text for b in faq.blocks)
    assert not any(b.text in (b.page_label, str(b.page)) for b in faq.blocks)


def test_contents_pages_make_no_passages(faq: Document) -> None:
    assert not any(". . . . ." in b.text for b in faq.blocks)
    assert {b.page for b in faq.blocks}.isdisjoint(range(3, 7))  # the contents, printed iii–vi


def test_chapter_and_section_come_from_the_outline(faq: Document) -> None:
    block = next(b for b in faq.blocks if b.text.startswith("Folgende Schlüsselmerkmale"))
    assert block.chapter == "Definitionen und Überblick"
    assert block.section.startswith("Was ist der Unterschied zwischen Debian GNU/Linux und anderen")
    passage = next(p for p in chunk_document(faq) if "Folgende Schlüsselmerkmale" in p.text)
    assert passage.citation.label.endswith(", S. 3")
