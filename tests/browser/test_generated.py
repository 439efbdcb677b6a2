"""The language model's answer in the chat, in Chromium against the real llama.cpp server (xllamacpp,
SmolLM2-135M-Instruct, one thread on loopback): streamed into the turn, settled into the checked answer
or a notice, stopped by the visitor, and cut off by a model server that dies mid-answer. axe checks the
streaming and the settled states. The tiny model's wording is never asserted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.generation.writer import MODEL_UNAVAILABLE, NOT_VERIFIED, STOPPED
from assistant.web.chat import INTERRUPTED

from ..llama_server import start as start_llama
from ..llama_server import stop as stop_llama
from ..serving import serving
from .test_accessibility import violations
from .test_chat import watch_errors

pytestmark = pytest.mark.browser

QUESTION = "Wer entscheidet über den Quartiersfonds?"
DRAFT_GROWS = (
    "() => { const d = document.querySelector('.streaming .draft'); return d && d.textContent.length > 20; }"
)


def with_model(settings: Settings, url: str, tmp_path: Path, **update: object) -> Settings:
    return settings.model_copy(
        update={
            "llm_url": url,
            "llm_temperature": 0.0,
            "database": tmp_path / "assistant.sqlite3",
            "rate_limit_per_minute": 0,
            **update,
        }
    )


def test_the_answer_streams_in_and_settles_into_the_checked_result(
    browser, fixture_release: Settings, llama: str, tmp_path: Path, shot
) -> None:
    settings = with_model(fixture_release, llama, tmp_path, llm_grammar=True, llm_max_tokens=160)
    with serving(settings) as base:
        page = browser.new_page()
        errors = watch_errors(page)
        page.goto(base + "/")
        page.fill("#frage", QUESTION)
        page.press("#frage", "Enter")
        turn = page.locator("li.turn").first
        turn.wait_for()
        # The passages and the Kurzantwort are there while the model is still writing.
        assert turn.locator(".passage").count() > 0 and turn.locator(".short-answer").count() == 1
        turn.locator(".generated-answer.streaming").wait_for(state="detached", timeout=60_000)
        settled = turn.locator("#frage1-sprachmodell")
        assert settled.count() == 1 and turn.locator(".draft, button.stop").count() == 0
        if settled.evaluate("e => e.matches('.notice')"):
            assert settled.inner_text() == NOT_VERIFIED
            page.wait_for_function(
                "text => document.getElementById('status').textContent === text", arg=NOT_VERIFIED
            )
        else:
            # Each marker links to a passage card of this turn.
            for href in settled.locator("a.marker").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            ):
                assert turn.locator(href).count() == 1
            page.wait_for_function(
                "() => /Sätze? belegt|Satz belegt/.test(document.getElementById('status').textContent)"
            )
        assert not page.locator("#frageformular button[type=submit]").is_disabled()
        shot(page, "settled")
        shown = settled.inner_text()
        page.reload()
        assert page.locator("#frage1-sprachmodell").inner_text() == shown  # stored with the turn
        assert errors == []
        page.close()


def test_stopping_while_it_streams_keeps_the_kurzantwort_and_axe_stays_clean(
    browser, fixture_release: Settings, llama: str, tmp_path: Path, shot
) -> None:
    settings = with_model(fixture_release, llama, tmp_path, llm_max_tokens=2000, llm_timeout=120)
    with serving(settings) as base:
        context = browser.new_context(bypass_csp=True)  # axe is injected by the test
        page = context.new_page()
        page.goto(base + "/")
        page.fill("#frage", QUESTION)
        page.press("#frage", "Enter")
        section = page.locator(".generated-answer.streaming")
        section.wait_for()
        page.wait_for_function(DRAFT_GROWS, timeout=60_000)
        assert section.get_attribute("aria-busy") == "true"
        assert (
            page.locator("#status")
            .inner_text()
            .endswith("Fundstellen. Das Sprachmodell schreibt eine Antwort …")
        )
        assert page.locator("#frageformular button[type=submit]").is_disabled()
        assert violations(page) == [], "while the answer streams"
        shot(page, "streaming")
        stop = page.get_by_role("button", name="Antwort anhalten")
        stop.focus()
        page.keyboard.press("Enter")
        notice = page.locator("#frage1-sprachmodell.notice")
        notice.wait_for()
        assert notice.inner_text() == STOPPED
        assert notice.evaluate("e => e === document.activeElement")  # focus stays at the same place
        assert not page.locator("#frageformular button[type=submit]").is_disabled()
        assert violations(page) == [], "after stopping"
        # The stop is stored with the turn once the server has closed the model's stream.
        for _ in range(100):
            page.reload()
            if page.locator("#frage1-sprachmodell").count():
                break
            page.wait_for_timeout(100)
        assert page.locator("#frage1-sprachmodell").inner_text() == STOPPED
        context.close()


def test_a_model_server_that_dies_mid_answer_leaves_the_kurzantwort_with_a_notice(
    browser, fixture_release: Settings, tmp_path: Path, shot
) -> None:
    process, url = start_llama()
    try:
        settings = with_model(fixture_release, url, tmp_path, llm_max_tokens=2000, llm_timeout=120)
        with serving(settings) as base:
            page = browser.new_page()
            errors = watch_errors(page)
            page.goto(base + "/")
            page.fill("#frage", QUESTION)
            page.press("#frage", "Enter")
            page.wait_for_function(DRAFT_GROWS, timeout=60_000)
            process.kill()
            notice = page.locator("#frage1-sprachmodell.notice")
            notice.wait_for(timeout=30_000)
            assert notice.inner_text() == MODEL_UNAVAILABLE
            assert page.locator("li.turn .short-answer").count() == 1 and page.locator(".draft").count() == 0
            page.wait_for_function(
                "text => document.getElementById('status').textContent === text", arg=MODEL_UNAVAILABLE
            )
            shot(page, "model-died")
            assert errors == []
            page.close()
    finally:
        stop_llama(process)


def test_without_javascript_the_checked_answer_comes_with_the_page(
    browser, fixture_release: Settings, llama: str, tmp_path: Path
) -> None:
    settings = with_model(fixture_release, llama, tmp_path, llm_grammar=True, llm_max_tokens=96)
    with serving(settings) as base:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(base + "/")
        page.fill("#frage", QUESTION)
        page.click("button:has-text('Fragen')")
        page.wait_for_load_state()
        assert re.search(r"/gespraech/[\w-]{22}", page.url)
        assert page.locator("#frage1-sprachmodell").count() == 1 and page.locator(".streaming").count() == 0
        assert page.get_by_role("button", name="Antwort anhalten").count() == 0
        context.close()


@pytest.mark.parametrize("cut", ["refused", "cut off"])
def test_a_stream_that_fails_on_the_way_leaves_the_kurzantwort_with_a_notice(
    browser, fixture_release: Settings, tmp_path: Path, cut: str
) -> None:
    # Faults between the browser and the app: the stream request fails, or its body ends before the
    # "done" event (a proxy or the app going away). No model is reached: the route answers instead.
    settings = with_model(fixture_release, "http://127.0.0.1:9/v1", tmp_path)
    with serving(settings) as base:
        page = browser.new_page()
        errors = watch_errors(page)
        if cut == "refused":
            page.route("**/antwort", lambda route: route.abort("connectionreset"))
        else:
            body = 'event: text\ndata: {"text": "Über den Fonds"}\n\n'
            page.route(
                "**/antwort",
                lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
            )
        page.goto(base + "/")
        page.fill("#frage", QUESTION)
        page.press("#frage", "Enter")
        notice = page.locator("#frage1-sprachmodell.notice")
        notice.wait_for()
        assert notice.inner_text() == INTERRUPTED and page.locator(".draft").count() == 0
        assert page.locator("li.turn .short-answer").count() == 1
        assert not page.locator("#frageformular button[type=submit]").is_disabled()
        assert [e for e in errors if "Failed to load resource" not in e] == []
        page.close()


def test_keeping_nothing_the_page_carries_the_conversation_and_the_answer_still_streams(
    browser, fixture_release: Settings, llama: str, tmp_path: Path
) -> None:
    settings = with_model(
        fixture_release, llama, tmp_path, llm_grammar=True, llm_max_tokens=96, retention_days=0
    )
    with serving(settings) as base:
        page = browser.new_page()
        errors = watch_errors(page)
        page.goto(base + "/")
        page.fill("#frage", "Was ist ein Quartiersfonds?")
        page.press("#frage", "Enter")
        page.locator("#frage1-sprachmodell:not(.streaming)").wait_for(timeout=60_000)
        assert page.url == base + "/"  # no address: nothing stored to come back to
        page.fill("#frage", "Wer entscheidet darüber?")
        page.press("#frage", "Enter")
        second = page.locator("li.turn").nth(1)
        second.wait_for()
        assert "(+ Quartiersfonds)" in second.locator(".searched").inner_text()  # the follow-up in context
        page.locator("#frage2-sprachmodell:not(.streaming)").wait_for(timeout=60_000)
        assert page.locator("form.feedback").count() == 0
        assert not page.get_by_role("link", name="Gespräch löschen").is_visible()
        assert page.locator("#frageformular input[name=earlier]").count() == 2
        assert errors == []
        page.close()
    assert not settings.database.exists() or "Wer entscheidet" not in settings.database.read_bytes().decode(
        "utf-8", "replace"
    )


def test_a_marker_highlights_its_evidence_in_the_passage(
    browser, fixture_release: Settings, tmp_path: Path, shot
) -> None:  # type: ignore[no-untyped-def]
    # A fake model that quotes the first passage (verified by construction): the real tiny model's
    # sentences are rarely verified, and this test is about what the chat does with one that is.
    from assistant.service import open_assistant

    from ..fake_llm import FakeModel, chunk

    assistant = open_assistant(fixture_release)
    first = assistant.ask(QUESTION, generate=False).hits[0].passage.text.split(". ")[0].strip(" .")
    model = FakeModel(events=[chunk(word + " ") for word in first.split()] + [chunk("[1].")])
    settings = fixture_release.model_copy(
        update={"database": tmp_path / "a.sqlite3", "rate_limit_per_minute": 0}
    )
    with serving(settings, model.serve(assistant)) as base:
        page = browser.new_context(bypass_csp=True).new_page()  # axe is injected as a script
        errors = watch_errors(page)
        page.goto(base + "/")
        page.fill("#frage", QUESTION)
        page.press("#frage", "Enter")
        answer = page.locator("#frage1-sprachmodell.generated-answer:not(.streaming)")
        answer.wait_for(timeout=30_000)
        assert answer.locator("ol.evidence q").first.inner_text().startswith(first.split()[0])
        answer.locator("a.evidence-link").first.click()
        highlighted = page.evaluate(
            "() => CSS.highlights.get('beleg') ? [...CSS.highlights.get('beleg')][0].toString() : ''"
        )
        assert highlighted.startswith(first[:40]) and first in highlighted.replace("\n", " ")
        assert page.evaluate("() => document.activeElement.closest('#frage1-1') !== null")
        page.wait_for_function(
            "() => document.getElementById('status').textContent.includes('Beleg in Fundstelle 1')"
        )
        shot(page, "generated-evidence")
        assert violations(page) == [] and errors == []
        dark = browser.new_context(bypass_csp=True, color_scheme="dark").new_page()
        dark.goto(page.url)
        dark.locator("#frage1-sprachmodell a.evidence-link").first.click()
        shot(dark, "generated-evidence-dark")
        assert violations(dark) == []
        # Without JavaScript the marker leads to the quoted evidence below the answer.
        plain = browser.new_page(java_script_enabled=False)
        plain.goto(page.url)
        plain.locator("#frage1-sprachmodell a.evidence-link").first.click()
        assert plain.url.endswith("#frage1-beleg-1")
        assert plain.locator("#frage1-beleg-1 q").first.is_visible()
