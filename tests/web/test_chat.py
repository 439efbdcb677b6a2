"""The web chat, server-rendered: works with plain form posts and returns fragments for JavaScript."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.web.app import create_app


@pytest.fixture(scope="module")
def client(fixture_release: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(fixture_release)) as test_client:
        yield test_client


def test_empty_chat_offers_examples_and_names_the_model(client: TestClient, tiny_model) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="de">' in page.text
    assert "Beispielfragen" in page.text and "Was ist ein Verfügungsfonds?" in page.text
    # The model in use shows in the footer, a local path by its folder's name only.
    assert f"<span data-model>{tiny_model.name}</span>" in page.text and str(tiny_model) not in page.text
    assert "kein erzeugter Text" in page.text  # no language model configured


def test_form_post_without_javascript_starts_a_conversation_with_its_own_address(client: TestClient) -> None:
    first = client.post(
        "/gespraech", data={"question": "Was ist ein Quartiersfonds?"}, follow_redirects=False
    )
    assert first.status_code == 303  # post/redirect/get: a reload does not ask again
    location = first.headers["location"]
    assert location.startswith("/gespraech/") and location.endswith("#frage1")
    conversation = location.split("#")[0]
    page = client.get(conversation)
    assert "Beteiligung › Der Quartiersfonds" in page.text
    assert f'action="{conversation}"' in page.text  # the next question continues this conversation

    second = client.post(conversation, data={"question": "Wer entscheidet darüber?"}, follow_redirects=False)
    assert second.headers["location"] == f"{conversation}#frage2"
    page = client.get(conversation).text
    assert page.count('class="turn"') == 2
    # The follow-up was searched with the first question's words, taken from the stored conversation.
    assert "Gesucht wurde: Wer entscheidet darüber? (+ Quartiersfonds)" in page


def test_fragment_for_javascript_is_one_turn_and_names_the_conversation(client: TestClient) -> None:
    fragment = client.post("/gespraech", data={"question": "Was ist ein Quartiersfonds?", "fragment": "1"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<li class="turn" id="frage1">') and "<html" not in fragment.text
    assert fragment.headers["x-gespraech"].startswith("/gespraech/")


def test_unknown_or_malformed_conversation_is_a_clear_404(client: TestClient) -> None:
    for address in ("/gespraech/AAAAAAAAAAAAAAAAAAAAAA", "/gespraech/..%2F..%2Fetc", "/gespraech/x"):
        page = client.get(address)
        assert page.status_code == 404 and "gibt es nicht" in page.text and "<html" in page.text, address
    assert client.post("/gespraech/AAAAAAAAAAAAAAAAAAAAAA", data={"question": "Hallo?"}).status_code == 404


def test_feedback_form_is_stored_and_shown(client: TestClient, fixture_release: Settings) -> None:
    from assistant.userdata import SQLiteUserStore

    conversation = client.post("/gespraech", data={"question": "Wo ist das Büro vor Ort?"}).url.path
    page = client.get(conversation).text
    assert "War diese Antwort hilfreich?" in page and 'name="helpful" value="ja"' in page
    done = client.post(
        f"{conversation}/1/rueckmeldung",
        data={"helpful": "ja", "comment": "  Danke\x00, genau das!  "},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"{conversation}#frage1"
    assert "Ihre Rückmeldung „Hilfreich“ ist gespeichert" in client.get(conversation).text
    latest = SQLiteUserStore(fixture_release.database).feedback(limit=1)[0]
    assert (latest.helpful, latest.comment, latest.question) == (
        True,
        "Danke, genau das!",
        "Wo ist das Büro vor Ort?",
    )
    assert latest.conversation == conversation.rsplit("/", 1)[1] and latest.turn == 1 and latest.passages

    assert client.post(f"{conversation}/1/rueckmeldung", data={"helpful": "vielleicht"}).status_code == 422
    assert client.post(f"{conversation}/7/rueckmeldung", data={"helpful": "ja"}).status_code == 404
    too_long = client.post(f"{conversation}/1/rueckmeldung", data={"helpful": "ja", "comment": "x" * 2001})
    assert too_long.status_code == 422 and "Kommentar ist zu lang" in too_long.text


def test_empty_question_shows_a_message_not_an_error_page(client: TestClient) -> None:
    page = client.post("/gespraech", data={"question": "  "})
    assert page.status_code == 422 and "Die Frage ist leer." in page.text and "<html" in page.text


def test_hostile_question_is_escaped(client: TestClient) -> None:
    hostile = '<script>alert("x")</script>" onmouseover="alert(1)'
    page = client.post("/gespraech", data={"question": hostile})
    assert page.status_code == 200 and "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_static_assets_and_security_headers(client: TestClient) -> None:
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_short_answer_and_highlighted_words(client: TestClient) -> None:
    page = client.post("/gespraech", data={"question": "Wer entscheidet über den Quartiersfonds?"}).text
    assert "Kurzantwort aus den Fundstellen" in page
    assert '<a class="marker" href="#frage1-1"' in page and 'id="frage1-1"' in page
    assert "<mark>Quartiersfonds</mark>" in page and "<mark>entscheidet</mark>" in page


def test_highlighting_never_builds_markup_from_text() -> None:
    from assistant.web.chat import marked_segments

    hostile = 'Fonds <script>alert("x")</script> Fonds-Beirat'
    assert marked_segments(hostile, ["Fonds"]) == [
        ("Fonds", True),
        (' <script>alert("x")</script> Fonds-Beirat', False),
    ]


def test_a_visitor_deletes_the_conversation_after_a_confirmation_without_javascript(
    client: TestClient,
) -> None:
    location = client.post(
        "/gespraech", data={"question": "Was ist ein Quartiersfonds?"}, follow_redirects=False
    ).headers["location"]
    conversation = location.split("#")[0]
    client.post(conversation, data={"question": "Wer entscheidet darüber?"})
    client.post(f"{conversation}/1/rueckmeldung", data={"helpful": "ja"})
    page = client.get(conversation).text
    assert f'href="{conversation}/loeschen">Gespräch löschen</a>' in page
    confirm = client.get(f"{conversation}/loeschen")
    assert confirm.status_code == 200 and "2 Fragen" in confirm.text and "Rückmeldungen dazu" in confirm.text
    assert f'action="{conversation}/loeschen"' in confirm.text and "Endgültig löschen" in confirm.text
    assert client.get(conversation).status_code == 200  # showing the confirmation deleted nothing
    done = client.post(f"{conversation}/loeschen")
    assert done.status_code == 200 and "Gelöscht: 2 Fragen mit ihren Antworten und 1 Rückmeldung" in done.text
    gone = client.get(conversation)
    assert gone.status_code == 404 and "gibt es nicht (mehr)" in gone.text
    assert client.post(f"{conversation}/loeschen").status_code == 404
    assert client.get(f"{conversation}/loeschen").status_code == 404
    assert client.post("/gespraech/x/loeschen").status_code == 404


def test_the_api_deletes_a_conversation_by_its_id(client: TestClient) -> None:
    conversation = (
        client.post("/gespraech", data={"question": "Was ist ein Quartiersfonds?"}, follow_redirects=False)
        .headers["location"]
        .split("#")[0]
        .rsplit("/", 1)[1]
    )
    deleted = client.delete(f"/api/conversations/{conversation}")
    assert deleted.status_code == 200 and deleted.json() == {"conversations": 1, "turns": 1, "feedback": 0}
    again = client.delete(f"/api/conversations/{conversation}")
    assert again.status_code == 404 and again.json()["detail"] == "Dieses Gespräch gibt es nicht (mehr)."
    assert client.get(f"/gespraech/{conversation}").status_code == 404
    assert client.delete("/api/conversations/..%2F..%2Fetc").status_code in (404, 422)
    assert client.delete("/api/conversations/kurz").status_code == 422


def test_a_refusal_names_related_topics_as_links_apart_from_an_answer(client: TestClient) -> None:
    location = client.post(
        "/gespraech", data={"question": "Rezept für Apfelkuchen"}, follow_redirects=False
    ).headers["location"]
    page = client.get(location.split("#")[0]).text
    assert "Dazu enthält der Leitfaden keine passende Stelle." in page
    section = page[page.index('<section class="related"') :]
    section = section[: section.index("</section>")]
    assert "Verwandte Themen im Leitfaden" in section and "beantworten die Frage nicht" in section
    assert section.count('<a href="/ansicht/') >= 1
    assert "Kurzantwort" not in page and 'class="passages"' not in page.split('class="related"')[1]
