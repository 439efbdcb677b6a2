"""Source files: served from the release's own list, PDFs opened at the cited page, nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.app import create_app
from assistant.build import build_index
from assistant.config import Settings
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
    (root / "geheim.txt").write_text("Nicht im Index.")
    settings = Settings(
        corpus_dir=corpus, extra_sources=[extra], index_dir=root / "index", model=str(tiny_model)
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
    page = client.post("/", data={"question": "Wer vergibt den Quartiersfonds? Jury"})
    assert 'href="/quellen/' in page.text and "Quelle öffnen" in page.text
