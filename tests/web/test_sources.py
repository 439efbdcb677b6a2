"""Source files: served from the release's own list, PDFs opened at the cited page, nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.build import build_index
from assistant.config import Settings
from assistant.web.app import create_app
from tests.pdfs import write_pdf


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, tiny_model: Path) -> TestClient:
    root = tmp_path_factory.mktemp("sources")
    corpus = root / "corpus"
    shutil.copytree(fixture_corpus, corpus)
    extra = root / "extra"
    extra.mkdir()
    write_pdf(
        extra / "leitfaden.pdf",
        [["Vorwort."], ["Der Quartiersfonds wird von einer Jury aus dem Quartier vergeben."]],
        labels=[(0, 0, "/r", "", 1), (1, 1, "/D", "", 1)],
    )
    (extra / "quartier.md").write_text("# Doppelt\n\nGleicher Dateiname wie im Korpus, anderer Ordner.\n")
    (extra / "seite.html").write_text(
        "<h1>Seite</h1><p>Fremdes HTML mit Skript.</p><script>alert(1)</script>"
    )
    (extra / "boese.md").write_text(
        "---\ntitle: Böse Quelle\n---\n\n# Kapitel\n\n## Abschnitt\n\n"
        'Text mit <script>alert(1)</script> und "Anführungszeichen" sowie '
        "[einem Link](javascript:alert(2)) und <img src=x onerror=alert(3)>.\n"
    )
    (root / "geheim.txt").write_text("Nicht im Index.")
    settings = Settings(
        corpus_dir=corpus,
        extra_sources=[extra],
        index_dir=root / "index",
        model=str(tiny_model),
        database=root / "var" / "assistant.sqlite3",
    )
    build_index(settings, warn=lambda _: None)
    return TestClient(create_app(settings))


def test_pdf_passage_links_to_its_page(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "Wer vergibt den Quartiersfonds? Jury", "k": 10}).json()
    cited = next(p for p in body["passages"] if p["citation"]["url"] and "leitfaden" in p["citation"]["url"])
    assert cited["citation"]["url"] == "/quellen/leitfaden.pdf#page=2"
    assert cited["citation"]["page"] == "1" and cited["citation"]["label"].endswith("S. 1")
    response = client.get("/quellen/leitfaden.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_pdf_passage_shows_its_page_as_read(client: TestClient) -> None:
    page = client.post("/gespraech", data={"question": "Wer vergibt den Quartiersfonds? Jury", "k": "10"})
    link = page.text.split('href="/ansicht/leitfaden.pdf?stelle=', 1)[1].split('"', 1)[0]
    assert "Gelesenen Text zeigen" in page.text
    view = client.get("/ansicht/leitfaden.pdf?stelle=" + link.replace("&amp;", "&").split("#")[0])
    assert view.status_code == 200
    assert "Seite 2 (gedruckt: 1) der PDF-Datei" in view.text
    assert 'href="/quellen/leitfaden.pdf#page=2"' in view.text
    passage = view.text.split('<section id="stelle" class="treffer"', 1)[1].split("</section>", 1)[0]
    assert "Der Quartiersfonds wird von einer Jury aus dem Quartier vergeben." in passage
    assert "Vorwort" not in view.text  # only the passage's page


def test_same_file_name_in_two_folders_gets_two_keys(client: TestClient) -> None:
    assert "Testdokument Quartier" not in client.get("/quellen/extra/quartier.md").text
    assert "Gleicher Dateiname" in client.get("/quellen/extra/quartier.md").text
    assert "Bewohnerbeteiligung" in client.get("/quellen/quartier.md").text


def test_foreign_html_is_served_in_a_sandbox(client: TestClient) -> None:
    response = client.get("/quellen/seite.html")
    assert response.status_code == 200 and response.headers["content-security-policy"] == "sandbox"


@pytest.mark.parametrize(
    "path",
    [
        "/quellen/geheim.txt",
        "/quellen/../geheim.txt",
        "/quellen/%2e%2e/geheim.txt",
        "/quellen//etc/passwd",
        "/quellen/..%2f..%2fetc%2fpasswd",
        "/quellen/",
    ],
)
def test_anything_else_is_not_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "Nicht im Index" not in response.text and "root:" not in response.text


def test_chat_card_links_to_the_source(client: TestClient) -> None:
    page = client.post("/gespraech", data={"question": "Wer vergibt den Quartiersfonds? Jury", "k": "10"})
    assert (
        'href="/quellen/leitfaden.pdf#page=2"' in page.text
        and 'href="/ansicht/quartier.md?stelle=' in page.text
    )
    assert "Quelle öffnen" in page.text and "Zitat kopieren" in page.text


def passage_id(client: TestClient, question: str, section: str) -> str:
    body = client.post("/api/ask", json={"question": question, "k": 10}).json()
    return next(p["id"] for p in body["passages"] if p["citation"]["section"] == section)


def test_markdown_source_is_rendered_with_the_passage_highlighted(client: TestClient) -> None:
    pid = passage_id(client, "Wer entscheidet über den Quartiersfonds?", "Der Quartiersfonds")
    response = client.get(f"/ansicht/quartier.md?stelle={pid}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    passage = page.split('<section id="stelle" class="treffer"', 1)[1].split("</section>", 1)[0]
    assert "Ein Quartiersfonds ist ein kleines Budget" in passage
    assert "Büro vor Ort" not in passage and "Bewohnerbeteiligung" not in passage
    assert "Das Büro vor Ort ist die Anlaufstelle" in page  # the rest of the document is there too
    assert "<h2>Beteiligung</h2>" in page and "<h3>Der Quartiersfonds</h3>" in page  # under the page's h1
    assert "title: Testdokument" not in page  # front matter is not shown
    assert 'href="#stelle"' in page  # the skip link jumps to the passage


def test_other_text_sources_are_shown_from_their_blocks(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "Verstetigung", "k": 10}).json()
    cited = next(p for p in body["passages"] if p["citation"]["url"].startswith("/ansicht/verstetigung.txt"))
    page = client.get(cited["citation"]["url"].split("#")[0]).text
    passage = page.split('<section id="stelle" class="treffer"', 1)[1].split("</section>", 1)[0]
    assert cited["text"].split("\n\n")[0][:60] in passage


def test_rendered_sources_cannot_inject_markup(client: TestClient) -> None:
    page = client.get("/ansicht/boese.md").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page.lower() and "<img src=x" not in page
    assert "Anführungszeichen" in page


def test_stale_or_unknown_places(client: TestClient) -> None:
    stale = client.get("/ansicht/quartier.md?stelle=0000000000000000")
    assert (
        stale.status_code == 200 and "nicht mehr enthalten" in stale.text and 'id="stelle"' not in stale.text
    )
    pdf = client.get("/ansicht/leitfaden.pdf", follow_redirects=False)
    assert pdf.status_code == 303 and pdf.headers["location"] == "/quellen/leitfaden.pdf"
    for path in ("/ansicht/geheim.txt", "/ansicht/../geheim.txt", "/ansicht/%2e%2e/geheim.txt"):
        response = client.get(path)
        assert response.status_code == 404 and "Nicht im Index" not in response.text
