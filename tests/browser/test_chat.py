"""The web chat in a real browser: ask, follow up, reload, open a source, copy a quotation, give
feedback, the loading state, the no-JavaScript path, a narrow screen, the keyboard and paper."""

from __future__ import annotations

import re

import pytest

from assistant.config import Settings
from assistant.userdata import SQLiteUserStore

pytestmark = pytest.mark.browser

CONVERSATION = re.compile(r"/gespraech/[A-Za-z0-9_-]{22}$")


def watch_errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def ask(page, question: str, number: int):  # type: ignore[no-untyped-def]
    page.fill("#frage", question)
    page.press("#frage", "Enter")
    turn = page.locator("li.turn").nth(number - 1)
    turn.wait_for()
    return turn


def test_ask_follow_up_reload_and_start_afresh(browser, server, shot) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors = watch_errors(page)
    page.goto(server + "/")
    shot(page, "empty")
    page.evaluate("window.__samePage = true")  # survives only if no navigation happens

    first = ask(page, "Was ist ein Quartiersfonds?", 1)
    assert "Der Quartiersfonds" in first.locator(".citation").first.inner_text()
    assert first.locator(".short-answer").count() == 1 and first.locator("mark").count() > 0
    assert page.input_value("#frage") == ""
    assert CONVERSATION.search(page.url), page.url  # the conversation got its own address
    page.locator("#status").get_by_text("Antwort erhalten").wait_for()  # announced in the live region
    assert "Fundstellen" in page.locator("#status").inner_text()

    second = ask(page, "Und wer entscheidet darüber?", 2)
    assert "Gesucht wurde: Und wer entscheidet darüber? (+ Quartiersfonds)" in second.inner_text()
    assert page.evaluate("window.__samePage") is True
    shot(page, "follow-up")

    address = page.url
    page.reload()
    assert page.url == address and page.locator("li.turn").count() == 2
    assert "Und wer entscheidet darüber?" in page.locator("li.turn").nth(1).inner_text()
    third = ask(page, "Wo ist das Büro vor Ort?", 3)  # the reloaded page continues the same conversation
    assert "Das Büro vor Ort" in third.inner_text() and page.url == address

    page.click("text=Neues Gespräch")
    page.wait_for_load_state()
    assert page.locator("li.turn").count() == 0 and page.locator("#beispiele").count() == 1
    page.goto(address)  # the old conversation is still there
    assert page.locator("li.turn").count() == 3
    assert errors == []
    page.close()


def test_loading_state_while_the_answer_is_on_its_way(browser, server, shot) -> None:
    page = browser.new_page()
    page.goto(server + "/")

    held: list = []  # the request is held back until the page has been checked
    page.route("**/gespraech", lambda route: held.append(route))
    page.fill("#frage", "Was ist ein Quartiersfonds?")
    page.press("#frage", "Enter")
    page.locator("#status").get_by_text("Antwort wird gesucht").wait_for()
    assert page.locator("#frageformular button[type=submit]").is_disabled()
    assert page.get_attribute("#verlauf", "aria-busy") == "true"
    shot(page, "loading")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    held[0].continue_()
    page.locator("li.turn").first.wait_for()
    assert not page.locator("#frageformular button[type=submit]").is_disabled()
    page.close()


def test_example_question_button(browser, server) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    page.click("text=Was ist ein Verfügungsfonds?")
    page.locator("li.turn").first.wait_for()
    assert page.locator("#beispiele").count() == 0  # the examples make way for the conversation
    page.close()


def test_open_the_source_at_the_passage(browser, server, shot) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.goto(server + "/")
    turn = ask(page, "Wie ist die Steuerung in der Verwaltung organisiert?", 1)
    card = turn.locator(".passage").first
    wanted = card.locator(".citation").inner_text()
    with page.context.expect_page() as opened:
        card.locator("a.open").click()
    source = opened.value
    source.wait_for_load_state()
    assert "/ansicht/quartier.md?stelle=" in source.url and source.url.endswith("#stelle")
    passage = source.locator("#stelle")
    assert passage.is_visible()
    section = wanted.split("›")[-1].strip()
    assert section in source.locator("article.source").inner_text()
    # Scrolled there: the highlighted passage lies inside the window, below the document's start.
    top = passage.evaluate("element => element.getBoundingClientRect().top")
    assert 0 <= top < 700 and source.evaluate("window.scrollY") > 0
    assert passage.evaluate("element => getComputedStyle(element).backgroundColor") != "rgba(0, 0, 0, 0)"
    shot(source, "source")
    source.close()
    page.close()


