"""The web chat, server-rendered: works with plain form posts and returns fragments for JavaScript."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant.app import create_app
from assistant.config import Settings


@pytest.fixture(scope="module")
def client(fixture_release: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(fixture_release)) as test_client:
        yield test_client


def test_empty_chat_offers_examples_and_names_the_model(client: TestClient, tiny_model) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="de">' in page.text
    assert "Beispielfragen" in page.text and "Was ist ein Verfügungsfonds?" in page.text
    assert str(tiny_model) in page.text  # the model in use shows in the footer


def test_form_post_without_javascript_renders_the_answer_and_keeps_history(client: TestClient) -> None:
    first = client.post("/", data={"question": "Was ist ein Quartiersfonds?"})
    assert first.status_code == 200
    assert "Beteiligung › Der Quartiersfonds" in first.text
    assert '<input type="hidden" name="history" value="Was ist ein Quartiersfonds?">' in first.text
    second = client.post(
        "/", data={"question": "Wo ist das Büro vor Ort?", "history": ["Was ist ein Quartiersfonds?"]}
    )
    assert second.text.count('class="turn"') == 2
    assert "Organisation › Das Büro vor Ort" in second.text


def test_fragment_for_javascript_is_one_turn(client: TestClient) -> None:
    fragment = client.post("/", data={"question": "Was ist ein Quartiersfonds?", "fragment": "1"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<li class="turn">') and "<html" not in fragment.text


def test_empty_question_shows_a_message_not_an_error_page(client: TestClient) -> None:
    page = client.post("/", data={"question": "  "})
    assert page.status_code == 422 and "Die Frage ist leer." in page.text and "<html" in page.text


def test_hostile_question_is_escaped(client: TestClient) -> None:
    hostile = '<script>alert("x")</script>" onmouseover="alert(1)'
    page = client.post("/", data={"question": hostile})
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_static_assets_and_security_headers(client: TestClient) -> None:
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_short_answer_and_highlighted_words(client: TestClient) -> None:
    page = client.post("/", data={"question": "Wer entscheidet über den Quartiersfonds?"}).text
    assert "Kurzantwort aus den Fundstellen" in page
    assert '<a class="marker" href="#frage1-1"' in page and 'id="frage1-1"' in page
    assert "<mark>Quartiersfonds</mark>" in page and "<mark>entscheidet</mark>" in page


def test_highlighting_never_builds_markup_from_text() -> None:
    from assistant.views import marked_segments

    hostile = 'Fonds <script>alert("x")</script> Fonds-Beirat'
    assert marked_segments(hostile, ["Fonds"]) == [
        ("Fonds", True),
        (' <script>alert("x")</script> Fonds-Beirat', False),
    ]
