"""Scanned PDFs read by text recognition (OCRmyPDF + Tesseract's German model), and marked as such.

Pages without a text layer are OCR'd, pages with one keep their own text; without the engine the
file is skipped with the hint what to install; a failing or hanging engine is one German line. The
tests that run the real engine are skipped where it is not installed, except under CI=true, where
they fail (``.ci/run`` installs ``ocrmypdf tesseract-ocr-deu``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import DocumentError
from assistant.ingest.chunking import chunk_document
from assistant.ingest.readers import ocr, read_document
from assistant.ingest.readers import pdf as pdf_reader
from bench.ocr_quality import TARGET_CLEAN, TARGET_NOISY, measure, scan
from tests.pdfs import write_pdf

FAQ = Path(__file__).resolve().parents[3] / ".cache" / "testdata" / "debian-faq.de.pdf"

FIRST_PAGE = [
    "Der Verfügungsfonds des Quartiers wird vom Stadtteilbeirat vergeben.",
    "Größere Beträge prüft das Amt für Stadterneuerung vor der Auszahlung.",
    "Über Anträge entscheidet der Beirat in öffentlicher Sitzung.",
]
SECOND_PAGE = [
    "Das Quartiersmanagement berichtet jährlich über die geförderten Projekte.",
    "Die Bewohnerinnen und Bewohner können Vorschläge einreichen.",
]


@pytest.fixture
def engine() -> str:
    found = ocr.engine()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("ocrmypdf or tesseract-ocr-deu missing: .ci/run should have installed them")
        pytest.skip("no OCR engine: apt-get install ocrmypdf tesseract-ocr-deu")
    return found


@pytest.fixture
def text_pdf(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "text.pdf", [FIRST_PAGE, SECOND_PAGE], title="Merkblatt Verfügungsfonds")


@pytest.fixture
def scanned_pdf(tmp_path: Path, text_pdf: Path) -> Path:
    folder = tmp_path / "quellen"
    folder.mkdir()
    return scan(text_pdf, [1, 2], folder / "scan.pdf", dpi=300)


def _merge(parts: list[tuple[Path, int]], target: Path) -> Path:
    """One PDF of the given (file, 1-based page) in order."""
    import pypdfium2 as pdfium

    out = pdfium.PdfDocument.new()
    try:
        for file, page in parts:
            source = pdfium.PdfDocument(file)
            out.import_pages(source, [page - 1])
            source.close()
        out.save(target)
    finally:
        out.close()
    return target


def fake_engine(folder: Path, ocrmypdf: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH whose ``ocrmypdf`` runs the given shell script and whose Tesseract has German."""
    folder.mkdir()
    for name, body in (("tesseract", 'echo "List of available languages (2):"; echo deu; echo eng'),
                       ("ocrmypdf", ocrmypdf)):  # fmt: skip
        script = folder / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


def test_a_scanned_pdf_is_read_by_text_recognition_and_its_passages_say_so(
    engine: str, scanned_pdf: Path
) -> None:
    document = read_document(scanned_pdf, scanned_pdf.parent)
    text = " ".join(b.text for b in document.blocks)
    for sentence in (*FIRST_PAGE, *SECOND_PAGE):
        assert sentence in text, sentence
    assert {b.page for b in document.blocks} == {1, 2} and all(b.ocr for b in document.blocks)
    passages = chunk_document(document)
    assert passages and all(p.citation.ocr for p in passages)
    assert passages[0].citation.label.endswith(", S. 1 (Texterkennung)")
    assert "(Texterkennung)" in passages[0].quotation