def test_copy_a_quotation(browser, server, shot) -> None:
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    page.goto(server + "/")
    turn = ask(page, "Was ist ein Quartiersfonds?", 1)
    card = turn.locator(".passage").first
    card.locator("details.copy summary").click()
    card.locator(".copied").get_by_text("Zitat kopiert.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    expected = card.locator("details.copy textarea").input_value()
    assert copied == expected
    assert copied.startswith("„Ein Quartiersfonds ist") and copied.endswith(
        "(Testdokument Quartier, Beteiligung › Der Quartiersfonds)"
    )
    shot(page, "copied")
    context.close()


def test_give_feedback_with_a_comment(browser, server, fixture_release: Settings, shot) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    turn = ask(page, "Wo ist das Büro vor Ort?", 1)
    turn.locator("textarea[name=comment]").fill("Sprechzeiten fehlen")
    turn.get_by_role("button", name="Nicht hilfreich").click()
    thanks = turn.locator(".thanks")
    thanks.wait_for()
    assert "„Nicht hilfreich“ ist gespeichert" in thanks.inner_text()
    assert page.evaluate("document.activeElement.classList.contains('thanks')")  # focus is not lost
    shot(page, "feedback")
    conversation = page.url.rsplit("/", 1)[1]
    stored = next(
        f for f in SQLiteUserStore(fixture_release.database).feedback() if f.conversation == conversation
    )
    assert (stored.helpful, stored.comment, stored.turn) == (False, "Sprechzeiten fehlen", 1)
    page.reload()
    assert "ist gespeichert" in page.locator("li.turn .thanks").inner_text()
    page.close()


def test_without_javascript_everything_works_through_forms_and_links(
    browser, server, fixture_release: Settings, shot
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/")
    page.fill("#frage", "Was ist ein Quartiersfonds?")
    page.click("button:has-text('Fragen')")
    page.wait_for_load_state()
    assert page.locator("li.turn").count() == 1 and CONVERSATION.search(page.url.split("#")[0])
    page.fill("#frage", "Und wer entscheidet darüber?")
    page.click("button:has-text('Fragen')")
    page.wait_for_load_state()
    assert page.locator("li.turn").count() == 2
    assert "(+ Quartiersfonds)" in page.locator("li.turn").nth(1).inner_text()
    shot(page, "no-js")

    # Copying: the quotation opens in a field, selected by hand.
    card = page.locator("li.turn").nth(0).locator(".passage").first
    card.locator("details.copy summary").click()
    assert card.locator("details.copy textarea").is_visible()
    assert card.locator("details.copy textarea").input_value().startswith("„")

    # Feedback: a plain form post, then back at the same answer.
    second = page.locator("li.turn").nth(1)
    second.locator("textarea[name=comment]").fill("ohne Skript")
    second.get_by_role("button", name="Hilfreich", exact=True).click()
    page.wait_for_load_state()
    assert (
        page.url.endswith("#frage2") and "„Hilfreich“ ist gespeichert" in page.locator("#frage2").inner_text()
    )
    assert any(f.comment == "ohne Skript" for f in SQLiteUserStore(fixture_release.database).feedback())
    shot(page, "no-js-feedback")

    # The source: a plain link.
    href = page.locator("li.turn").nth(0).locator("a.open").first.get_attribute("href")
    page.goto(server + href)
    assert page.locator("#stelle").is_visible()
    page.go_back()
    page.click("text=Neues Gespräch")
    page.wait_for_load_state()
    assert page.locator("li.turn").count() == 0
    context.close()


def test_narrow_screen_has_no_sideways_scrolling(browser, server, shot) -> None:
    page = browser.new_page(viewport={"width": 360, "height": 740})
    page.goto(server + "/")
    shot(page, "narrow-empty")
    turn = ask(page, "Was ist ein Quartiersfonds?", 1)
    turn.locator("details.copy summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "narrow")
    page.goto(server + turn.locator("a.open").first.get_attribute("href"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "narrow-source")
    page.close()


def test_large_screen_keeps_a_readable_line_length(browser, server, shot) -> None:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(server + "/")
    ask(page, "Was ist ein Quartiersfonds?", 1)
    width = page.evaluate("document.querySelector('main').getBoundingClientRect().width")
    assert width <= 900  # about 52rem: lines stay readable on a wide screen
    shot(page, "wide")
    page.close()


def test_keyboard_only(browser, server) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Zur Eingabe springen"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "frage"
    page.keyboard.type("Was ist ein Quartiersfonds?")
    page.keyboard.press("Enter")
    page.locator("li.turn").first.wait_for()
    # From the top of the page, Tab reaches the source link, the quotation and the feedback buttons.
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim().split('(')[0].trim()"))
    assert {"Quelle öffnen", "Zitat kopieren", "Hilfreich", "Nicht hilfreich"} <= set(reached), reached
    # Visible focus: the focused element has an outline.
    page.keyboard.press("Shift+Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.close()


def test_prints_the_answer_with_its_citations(browser, server, shot) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    turn = ask(page, "Was ist ein Quartiersfonds?", 1)
    page.emulate_media(media="print")
    assert not page.locator("#frageformular").is_visible()
    assert not turn.locator(".feedback").is_visible() and not turn.locator("details.copy").first.is_visible()
    source = turn.locator(".print-only").first
    assert source.is_visible() and re.search(r"Quelle: http://127\.0\.0\.1:\d+/ansicht/", source.inner_text())
    assert turn.locator(".citation").first.is_visible() and turn.locator(".short-answer").is_visible()
    shot(page, "print")
    pdf = shot.folder / "print-answer.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.stat().st_size > 1000
    page.close()


def test_delete_the_conversation_after_asking_with_javascript(browser, server) -> None:
    page = browser.new_page()
    errors = watch_errors(page)
    page.goto(server + "/")
    assert not page.get_by_role("link", name="Gespräch löschen").is_visible()  # nothing to delete yet
    ask(page, "Was ist ein Quartiersfonds?", 1)
    address = page.url
    page.get_by_role("link", name="Gespräch löschen").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Gespräch löschen"
    page.get_by_role("button", name="Endgültig löschen").click()
    page.wait_for_load_state()
    assert (
        "Auf dem Server ist von diesem Gespräch nichts mehr gespeichert" in page.locator("main").inner_text()
    )
    page.goto(address)
    assert "gibt es nicht (mehr)" in page.locator("main").inner_text()
    assert [e for e in errors if "404" not in e] == []
    page.close()
