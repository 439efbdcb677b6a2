"""WCAG 2.1 A/AA checks with axe-core on the chat's states (light and dark colour schemes)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  return result.violations.map(
    v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
}"""


def violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE)  # type: ignore[no-any-return]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_chat_states_have_no_axe_violations(browser, server, scheme: str, shot) -> None:
    # The test injects axe itself, which the app's CSP would rightly refuse; the app's own pages are
    # checked as served otherwise.
    context = browser.new_context(bypass_csp=True, color_scheme=scheme)
    page = context.new_page()
    page.goto(server + "/")
    assert violations(page) == [], "empty chat"
    page.fill("#frage", "Wer entscheidet über den Quartiersfonds?")
    page.press("#frage", "Enter")
    page.locator("li.turn").first.wait_for()
    page.fill("#frage", "Rezept für Apfelkuchen")
    page.press("#frage", "Enter")
    page.locator("li.turn").nth(1).wait_for()
    page.locator("li.turn").first.locator("details.copy summary").first.press("Enter")  # copies by keyboard
    page.evaluate("document.querySelectorAll('details.copy')[1].open = true")  # the no-clipboard fallback
    assert violations(page) == [], "answer, no-match turn, open quotation"
    shot(page, scheme)
    page.locator("li.turn").first.get_by_role("button", name="Hilfreich", exact=True).click()
    page.locator("li.turn .thanks").wait_for()
    assert violations(page) == [], "feedback given"
    page.reload()
    assert violations(page) == [], "conversation page after a reload"
    page.goto(server + "/")
    page.fill("#frage", " ")
    page.evaluate("document.getElementById('frage').removeAttribute('required')")
    with page.expect_navigation():
        page.evaluate("document.getElementById('frageformular').submit()")
    assert page.locator("#fehler").count() == 1
    assert violations(page) == [], "error message"
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_other_pages_have_no_axe_violations(browser, server, scheme: str, shot) -> None:
    context = browser.new_context(bypass_csp=True, color_scheme=scheme)
    page = context.new_page()
    page.goto(server + "/")
    page.fill("#frage", "Wo ist das Büro vor Ort?")
    page.press("#frage", "Enter")
    href = page.locator("li.turn a.open").first.get_attribute("href")
    page.goto(server + href)
    assert page.locator("#stelle").count() == 1
    assert violations(page) == [], "source view with the passage highlighted"
    page.goto(server + "/ansicht/quartier.md?stelle=0000000000000000")
    assert violations(page) == [], "source view, place no longer there"
    page.goto(server + "/")
    page.fill("#frage", "Was ist ein Quartiersfonds?")
    page.press("#frage", "Enter")
    page.locator("li.turn").first.wait_for()
    page.get_by_role("link", name="Gespräch löschen").click()
    page.wait_for_load_state()
    assert violations(page) == [], "confirming the deletion of a conversation"
    page.get_by_role("button", name="Endgültig löschen").click()
    page.wait_for_load_state()
    assert violations(page) == [], "conversation deleted"
    page.goto(server + "/datenschutz")
    assert violations(page) == [], "privacy notice"
    shot(page, f"privacy-{scheme}")
    page.goto(server + "/gespraech/AAAAAAAAAAAAAAAAAAAAAA")
    assert violations(page) == [], "unknown conversation"
    page.goto(server + "/gibt-es-nicht")
    assert violations(page) == [], "404 page"
    page.goto(server + "/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    page.locator(".swagger-ui .opblock-summary-control").first.click()  # one operation opened
    page.locator(".swagger-ui .opblock-body").first.wait_for()
    assert violations(page) == [], "API documentation (Swagger UI)"
    shot(page, f"docs-{scheme}")
    context.close()


def test_the_check_itself_finds_violations(browser) -> None:
    """A page with known faults: the harness must report them, or the tests above prove nothing."""
    page = browser.new_page()
    page.set_content('<html><body><img src="data:,"><input type="text"></body></html>')
    found = " ".join(violations(page))
    assert "image-alt" in found and "label" in found and "html-has-lang" in found
    page.close()
