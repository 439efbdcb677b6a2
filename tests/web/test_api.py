"""The JSON API through httpx against the real app and a real FAISS release."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.config import Settings
from assistant.web.app import create_app


@pytest.fixture(scope="module")
def client(fixture_release: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(fixture_release)) as test_client:
        yield test_client


def test_ask_returns_cited_passages(client: TestClient, tiny_model) -> None:
    response = client.post("/api/ask", json={"question": "Wer entscheidet über den Quartiersfonds?", "k": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["question"] == "Wer entscheidet über den Quartiersfonds?"
    assert body["no_match"] is False and len(body["passages"]) == 2
    first = body["passages"][0]
    assert set(first) == {"id", "text", "score", "citation", "highlights", "quotation"}
    assert (
        first["quotation"].startswith("„")
        and "(Testdokument Quartier, Beteiligung › Der Quartiersfonds)" in (first["quotation"])
    )
    assert "Quartiersfonds" in first["highlights"] and "entscheidet" in first["highlights"]
    assert body["answer"] and body["answer"][0]["marker"] == 1 and body["answer"][0]["text"] in first["text"]
    assert "Gremium" in first["text"]
    assert first["citation"] == {
        "document": "Testdokument Quartier",
        "chapter": "Beteiligung",
        "section": "Der Quartiersfonds",
        "page": None,
        "label": "Beteiligung › Der Quartiersfonds",
        "ocr": False,
        "url": f"/ansicht/quartier.md?stelle={first['id']}#stelle",
    }
    assert body["model"] == tiny_model.name and body["build_id"]  # a local path by its folder's name
    assert first["score"] >= body["passages"][1]["score"]


def test_history_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/api/ask", json={"question": "Und wer entscheidet?", "history": ["Was ist ein Quartiersfonds?"]}
    )
    assert response.status_code == 200


def test_off_topic_question_gets_no_match(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "Rezept für Apfelkuchen"}).json()
    assert body["no_match"] is True and body["passages"] == []
    assert body["message"] == "Dazu enthält der Leitfaden keine passende Stelle."
    # The nearest topics the sources do cover, apart from the (empty) answer: distinct sections, linked.
    related = body["related"]
    assert 1 <= len(related) <= 3 and body["answer"] == []
    assert len({(r["document"], r["chapter"], r["section"]) for r in related}) == len(related)
    assert all(r["label"] and r["url"].startswith("/ansicht/") for r in related)


def test_an_answered_question_has_no_related_topics(client: TestClient) -> None:
    body = client.post("/api/ask", json={"question": "Wer entscheidet über den Quartiersfonds?"}).json()
    assert body["no_match"] is False and body["related"] == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"question": ""}, "Die Frage ist leer"),
        ({"question": "   \n\t "}, "Die Frage ist leer"),
        ({"question": "x" * 1001}, "zu lang"),
        ({"question": "Frage", "k": 0}, "k muss zwischen 1 und 20"),
        ({"question": "Frage", "k": 21}, "k muss zwischen 1 und 20"),
        ({"question": "Frage", "history": ["a"] * 21}, "Zu viele frühere Fragen"),
        ({"question": 42}, "question"),
        ({"question": "Frage", "k": "viele"}, "k"),
        ({"question": "Frage", "history": "keine Liste"}, "history"),
        ({"frage": "Falsches Feld"}, "question"),
        ({"question": "Frage", "unbekannt": 1}, "unbekannt"),
    ],
)
def test_invalid_input_gets_422_with_a_clear_message(
    client: TestClient, payload: object, message: str
) -> None:
    response = client.post("/api/ask", json=payload)
    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize("body", [b"{nicht json", b"", b"[1, 2]", b'"nur ein String"'])
def test_malformed_json_gets_422_not_500(client: TestClient, body: bytes) -> None:
    response = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Ungültige Anfrage")


def test_health_reports_release_and_model(client: TestClient, fixture_release: Settings, tiny_model) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["model"] == tiny_model.name  # not the path on the server
    assert body["passages"] > 0 and body["build_id"]


def test_openapi_docs_are_served_from_vendored_assets(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert (
        "//" not in docs.text.split("<body>")[0]
    )  # no CDN or absolute URL: works offline and behind proxies
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/vendor/swagger-ui/LICENSE").status_code == 200
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]


def test_follow_up_question_uses_the_earlier_turn(client: TestClient) -> None:
    body = client.post(
        "/api/ask",
        json={"question": "Und wer entscheidet darüber?", "history": ["Was ist ein Quartiersfonds?"]},
    ).json()
    assert body["searched"] == "Und wer entscheidet darüber? (+ Quartiersfonds)"
    assert body["passages"][0]["citation"]["section"] == "Der Quartiersfonds"
    alone = client.post("/api/ask", json={"question": "Und wer entscheidet darüber?"}).json()
    assert alone["searched"] == "Und wer entscheidet darüber?"


def test_feedback_is_stored_and_read_back_with_the_admin_token(fixture_release: Settings, tmp_path) -> None:
    settings = fixture_release.model_copy(
        update={"admin_token": SecretStr("geheim-123"), "database": tmp_path / "feedback.sqlite3"}
    )
    with TestClient(create_app(settings)) as http:
        given = http.post(
            "/api/feedback",
            json={
                "question": "Wer entscheidet?",
                "helpful": False,
                "comment": "Fehlt: Fristen",
                "passage_ids": ["a1"],
            },
        )
        assert given.status_code == 201
        assert given.json()["helpful"] is False and given.json()["id"] == 1
        assert http.get("/api/feedback").status_code == 401
        assert http.get("/api/feedback", headers={"Authorization": "Bearer falsch"}).status_code == 401
        read = http.get("/api/feedback", headers={"Authorization": "Bearer geheim-123"})
        assert read.status_code == 200
        [entry] = read.json()
        assert (entry["question"], entry["comment"], entry["passage_ids"]) == (
            "Wer entscheidet?",
            "Fehlt: Fristen",
            ["a1"],
        )
        assert entry["build_id"] and entry["conversation"] is None


def test_feedback_cannot_be_read_over_the_api_without_a_configured_token(client: TestClient) -> None:
    response = client.get("/api/feedback", headers={"Authorization": "Bearer irgendwas"})
    assert response.status_code == 403 and "ASSISTANT_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"question": "", "helpful": True},
        {"question": "Frage", "helpful": "vielleicht"},
        {"question": "Frage", "helpful": True, "comment": "x" * 2001},
        {"question": "Frage", "helpful": True, "extra": 1},
        {"question": "Frage"},
    ],
)
def test_bad_feedback_is_refused_with_a_message(client: TestClient, body: dict) -> None:
    response = client.post("/api/feedback", json=body)
    assert response.status_code == 422 and response.json()["detail"]
