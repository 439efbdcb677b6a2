"""Every address the app writes comes from ``web/urls.py``: no template, script or web module types
out a route of its own (issue 28: "/gespraech typed out 13 times")."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "assistant" / "web"
#: The app's own address prefixes; each is declared once, in web/urls.py.
PREFIXES = (
    "/gespraech",
    "/verwaltung",
    "/ansicht",
    "/quellen",
    "/datenschutz",
    "/api",
    "/docs",
    "/static",
    "/openapi.json",
)
_ALTERNATIVES = "|".join(re.escape(p) for p in PREFIXES)
# A quoted string (a double backtick is reStructuredText in a docstring, prose, not code).
ROUTE = re.compile(r"""(?<!`)["'`](?!`)(?:""" + _ALTERNATIVES + r""")(?:[/"'`?#{]|$)""")
# In a template's text also an unquoted one (``<code>/api/ask</code>``): a prefix that follows no word,
# address or Jinja expression (``{{ urls.CONVERSATION }}/…`` is fine).
IN_TEXT = re.compile(r"""(?<![\w.:/}-])(?:""" + _ALTERNATIVES + r""")(?=[/"'`?#{<\s&.,;)]|$)""")
# In a web module's strings: anything that starts like a path (``"/documents"``, ``"/{name}"``), or a path
# in a sentence (``"bitte unter /verwaltung anmelden"``). A lone "/" (a cookie's path, rstrip) is not one.
PATH = re.compile(r"(?:^|[\s(])/[\w{]")


def sources() -> list[Path]:
    files = [p for p in WEB.glob("*.py") if p.name != "urls.py"]
    return [*files, *templates(), ROOT / "web" / "static" / "app.js"]


def templates() -> list[Path]:
    return sorted((ROOT / "web" / "templates").rglob("*.html"))


def test_no_route_is_typed_out_outside_urls_py() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ROUTE.search(line) and not line.lstrip().startswith(("#", "//", '"""'))
    ]
    assert found == [], "\n".join(found)


def test_no_template_writes_an_address_in_its_text() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in templates()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if IN_TEXT.search(line)
    ]
    assert found == [], "\n".join(found)


def typed_out(source: str) -> Iterator[tuple[int, str]]:
    """The strings of a module (not its docstrings) that spell out a path: (line, string)."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.body and isinstance(node.body[0], ast.Expr):
                skipped.add(id(node.body[0].value))  # a docstring: prose
        elif isinstance(node, ast.JoinedStr):
            # An f-string is checked whole, a placeholder for each value: f"{ADMIN}/x" builds on urls.py.
            skipped.update(id(value) for value in node.values)
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            if PATH.search(text):
                yield node.lineno, text
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            if PATH.search(node.value):
                yield node.lineno, node.value


def test_no_web_module_spells_out_a_path_outside_urls_py() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:100]!r}"
        for path in sorted(WEB.glob("*.py"))
        if path.name != "urls.py"
        for line, text in typed_out(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "\n".join(found)


def test_the_check_finds_a_typed_out_route() -> None:
    assert ROUTE.search('<a href="/gespraech/{{ id }}">') and ROUTE.search('RedirectResponse("/verwaltung")')
    assert not ROUTE.search("the conversation's address (/gespraech/ID) in prose")
    assert not ROUTE.search("its own address, ``/gespraech/<id>``, in a docstring")
    assert IN_TEXT.search("(<code>/api/ask</code>)") and IN_TEXT.search("mit <code>DELETE /api/x</code>")
    assert IN_TEXT.search("meldet sich unter /verwaltung an")
    assert not IN_TEXT.search("<code>{{ urls.CONVERSATION }}/…</code>")
    assert not IN_TEXT.search("https://example.org/api/ask and /apinfo")


def test_the_check_finds_a_path_spelled_out_in_a_module() -> None:
    module = '''"""Docstring naming ``POST /api/ask`` and /gespraech in prose."""
router = APIRouter(prefix="/api")
@router.get("/documents/{name}")
def f() -> None:
    """A function's docstring: /verwaltung."""
    path = f"{CONVERSATION}/{{conversation}}"
    refusal = "Bitte unter /verwaltung anmelden."
    built = f"{ADMIN}/loeschen" + f"/neubau/{build}"
    cookie, cut = "/", key.rstrip("/")
'''
    assert sorted(line for line, _ in typed_out(module)) == [2, 3, 7, 8]
