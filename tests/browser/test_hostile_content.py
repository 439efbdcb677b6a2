"""Hostile corpus text and questions in a real browser: nothing runs, nothing is injected, and the
CSP never has to step in (a violation would mean markup got through the escaping)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from tests.browser.conftest import serving
from tests.hostile import HOSTILE_QUESTION, QUESTION, SCRIPT, build_hostile_release

pytestmark = pytest.mark.browser

# Runs before the page's own scripts, unaffected by the page's CSP: records every CSP violation.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  event => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""
INJECTED = (
    "img[src=x], script:not([src]), iframe, [onerror], [onmouseover], "
    "a[href^='javascript:' i], iframe[src^='javascript:' i]"
)


@pytest.fixture(scope="module")
def hostile_server(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, tiny_model: Path
) -> Iterator[str]:
    settings: Settings = build_hostile_release(
        tmp_path_factory.mktemp("geheimer-serverpfad"), fixture_corpus, tiny_model
    )
    with serving(settings) as base:
        yield base


def watch(page) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    dialogs: list[str] = []
    errors: list[str] = []

    def dialog(d) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(RECORD_VIOLATIONS)
    return dialogs, errors


def assert_inert(page, dialogs: list[str], errors: list[str]) -> None:  # type: ignore[no-untyped-def]
    # Hovering the hostile text would fire an injected onmouseover.
    for selector in ("li.turn h2.question", ".passage-text", "h3.citation", "article.source"):
        if page.locator(selector).count():
            page.locator(selector).first.hover()
    page.wait_for_timeout(200)  # an <img onerror> fires once its (failing) load is done
    assert page.evaluate(f"document.querySelectorAll({INJECTED!r}).length") == 0
    assert page.evaluate("window.__violations") == []
    assert dialogs == [] and errors == []


def test_hostile_text_and_questions_stay_inert_in_the_browser(browser, hostile_server) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    dialogs, errors = watch(page)
    page.goto(hostile_server + "/")

    # The JavaScript path: each answer is a fragment inserted with insertAdjacentHTML.
    for number, question in enumerate((QUESTION, HOSTILE_QUESTION), start=1):
        page.fill("#frage", question)
        page.press("#frage", "Enter")
        page.locator("li.turn").nth(number - 1).wait_for()
    assert_inert(page, dialogs, errors)
    first = page.locator("li.turn").first
    assert SCRIPT in first.locator(".passage-text").first.inner_text()  # shown as text
    assert "<script>alert(1)</script>" in page.locator("li.turn h2.question").nth(1).inner_text()

    # The same conversation rendered by the server (a reload), with the hostile question in <title>.
    page.reload()
    assert page.locator("li.turn").count() == 2 and "</title>" in page.title()
    assert_inert(page, dialogs, errors)

    # The source, rendered from the hostile Markdown.
    page.goto(hostile_server + first.locator("a.open").first.get_attribute("href"))
    assert_inert(page, dialogs, errors)
    assert page.locator("#stelle").is_visible() and SCRIPT in page.locator("#stelle").inner_text()
    page.close()