def test_a_mixed_pdf_keeps_its_text_layer_and_recognises_only_the_scanned_page(
    engine: str, tmp_path: Path, text_pdf: Path, scanned_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed = _merge([(text_pdf, 1), (scanned_pdf, 2)], tmp_path / "gemischt.pdf")
    asked: list[list[int]] = []
    read_pages = ocr.read_pages

    def spy(file: Path, source: str, pages: list[int], read):  # type: ignore[no-untyped-def]
        asked.append(list(pages))
        return read_pages(file, source, pages, read)

    monkeypatch.setattr(ocr, "read_pages", spy)
    document = read_document(mixed, tmp_path)
    assert asked == [[2]]
    first = [b for b in document.blocks if b.page == 1]
    second = [b for b in document.blocks if b.page == 2]
    assert " ".join(b.text for b in first) == " ".join(FIRST_PAGE)  # the text layer, untouched
    assert not any(b.ocr for b in first) and second and all(b.ocr for b in second)
    assert "Vorschläge einreichen" in " ".join(b.text for b in second)
    labels = {p.citation.page: p.citation.label for p in chunk_document(document, min_words=1)}
    assert labels[1].endswith("S. 1") and labels[2].endswith("S. 2 (Texterkennung)")
    layout = pdf_reader.read_layout(mixed, "gemischt.pdf")
    assert layout.scanned == layout.recognised == {2}


def test_without_the_engine_a_scan_is_skipped_with_the_install_hint(
    tmp_path: Path, text_pdf: Path, scanned_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "leer"))  # no ocrmypdf, no tesseract
    assert ocr.engine() is None
    with pytest.raises(DocumentError) as caught:
        read_document(scanned_pdf, scanned_pdf.parent)
    assert str(caught.value) == (
        "scan.pdf: keine Textebene (gescannt?); "
        "Texterkennung: Pakete ocrmypdf und tesseract-ocr-deu installieren"
    )
    # A mixed file still gives its text pages, unmarked.
    mixed = _merge([(text_pdf, 1), (scanned_pdf, 2)], tmp_path / "gemischt.pdf")
    document = read_document(mixed, tmp_path)
    assert {b.page for b in document.blocks} == {1} and not any(b.ocr for b in document.blocks)


def test_blank_pages_are_not_sent_to_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_engine(tmp_path / "bin", "echo called >&2; exit 1", monkeypatch)
    blank = write_pdf(tmp_path / "leer.pdf", [[], []])
    with pytest.raises(DocumentError, match=r"^leer.pdf: keine Textebene \(gescannt\?\)$"):
        read_document(blank, tmp_path)


