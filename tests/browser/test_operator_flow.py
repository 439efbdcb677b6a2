"""The operator's whole flow in Chromium, axe-clean at every step: log in, upload a PDF, a DOCX and a
scanned PDF, follow the rebuild's progress, find a passage of each in the chat, delete one, rebuild,
and it is gone."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest

from assistant.config import Settings
from assistant.ingest.readers import ocr
from assistant.operators import open_operator_store
from bench.ocr_quality import scan
from tests.pdfs import write_pdf

from ..serving import serving
from .test_accessibility import violations

pytestmark = pytest.mark.browser

PASSWORD = "Verwaltung-im-Browser-7"
# Fictional example documents, written for this test.
PDF_LINES = ["Die Zaunkoenig-Werkstatt repariert Fahrraeder mit Jugendlichen.", "Dieses Beispiel ist fiktiv."]
DOCX_TEXT = "Die Kiezkueche Sonnenblume kocht donnerstags mit Nachbarinnen. Dieses Beispiel ist fiktiv."
SCAN_LINES = ["Der Mieterbeirat Lindenhof tagt im Gemeinschaftsraum.", "Dieses Beispiel ist fiktiv."]


@pytest.fixture
def operator_server(fixture_release: Settings, tmp_path: Path) -> Iterator[str]:
    if ocr.engine() is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("ocrmypdf or tesseract-ocr-deu missing: .ci/run should have installed them")
        pytest.skip("no OCR engine: apt-get install ocrmypdf tesseract-ocr-deu")
    index = tmp_path / "index"
    shutil.copytree(fixture_release.index_dir, index)
    settings = fixture_release.model_copy(
        update={
            "index_dir": index,
            "database": tmp_path / "store.sqlite3",
            "upload_dir": tmp_path / "uploads",
            "rate_limit_per_minute": 0,
        }
    )
    open_operator_store(settings).add_operator("anna", PASSWORD)
    with serving(settings) as base:
        yield base


def documents(folder: Path) -> list[Path]:
    pdf = write_pdf(folder / "werkstatt.pdf", [PDF_LINES], title="Werkstattbericht")
    word = docx.Document()
    word.core_properties.title = "Kiezkueche"
    word.add_heading("Kochen im Kiez", level=1)
    word.add_paragraph(DOCX_TEXT)
    out = io.BytesIO()
    word.save(out)
    (folder / "kiezkueche.docx").write_bytes(out.getvalue())
    source = write_pdf(folder / "beirat-text.pdf", [SCAN_LINES], title="Mieterbeirat")
    scanned = scan(source, [1], folder / "mieterbeirat-scan.pdf", dpi=300)
    return [pdf, folder / "kiezkueche.docx", scanned]


def rebuild(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Jetzt neu bauen").click()
    page.wait_for_url(f"{base}/verwaltung/neubau/*")
    assert violations(page) == [], "progress page"
    page.locator("[data-build][data-running=false]").wait_for(timeout=180_000)
    assert "Fertig" in page.locator("#fortschritt").inner_text(), page.locator("#fortschritt").inner_text()
    assert violations(page) == [], "finished build"


def ask(page, base: str, question: str) -> str:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    page.fill("#frage", question)
    page.press("#frage", "Enter")
    page.locator("li.turn").first.wait_for()
    return page.locator("li.turn").first.inner_text()  # type: ignore[no-any-return]


def test_upload_rebuild_ask_delete_in_the_browser(
    browser, operator_server: str, tmp_path: Path, shot
) -> None:  # type: ignore[no-untyped-def]
    base = operator_server
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(base + "/verwaltung")
    assert "/verwaltung/anmelden" in page.url
    assert violations(page) == [], "login page"
    page.fill("#name", "anna")
    page.fill("#passwort", PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(base + "/verwaltung")
    assert violations(page) == [], "documents page"

    files = documents(tmp_path)
    page.set_input_files("#dateien", [str(f) for f in files])
    page.get_by_role("button", name="Hochladen").click()
    page.locator(".outcome").wait_for(timeout=180_000)
    assert "3 Datei(en) gespeichert" in page.locator(".outcome").inner_text()
    table = page.locator("table.documents").inner_text()
    assert all(f.name in table for f in files) and "per Texterkennung gelesen" in table
    assert violations(page) == [], "after the upload"
    shot(page, "verwaltung-hochgeladen")
    page.get_by_role("link", name="So wurde gelesen: mieterbeirat-scan.pdf").click()
    assert "Texterkennung" in page.locator("pre.inspect").inner_text()
    assert violations(page) == [], "how the scan was read"
    page.goto(base + "/verwaltung")

    rebuild(page, base)
    shot(page, "verwaltung-neubau")
    # Each answer holds the passage's own words, which the question does not.
    assert "mit Jugendlichen" in ask(page, base, "Wer repariert Fahrraeder in der Zaunkoenig-Werkstatt?")
    assert "mit Nachbarinnen" in ask(page, base, "Wann kocht die Kiezkueche Sonnenblume?")
    answer = ask(page, base, "Wo tagt der Mieterbeirat Lindenhof?")
    assert "Gemeinschaftsraum" in answer and "Texterkennung" in answer

    page.goto(base + "/verwaltung")
    page.get_by_role("button", name="Löschen: werkstatt.pdf").click()
    page.wait_for_url(base + "/verwaltung")
    row = page.locator("table.documents tr", has_text="werkstatt.pdf").inner_text()
    assert "verschwindet mit dem nächsten Neubau" in row
    rebuild(page, base)
    page.goto(base + "/verwaltung")
    assert "werkstatt.pdf" not in page.locator("table.documents").inner_text()
    assert "mit Jugendlichen" not in ask(page, base, "Wer repariert Fahrraeder in der Zaunkoenig-Werkstatt?")
    page.goto(base + "/verwaltung/protokoll")
    log = page.locator("table").inner_text()
    assert "hochgeladen" in log and "gelöscht" in log and "Neubau fertig" in log
    assert violations(page) == [], "audit log"
    context.close()
