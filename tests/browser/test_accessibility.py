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
def test_chat_states_have_no_axe_violations(browser, server, scheme: str) -> None:
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
    assert violations(page) == [], "answer and no-match turns"
    page.goto(server + "/")
    page.fill("#frage", " ")
    page.evaluate("document.getElementById('frage').removeAttribute('required')")
    with page.expect_navigation():
        page.evaluate("document.getElementById('frageformular').submit()")
    assert page.locator("#fehler").count() == 1
    assert violations(page) == [], "error message"
    context.close()


def test_the_check_itself_finds_violations(browser) -> None:
    """A page with known faults: the harness must report them, or the tests above prove nothing."""
    page = browser.new_page()
    page.set_content('<html><body><img src="data:,"><input type="text"></body></html>')
    found = " ".join(violations(page))
    assert "image-alt" in found and "label" in found and "html-has-lang" in found
    page.close()