def test_a_failing_engine_is_one_german_line(
    tmp_path: Path, scanned_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = 'echo "   File x, line 1" >&2; echo "ERROR: Tesseract brach ab" >&2; exit 7'
    fake_engine(tmp_path / "bin", failing, monkeypatch)
    with pytest.raises(DocumentError) as caught:
        read_document(scanned_pdf, scanned_pdf.parent)
    message = str(caught.value)
    assert message == "scan.pdf: Texterkennung fehlgeschlagen (ocrmypdf 7: ERROR: Tesseract brach ab)"


def test_an_unreadable_result_is_one_german_line(
    tmp_path: Path, scanned_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The output file is the last argument: write something that is no PDF there.
    fake_engine(tmp_path / "bin", 'for last; do :; done; echo "kein PDF" > "$last"', monkeypatch)
    unreadable = r"^scan.pdf: Texterkennung fehlgeschlagen \(Ergebnis nicht lesbar\)$"
    with pytest.raises(DocumentError, match=unreadable):
        read_document(scanned_pdf, scanned_pdf.parent)


def test_a_hanging_engine_is_stopped_at_the_time_limit(
    tmp_path: Path, scanned_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_engine(tmp_path / "bin", "sleep 60 & wait", monkeypatch)  # a child, as Tesseract is one
    monkeypatch.setattr(ocr, "time_limit", lambda pages: 1)
    started = time.monotonic()
    with pytest.raises(DocumentError, match=r"^scan.pdf: Texterkennung nach 1 s abgebrochen \(2 Seiten\)$"):
        read_document(scanned_pdf, scanned_pdf.parent)
    assert time.monotonic() - started < 10


def test_the_time_limit_grows_with_the_pages_up_to_a_cap() -> None:
    assert ocr.time_limit(1) < ocr.time_limit(10) < ocr.time_limit(1000) == ocr.MAX_SECONDS


def test_recognised_text_of_real_pages_meets_the_error_rate_targets(engine: str, tmp_path: Path) -> None:
    """Two pages of Debian's German FAQ rendered at 300 dpi, clean and as a poor scan (noise, specks,
    a 0.8° skew, JPEG), read back and compared with their text layer (bench/ocr_quality.py)."""
    if not FAQ.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{FAQ} missing: tests/data/fetch-real-documents.sh should have fetched it")
        pytest.skip("real PDF not fetched: run tests/data/fetch-real-documents.sh")
    result = measure(FAQ, [10, 11], tmp_path)
    assert result.chars > 3000 and result.all_marked
    assert result.rate(result.clean) <= TARGET_CLEAN, result
    assert result.rate(result.noisy) <= TARGET_NOISY, result


def _image_pdf(target: Path, draw: Callable[[Any], None]) -> Path:
    """A one-page image-only PDF (A4 at 150 dpi) of what ``draw`` puts on a white page."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (1240, 1754), 255)
    draw(ImageDraw.Draw(image))
    image.save(target, "PDF", resolution=150.0)
    return target


def test_a_box_ruled_round_in_a_scan_is_found_as_a_frame(tmp_path: Path) -> None:
    """A scan has no drawn rectangles: the frame of a box (light fill, dark hairline) is found in the
    image, in PDF points; a lone rule, a text-like pattern and an open bracket make no frame."""
    import pypdfium2 as pdfium

    def draw(page: Any) -> None:
        page.rectangle((700, 300, 1150, 600), fill=235, outline=60, width=2)
        page.line((900, 300, 900, 600), fill=60, width=2)  # a rule between a table's columns
        page.line((100, 900, 1100, 900), fill=0, width=2)  # a rule
        page.line((100, 1000, 100, 1300), fill=0, width=2)  # two sides of a bracket, open
        page.line((100, 1000, 600, 1000), fill=0, width=2)
        for y in range(1400, 1600, 20):
            page.rectangle((100, y, 600, y + 8), fill=0)  # lines of "text"

    pdf = pdfium.PdfDocument(_image_pdf(tmp_path / "box.pdf", draw))
    try:
        found = ocr.marks(pdf[0]).frames
    finally:
        pdf.close()
    boxes = [f for f in found if f[2] - f[0] > 6]
    rules = [f for f in found if f[2] - f[0] <= 6]
    assert len(boxes) == 1
    left, bottom, right, top = boxes[0]
    # 150 dpi: 700 px = 336 pt from the left; 300 px = 144 pt from the top of an 842 pt page.
    assert abs(left - 336) < 3 and abs(right - 552) < 3
    assert abs(top - (842 - 144)) < 3 and abs(bottom - (842 - 288)) < 3
    # The bracket's upright side, 2 inches long, is a rule (a thin rectangle), its foot is not; so is
    # the line between the table's columns; the box's own sides are not rules.
    assert len(rules) == 2
    left, bottom, right, top = min(rules)
    assert abs(left - 48) < 3 and right - left < 6
    assert abs(top - (842 - 480)) < 6 and abs(bottom - (842 - 624)) < 6
    left, bottom, right, top = max(rules)
    assert abs(left - 432) < 3 and right - left < 6 and top - bottom > 100


def test_a_column_rule_under_noise_is_found_and_its_bars_are_noise(tmp_path: Path) -> None:
    """Under a poor scan's noise a hairline between columns is broken here and there; it is still a
    rule, and the bars Tesseract reads on it are left out, while a bar beside it stays text."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    def draw(page: Any) -> None:
        page.line((600, 200, 600, 1400), fill=0, width=2)  # a rule, 8 inches long at 150 dpi

    path = _image_pdf(tmp_path / "rule.pdf", draw)
    pdf = pdfium.PdfDocument(path)
    image = np.asarray(pdf[0].render(scale=150 / 72, grayscale=True).to_pil().convert("L"), dtype=np.float32)
    pdf.close()
    rng = np.random.default_rng(7)
    noisy = np.clip(image + rng.normal(0, 90, image.shape), 0, 255).astype(np.uint8)  # breaks it
    Image.fromarray(noisy, mode="L").save(tmp_path / "noisy.pdf", "PDF", resolution=150.0)
    pdf = pdfium.PdfDocument(tmp_path / "noisy.pdf")
    try:
        found = ocr.marks(pdf[0]).frames
    finally:
        pdf.close()
    assert len(found) == 1
    left, bottom, right, top = found[0]
    assert abs(left - 288) < 3 and right - left < 6 and top - bottom > 500
    assert ocr.noise("|", (287.5, 400, 288.5, 409), found)
    assert ocr.noise("||", (287, 300, 289.5, 309), found)
    assert not ocr.noise("|", (250, 400, 251, 409), found)  # away from the rule
    assert not ocr.noise("und", (270, 400, 286, 409), found)  # a word ending beside it


def test_specks_and_frame_sides_read_as_words_are_noise() -> None:
    frame = [(350.0, 580.0, 545.0, 684.0)]
    assert ocr.noise(".", (90, 668, 91, 676), frame)
    assert ocr.noise("|", (347.8, 646, 350.4, 655), frame)  # the box's left side, beside the body
    assert ocr.noise("or", (382, 678, 396, 690), frame)  # the top side read as letters
    assert not ocr.noise("Praxistipp:", (360, 667, 410, 676), frame)  # text inside the box
    assert not ocr.noise("|", (200, 646, 202, 655), frame)  # a table's bar, away from any frame
    assert not ocr.noise("Quartier", (51, 646, 90, 655), frame)  # text beside the box
    assert not ocr.noise("z.B.", (51, 646, 70, 655), [])


def test_the_source_view_reads_the_builds_recognised_copy_and_never_runs_the_engine(
    engine: str, scanned_pdf: Path, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from assistant.build import build_index
    from assistant.config import Settings
    from assistant.web import sources
    from assistant.web.app import create_app

    settings = Settings(
        corpus_dir=scanned_pdf.parent,
        index_dir=tmp_path / "index",
        model=str(tiny_model),
        database=tmp_path / "store.sqlite3",
        upload_dir=tmp_path / "uploads",
    )
    build_index(settings)
    assert len(list(settings.ocr_cache_dir.glob("*.pdf"))) == 1, "the build keeps its recognised copy"

    started: list[object] = []

    def no_engine(*args: object, **__: object) -> None:
        started.append(args)  # read_as would turn an exception into a DocumentError: count instead
        raise AssertionError("text recognition ran in the server")

    monkeypatch.setattr(ocr, "recognised", no_engine)
    sources._read_cached_at.cache_clear()
    with TestClient(create_app(settings)) as http:
        engine = http.app.state.assistant.release.engine  # type: ignore[attr-defined]
        hit = next(p for p in engine.passages(list(range(engine.size))) if "Stadtteilbeirat" in p.text)
        assert hit.citation.ocr
        view = http.get(f"/ansicht/scan.pdf?stelle={hit.id}")
        assert view.status_code == 200 and "Stadtteilbeirat" in view.text
        # Without the kept copy the view shows less, but still starts no recognition.
        for copy in settings.ocr_cache_dir.glob("*.pdf"):
            copy.unlink()
        sources._read_cached_at.cache_clear()
        again = http.get(f"/ansicht/scan.pdf?stelle={hit.id}")
        assert again.status_code in (200, 422) and "Stadtteilbeirat" not in again.text
    assert started == [], "the server never starts text recognition"


def test_dot_leaders_in_a_scan_are_found_and_irregular_specks_are_not(tmp_path: Path) -> None:
    """A contents line's leader (evenly spaced dots, close as TeX sets them or wide as groff does) is
    found as an area above its dots; dots at irregular distances (i-dots, full stops) are not."""
    import pypdfium2 as pdfium

    def draw(page: Any) -> None:
        for i in range(30):  # 150 dpi: a dot every 9 px, from x = 300 on the row y = 400
            page.rectangle((300 + 9 * i, 400, 301 + 9 * i, 401), fill=0)
        for i in range(8):  # groff's wide leader: a dot every 26 px on the row y = 600
            page.rectangle((300 + 26 * i, 600, 301 + 26 * i, 601), fill=0)
        for x in (300, 305, 317, 320, 334, 350, 352, 371):  # specks at irregular distances
            page.rectangle((x, 800, x + 1, 801), fill=0)
        page.rectangle((300, 1000, 301, 1001), fill=0)  # four dots are not yet a leader
        for x in (312, 324, 336):
            page.rectangle((x, 1000, x + 1, 1001), fill=0)

    pdf = pdfium.PdfDocument(_image_pdf(tmp_path / "leaders.pdf", draw))
    try:
        found = ocr.marks(pdf[0]).leaders
    finally:
        pdf.close()
    assert len(found) == 2, found
    close, wide = sorted(found, key=lambda r: -r[1])  # the upper row first
    # 300 px = 144 pt; the dots' row at 400 px = 192 pt from the top of an 842 pt page.
    assert abs(close[0] - 144) < 4 and abs(close[2] - (300 + 9 * 29) * 72 / 150) < 4
    assert close[1] < 842 - 192 < close[3]
    assert abs(wide[2] - (300 + 26 * 7) * 72 / 150) < 8
    letter_on_leader = (200.0, 842 - 192 + 0.5, 204.0, 842 - 192 + 6)
    assert ocr.in_leader(letter_on_leader, found)
    assert not ocr.in_leader((100.0, 842 - 192, 104.0, 842 - 186), found)  # left of it
    assert not ocr.in_leader((200.0, 842 - 220, 204.0, 842 - 214), found)  # on the line below
