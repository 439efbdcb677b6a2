"""The web chat in a real browser: asking, following up, the no-JavaScript path, a narrow screen."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_ask_and_follow_up_without_a_page_reload(browser, server, shot) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server + "/")
    shot(page, "empty")
    page.evaluate("window.__samePage = true")  # survives only if no navigation happens

    page.fill("#frage", "Was ist ein Quartiersfonds?")
    page.press("#frage", "Enter")
    first = page.locator("li.turn").nth(0)
    first.wait_for()
    assert "Der Quartiersfonds" in first.locator(".citation").first.inner_text()
    assert first.locator("mark").count() > 0
    assert page.input_value("#frage") == ""

    page.fill("#frage", "Und wer entscheidet darüber?")
    page.press("#frage", "Enter")
    second = page.locator("li.turn").nth(1)
    second.wait_for()
    assert "Gesucht wurde: Und wer entscheidet darüber? (+ Quartiersfonds)" in second.inner_text()
    assert page.evaluate("window.__samePage") is True
    assert page.locator("input[name=history]").count() == 2
    shot(page, "follow-up")
    assert errors == []
    page.close()


def test_example_question_button(browser, server) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    page.click("text=Was ist ein Verfügungsfonds?")
    page.locator("li.turn").first.wait_for()
    assert page.locator("#beispiele").count() == 0  # the examples make way for the conversation
    page.close()


def test_without_javascript_plain_form_posts_work(browser, server, shot) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/")
    page.fill("#frage", "Was ist ein Quartiersfonds?")
    page.click("button:has-text('Fragen')")
    page.wait_for_load_state()
    assert page.locator("li.turn").count() == 1
    page.fill("#frage", "Wo ist das Büro vor Ort?")
    page.click("button:has-text('Fragen')")
    page.wait_for_load_state()
    assert page.locator("li.turn").count() == 2
    assert "Das Büro vor Ort" in page.locator("li.turn").nth(1).inner_text()
    shot(page, "no-js")
    page.click("text=Neues Gespräch")
    page.wait_for_load_state()
    assert page.locator("li.turn").count() == 0
    context.close()


def test_narrow_screen_has_no_sideways_scrolling(browser, server, shot) -> None:
    page = browser.new_page(viewport={"width": 360, "height": 740})
    page.goto(server + "/")
    page.fill("#frage", "Was ist ein Quartiersfonds?")
    page.press("#frage", "Enter")
    page.locator("li.turn").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "narrow")
    page.close()
