"""Every address the app writes comes from ``web/urls.py``: no template, script or web module types
out a route of its own (issue 28: "/gespraech typed out 13 times")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The app's own address prefixes; each is declared once, in web/urls.py.
PREFIXES = ("/gespraech", "/verwaltung", "/ansicht", "/quellen", "/datenschutz", "/api/admin", "/docs")
_ALTERNATIVES = "|".join(re.escape(p) for p in PREFIXES)
# A quoted string (a double backtick is reStructuredText in a docstring, prose, not code).
ROUTE = re.compile(r"""(?<!`)["'`](?!`)(?:""" + _ALTERNATIVES + r""")(?:[/"'`?#{]|$)""")


def sources() -> list[Path]:
    web = ROOT / "assistant" / "web"
    files = [p for p in web.glob("*.py") if p.name != "urls.py"]
    return [*files, *(ROOT / "web" / "templates").rglob("*.html"), ROOT / "web" / "static" / "app.js"]


def test_no_route_is_typed_out_outside_urls_py() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ROUTE.search(line) and not line.lstrip().startswith(("#", "//", '"""'))
    ]
    assert found == [], "\n".join(found)


def test_the_check_finds_a_typed_out_route() -> None:
    assert ROUTE.search('<a href="/gespraech/{{ id }}">') and ROUTE.search('RedirectResponse("/verwaltung")')
    assert not ROUTE.search("the conversation's address (/gespraech/ID) in prose")
    assert not ROUTE.search("its own address, ``/gespraech/<id>``, in a docstring")
