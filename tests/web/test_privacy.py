"""The privacy notice states what the settings in force do, and every page links to it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.config import Settings
from assistant.web.app import create_app


def notice(settings: Settings) -> str:
    with TestClient(create_app(settings)) as client:
        page = client.get("/datenschutz")
    assert page.status_code == 200 and "<h1" in page.text and "Datenschutzhinweise" in page.text
    return page.text


def test_the_defaults_as_stated(fixture_release: Settings, tmp_path: Path) -> None:
    text = notice(fixture_release.model_copy(update={"database": tmp_path / "a.sqlite3"}))
    assert "30 Tage nach seiner letzten Frage gelöscht" in text
    assert "ohne Ihre IP-Adresse" in text and "höchstens 12 Sekunden" in text
    assert "Nirgendwohin" in text and "Sprachmodell-Server" not in text
    assert "in einer Datei auf dem Server" in text and "Zugangsschlüssel" not in text
    assert "ASSISTANT_PRIVACY_CONTACT_FILE" in text  # the operator's part is missing, and says so


def test_each_setting_changes_what_it_states(fixture_release: Settings, tmp_path: Path) -> None:
    contact = tmp_path / "betreiber.txt"
    contact.write_text(
        "Stadt Musterstadt (Beispiel), Amt für Stadterneuerung.\n\n<script>alert(1)</script> Datenschutz: "
        "datenschutz@example.org",
        encoding="utf-8",
    )
    text = notice(
        fixture_release.model_copy(
            update={
                "database": tmp_path / "a.sqlite3",
                "retention_days": 7,
                "log_clients": "truncated",
                "llm_url": "http://nutzer:geheim@llm.intern:8080/v1",
                "admin_token": SecretStr("t" * 32),
                "rate_limit_per_minute": 0,
                "privacy_contact_file": contact,
            }
        )
    )
    assert "7 Tage nach seiner letzten Frage" in text and "nur das Netz" in text
    assert "<code>llm.intern:8080</code>" in text and "geheim" not in text and "nutzer:" not in text
    assert "Zugangsschlüssel" in text and "höchstens" not in text
    assert "<p>Stadt Musterstadt (Beispiel), Amt für Stadterneuerung.</p>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Datenschutz: datenschutz@example.org" in text
    assert "<script>alert" not in text


def test_every_page_links_to_the_notice(fixture_release: Settings, tmp_path: Path) -> None:
    with TestClient(
        create_app(fixture_release.model_copy(update={"database": tmp_path / "a.sqlite3"}))
    ) as client:
        conversation = client.post("/gespraech", data={"question": "Was ist ein Quartiersfonds?"}).url.path
        for address in (
            "/",
            conversation,
            f"{conversation}/loeschen",
            "/gespraech/AAAAAAAAAAAAAAAAAAAAAA",
            "/nirgends",
        ):
            assert '<a href="/datenschutz">Datenschutz</a>' in client.get(address).text, address
