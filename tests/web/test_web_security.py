"""Web security: hostile corpus text and questions are escaped everywhere, no response reveals paths,
secrets or tracebacks, no CORS unless configured, security headers on every kind of response."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.config import Settings
from assistant.embed.choice import STATIC_MODEL_NAME
from assistant.errors import ModelMismatch
from assistant.index.folder.releases import load_release
from assistant.index.manifest import display_model_name
from assistant.service import Assistant, open_assistant
from assistant.web.app import create_app
from assistant.web.handlers import INTERNAL_ERROR
from tests.hostile import (
    ADMIN_TOKEN,
    DOUBLE_QUOTE,
    ESCAPED_IMG,
    ESCAPED_SCRIPT,
    HOSTILE_QUESTION,
    JS_LINK,
    QUESTION,
    RAW,
    SCRIPT,
    SINGLE_QUOTE,
    TEMPLATE,
    build_hostile_release,
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, tiny_model: Path) -> Settings:
    return build_hostile_release(tmp_path_factory.mktemp("geheimer-serverpfad"), fixture_corpus, tiny_model)


@pytest.fixture(scope="module")
def client(hostile: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(hostile)) as test_client:
        yield test_client


class _Tags(HTMLParser):
    """Start tags with their attributes, as a browser's tokenizer sees them (script content is text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def assert_no_injected_markup(html: str) -> None:
    """No inline script, no event handler attribute, no javascript: URL, no injected <img>/<iframe>."""
    assert "<script>" not in html.lower() and "<img src=x" not in html.lower(), "raw markup in the page"
    for tag, attrs in tags(html):
        assert not (tag == "script" and not attrs.get("src")), "inline <script>"
        assert tag not in ("img", "iframe", "object", "embed"), f"injected <{tag}>"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"<{tag}> has event handler attributes {handlers}"
        for name in ("href", "src", "action", "formaction"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith("javascript:"), f"<{tag} {name}={value!r}>"


def assert_escaped_by_jinja(html: str) -> None:
    """The payloads of the hostile file as Jinja writes them: visible text, inert."""
    assert ESCAPED_SCRIPT in html
    assert "&#34; onmouseover=&#34;alert(1)" in html
    assert "&#39;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert TEMPLATE in html and RAW in html  # shown as written, not evaluated as a template


# -- 1. Autoescaping: hostile corpus text ---------------------------------------------------------


def test_hostile_corpus_text_is_escaped_in_the_conversation_page(client: TestClient) -> None:
    asked = client.post("/gespraech", data={"question": QUESTION}, follow_redirects=False)
    assert asked.status_code == 303
    page = client.get(asked.headers["location"].split("#")[0])
    assert page.status_code == 200 and "Quartiersbeirat berät jeden Monat" in page.text
    assert_escaped_by_jinja(page.text)
    assert_no_injected_markup(page.text)


def test_hostile_corpus_text_is_escaped_in_the_javascript_fragment(client: TestClient) -> None:
    fragment = client.post("/gespraech", data={"question": QUESTION, "fragment": "1"})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<li class="turn"')
    assert "Quartiersbeirat berät jeden Monat" in fragment.text
    assert_escaped_by_jinja(fragment.text)
    assert_no_injected_markup(fragment.text)


def test_api_answer_carries_hostile_text_verbatim_as_json(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    passage = response.json()["passages"][0]
    for payload in (SCRIPT, DOUBLE_QUOTE, SINGLE_QUOTE, TEMPLATE, RAW):
        assert payload in passage["text"], payload  # JSON is data: the text unchanged
    assert DOUBLE_QUOTE in passage["citation"]["label"]


def test_source_view_renders_hostile_markdown_inert(client: TestClient) -> None:
    passage = client.post("/api/ask", json={"question": QUESTION}).json()["passages"][0]
    url = passage["citation"]["url"].split("#")[0]
    assert url.startswith("/ansicht/beirat.md?stelle=")
    page = client.get(url)
    assert page.status_code == 200 and 'id="stelle"' in page.text
    # markdown-it escapes (html off) and writes " as &quot;; the javascript: link stays text.
    assert ESCAPED_SCRIPT in page.text and ESCAPED_IMG in page.text
    assert "&quot; onmouseover=&quot;alert(1)" in page.text and TEMPLATE in page.text and RAW in page.text
    assert JS_LINK in page.text
    assert_no_injected_markup(page.text)
    # The file itself is plain text that the browser must not sniff as HTML.
    raw = client.get("/quellen/beirat.md")
    assert raw.headers["content-type"] == "text/plain; charset=utf-8" and SCRIPT in raw.text
    assert raw.headers["x-content-type-options"] == "nosniff"


# -- 1. Autoescaping: a hostile question -----------------------------------------------------------


def test_hostile_question_is_escaped_where_it_is_echoed(client: TestClient) -> None:
    asked = client.post("/gespraech", data={"question": HOSTILE_QUESTION}, follow_redirects=False)
    conversation = asked.headers["location"].split("#")[0]
    page = client.get(conversation).text
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.startswith("Quartiersbeirat &lt;/title&gt;&#34;&gt;&lt;script&gt;alert(1)")
    assert_no_injected_markup(page)
    follow_up = client.post(conversation, data={"question": "Und wer sitzt darin?"}, follow_redirects=False)
    assert follow_up.status_code == 303
    page = client.get(conversation).text
    # Echoed in the question's heading and, with the follow-up, in "Gesucht wurde"; never as markup.
    escaped = (
        "Quartiersbeirat &lt;/title&gt;&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt; &#34; onmouseover="
    )
    assert page.count(escaped) == 1 and "&#39;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Gesucht wurde: Und wer sitzt darin?" in page
    assert_no_injected_markup(page)
    for name in ("question", "comment"):  # the fields stay empty: nothing is written into value=
        assert all(
            "alert" not in (attrs.get("value") or "")
            for tag, attrs in tags(page)
            if attrs.get("name") == name
        )

    fragment = client.post(conversation, data={"question": HOSTILE_QUESTION, "fragment": "1"})
    assert fragment.status_code == 200 and "&lt;/title&gt;&#34;&gt;&lt;script&gt;" in fragment.text
    assert_no_injected_markup(fragment.text)

    too_long = client.post("/gespraech", data={"question": HOSTILE_QUESTION * 20})
    assert too_long.status_code == 422 and "Die Frage ist zu lang" in too_long.text
    assert_no_injected_markup(too_long.text)

    answer = client.post("/api/ask", json={"question": HOSTILE_QUESTION}).json()
    assert answer["question"] == " ".join(HOSTILE_QUESTION.split())  # JSON: verbatim


# -- 2. No paths, tracebacks or secrets --------------------------------------------------------


def assert_reveals_nothing(response: httpx.Response, forbidden: list[str]) -> None:
    where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    shown = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in forbidden:
        assert secret not in shown, f"{where} reveals {secret!r}"


def assert_security_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, where
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0], where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "no-referrer", where


def test_an_internal_error_answers_500_in_german_and_reveals_nothing(
    hostile: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret_path = tmp_path / "geheimes-verzeichnis" / "kunden.sqlite3"

    def boom(self: Assistant, question: str, **_: object) -> None:
        raise RuntimeError(f"cannot open {secret_path} with token={ADMIN_TOKEN}")

    monkeypatch.setattr(Assistant, "ask", boom)
    app = create_app(hostile.model_copy(update={"database": tmp_path / "assistant.sqlite3"}))
    forbidden = [str(tmp_path), "geheimes-verzeichnis", ADMIN_TOKEN, "Traceback", 'File "', "RuntimeError"]
    # Starlette re-raises after the handler has answered (for the server to log it); the client
    # then still gets the handler's response.
    with TestClient(app, raise_server_exceptions=False) as http, caplog.at_level(logging.ERROR):
        api = http.post("/api/ask", json={"question": QUESTION})
        page = http.post("/gespraech", data={"question": QUESTION})
        fragment = http.post(
            "/gespraech", data={"question": QUESTION, "fragment": "1"}, headers={"Sec-Fetch-Mode": "cors"}
        )
    assert api.status_code == 500 and api.json() == {"detail": INTERNAL_ERROR}
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="de">' in page.text and "Interner Fehler" in page.text and "site-footer" in page.text
    assert fragment.status_code == 500 and "<html" not in fragment.text and "Interner Fehler" in fragment.text
    for response in (api, page, fragment):
        assert_reveals_nothing(response, forbidden)
        assert_security_headers(response)
    logged = [r for r in caplog.records if r.exc_info and str(secret_path) in str(r.exc_info[1])]
    assert len(logged) == 3  # the traceback stays in the server's log


def test_no_response_reveals_paths_tokens_or_tracebacks(
    hostile: Settings, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = hostile.index_dir.parent  # index, database, corpus and model all lie under it
    forbidden = [
        str(tmp_path_factory.getbasetemp()),
        root.name,
        str(tiny_model),
        ADMIN_TOKEN,
        "Traceback",
        'File "',
    ]
    assert hostile.model is not None and hostile.model.startswith(str(root))
    settings = hostile.model_copy(
        update={"database": root / "var-crawl" / "db.sqlite3", "max_body_bytes": 1024}
    )
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    responses: list[tuple[int, httpx.Response]] = []
    with TestClient(create_app(settings), raise_server_exceptions=False) as http:
        asked = http.post("/gespraech", data={"question": QUESTION}, follow_redirects=False)
        conversation = asked.headers["location"].split("#")[0]
        source = http.post("/api/ask", json={"question": QUESTION}).json()["passages"][0]["citation"]["url"]
        responses += [
            (200, http.get("/")),
            (303, asked),
            (200, http.get(conversation)),
            (200, http.post(conversation, data={"question": QUESTION, "fragment": "1"})),
            (
                303,
                http.post(f"{conversation}/1/rueckmeldung", data={"helpful": "ja"}, follow_redirects=False),
            ),
            (200, http.get(source.split("#")[0])),
            (200, http.get("/quellen/beirat.md")),
            (404, http.get("/ansicht/fehlt.md")),
            (200, http.get("/api/health")),
            (200, http.post("/api/ask", json={"question": QUESTION})),
            (201, http.post("/api/feedback", json={"question": QUESTION, "helpful": False, "comment": "x"})),
            (401, http.get("/api/feedback")),
            (401, http.get("/api/feedback", headers={"Authorization": "Bearer falsch"})),
            (200, http.get("/api/feedback", headers=auth)),
            (200, http.get("/openapi.json")),
            (200, http.get("/docs")),
            (200, http.get("/static/app.js")),
            (404, http.get("/nirgendwo")),
            (404, http.get("/api/nirgendwo")),
            (404, http.get("/gespraech/AAAAAAAAAAAAAAAAAAAAAA")),
            (405, http.get("/api/ask")),
            (405, http.put("/gespraech")),
            (422, http.post("/api/ask", json={"question": 42})),
            (422, http.post("/api/ask", content=b"{kaputt", headers={"Content-Type": "application/json"})),
            (422, http.post("/gespraech", data={"question": " "})),
            (413, http.post("/api/ask", json={"question": "x" * 4096})),
            (413, http.post("/gespraech", data={"question": "x" * 4096})),
        ]
        health = http.get("/api/health").json()
        footer = http.get("/").text
    # The store failing: a folder where the database file should be (reads and writes fail), and a
    # file where its folder should be (writes fail with the path in the exception's message).
    (root / "db-ist-ordner").mkdir(exist_ok=True)
    (root / "ordner-ist-datei").write_text("")
    for database in (root / "db-ist-ordner", root / "ordner-ist-datei" / "db.sqlite3"):
        broken = settings.model_copy(update={"database": database})
        with TestClient(create_app(broken), raise_server_exceptions=False) as http:
            responses += [
                (503, http.post("/gespraech", data={"question": QUESTION})),
                (503, http.post("/api/feedback", json={"question": QUESTION, "helpful": True})),
            ]
            if database.name == "db-ist-ordner":
                responses += [
                    (503, http.get("/gespraech/AAAAAAAAAAAAAAAAAAAAAA")),
                    (503, http.get("/api/feedback", headers=auth)),
                ]
    for status, response in responses:
        assert response.status_code == status, (response.request.url.path, response.text[:300])
        assert_reveals_nothing(response, forbidden)
    # The model, configured as a local path, is named by its folder's name only.
    assert health["model"] == "e5-klein" and "<span data-model>e5-klein</span>" in footer


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("/srv/geheim/modelle/e5-small", "e5-small"),
        ("/srv/geheim/modelle/e5-small/", "e5-small"),
        ("./modelle/e5-small", "e5-small"),
        ("~/modelle/e5-small", "e5-small"),
        ("a/b/c", "c"),
        ("C:\\Modelle\\e5-small", "e5-small"),
        ("intfloat/multilingual-e5-small", "intfloat/multilingual-e5-small"),  # a hub id
        ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
        (STATIC_MODEL_NAME, STATIC_MODEL_NAME),  # the build's fallback: no path in it
    ],
)
def test_model_display_name(name: str, shown: str) -> None:
    assert display_model_name(name) == shown


def test_a_relative_model_folder_shows_by_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "modelle" / "e5").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert display_model_name("modelle/e5") == "e5"  # looks like a hub id, but it is a folder here


def test_the_manifest_keeps_the_model_path_for_the_mismatch_check(hostile: Settings, tmp_path: Path) -> None:
    assert load_release(hostile.index_dir).model_name == hostile.model  # the full path, as built
    # Another folder with the same last name: shown alike, but still another model.
    other = tmp_path / "anderswo" / "e5-klein"
    other.mkdir(parents=True)
    with pytest.raises(ModelMismatch):
        open_assistant(hostile.model_copy(update={"model": str(other)}))


# -- 3. CORS only when configured ---------------------------------------------------------------

EVIL = "https://evil.example"
FRIEND = "https://intranet.example"


def cors_requests(http: TestClient, origin: str) -> list[httpx.Response]:
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    return [
        http.options("/api/ask", headers={**preflight, "Access-Control-Request-Headers": "content-type"}),
        http.get("/api/health", headers={"Origin": origin}),
        http.post("/api/ask", json={"question": QUESTION}, headers={"Origin": origin}),
    ]


def test_no_cors_headers_by_default(hostile: Settings, tmp_path: Path) -> None:
    assert Settings().cors_origins == []
    settings = hostile.model_copy(update={"database": tmp_path / "assistant.sqlite3"})
    with TestClient(create_app(settings)) as http:
        responses = cors_requests(http, EVIL) + cors_requests(http, FRIEND)
    assert responses[0].status_code == 405  # no preflight handling at all
    for response in responses:
        assert not any(name.startswith("access-control-") for name in response.headers), response.headers
        assert_security_headers(response)


def test_cors_for_configured_origins_only(
    hostile: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_CORS_ORIGINS", json.dumps([FRIEND]))
    assert Settings().cors_origins == [FRIEND]  # the environment variable is a JSON list
    settings = hostile.model_copy(
        update={"database": tmp_path / "assistant.sqlite3", "cors_origins": [FRIEND]}
    )
    with TestClient(create_app(settings)) as http:
        allowed = cors_requests(http, FRIEND)
        refused = cors_requests(http, EVIL)
    preflight = allowed[0]
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == FRIEND
    assert {"GET", "POST"} <= set(
        preflight.headers["access-control-allow-methods"].replace(" ", "").split(",")
    )
    assert "access-control-allow-credentials" not in preflight.headers
    assert all(r.headers["access-control-allow-origin"] == FRIEND for r in allowed)
    assert refused[0].status_code == 400
    for response in refused:
        assert "access-control-allow-origin" not in response.headers
    for response in allowed + refused:
        assert_security_headers(response)


# -- 4. Security headers everywhere, no inline script, no way out of the sources ---------------


def test_security_headers_and_no_inline_script_on_every_kind_of_response(
    client: TestClient, hostile: Settings
) -> None:
    asked = client.post("/gespraech", data={"question": QUESTION}, follow_redirects=False)
    conversation = asked.headers["location"].split("#")[0]
    pages = [
        client.get("/"),
        client.get(conversation),
        client.post(conversation, data={"question": QUESTION, "fragment": "1"}),
        client.get("/ansicht/beirat.md"),
        client.get("/ansicht/fehlt.md"),  # 404 page
        client.get("/nirgendwo"),  # 404 page
        client.put("/gespraech"),  # 405 page
        client.post("/gespraech", data={"question": ""}),  # 422 page
        client.get("/docs"),
    ]
    others = [
        asked,  # 303
        client.get("/static/app.js"),
        client.get("/static/app.css"),
        client.get("/quellen/beirat.md"),
        client.get("/api/health"),
        client.get("/api/nirgendwo"),
        client.get("/api/ask"),
        client.post("/api/ask", json={}),
        client.get("/openapi.json"),
    ]
    for response in pages + others:
        assert_security_headers(response)
    for response in pages:
        assert response.headers["content-type"].startswith("text/html")
        assert_no_injected_markup(response.text)
    # /docs alone allows inline styles (Swagger UI sets them); scripts stay 'self' there too.
    assert "style-src 'self' 'unsafe-inline'" in pages[-1].headers["content-security-policy"]
    assert "style-src 'self';" in pages[0].headers["content-security-policy"]


def test_no_way_out_of_the_recorded_sources(client: TestClient, hostile: Settings) -> None:
    root = hostile.index_dir.parent
    outside = root / "aussen"
    outside.mkdir(exist_ok=True)
    (outside / "geheim.md").write_text("# Geheim\n\nStreng geheimer Inhalt außerhalb des Korpus.\n")
    # A link inside the corpus to a folder outside it, made after the build: nothing behind it is
    # served, because only keys recorded at build time are looked up, never joined to a path.
    link = hostile.corpus_dir / "aussen-link"
    if not link.exists():
        link.symlink_to(outside, target_is_directory=True)
    corpus = hostile.corpus_dir.name
    for prefix in ("/quellen/", "/ansicht/"):
        for path in (
            "aussen-link/geheim.md",
            "../aussen/geheim.md",
            "%2e%2e/aussen/geheim.md",
            "%2E%2E%2Faussen%2Fgeheim.md",
            "%252e%252e%252faussen%252fgeheim.md",  # double-encoded
            "..%5caussen%5cgeheim.md",  # backslash
            f"{corpus}/../aussen/geheim.md",
            f"%2F{str(outside / 'geheim.md').lstrip('/')}",  # an absolute path, encoded
            f"/{outside / 'geheim.md'}",  # an absolute path
            "beirat.md%00.txt",
        ):
            response = client.get(prefix + path)
            assert response.status_code == 404, (prefix + path, response.status_code)
            assert "Streng geheimer Inhalt" not in response.text


# -- 5. No state changes from another site's page (cross-site request forgery) -------------------


def test_a_cross_site_post_changes_nothing_and_is_refused_in_german(
    fixture_release: Settings, tmp_path: Path
) -> None:
    settings = fixture_release.model_copy(
        update={
            "database": tmp_path / "assistant.sqlite3",
            "admin_token": SecretStr("geheim-123"),
            "cors_origins": [FRIEND],
        }
    )
    question = {"question": "Wer entscheidet über den Quartiersfonds?"}
    with TestClient(create_app(settings)) as http:
        # The visitor's own conversation, started from the app's page (a browser says so).
        mine = http.post(
            "/gespraech", data=question, headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False
        )
        assert mine.status_code == 303
        address = mine.headers["location"].split("#")[0]
        forged = [
            ("/gespraech", {"Sec-Fetch-Site": "cross-site"}),
            ("/gespraech", {"Origin": EVIL}),  # an older browser: Origin only
            ("/gespraech", {"Sec-Fetch-Site": "same-site", "Origin": "https://andere.example"}),
            (address, {"Sec-Fetch-Site": "cross-site", "Origin": EVIL}),
            (f"{address}/1/rueckmeldung", {"Sec-Fetch-Site": "cross-site"}),
            (f"{address}/loeschen", {"Sec-Fetch-Site": "cross-site", "Origin": EVIL}),
            (f"{address}/loeschen", {"Origin": "null"}),  # a sandboxed page
            (f"{address}/loeschen", {"Sec-Fetch-Site": "cross-site", "Origin": FRIEND}),  # CORS: the API only
        ]
        for path, headers in forged:
            data = {"helpful": "ja", **question} if "rueckmeldung" in path else question
            refused = http.post(path, data=data, headers=headers, follow_redirects=False)
            assert refused.status_code == 403, (path, headers)
            assert "anderen Website" in refused.text and "<html" in refused.text
        api = http.post("/api/feedback", json={**question, "helpful": True}, headers={"Origin": EVIL})
        assert api.status_code == 403 and "anderen Website" in api.json()["detail"]
        # Nothing changed: the conversation has its one turn, no rating was stored.
        page = http.get(address)
        assert page.status_code == 200 and page.text.count('class="turn"') == 1
        stored = http.get("/api/feedback", headers={"Authorization": "Bearer geheim-123"}).json()
        assert stored == []
        # What may pass: the app's own pages, a typed address, non-browser clients, and a page of a
        # configured CORS origin calling the JSON API.
        for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://testserver"}, {}):
            ok = http.post(address, data=question, headers=headers, follow_redirects=False)
            assert ok.status_code == 303, headers
        friend = http.post("/api/feedback", json={**question, "helpful": True}, headers={"Origin": FRIEND})
        assert friend.status_code == 201
        assert http.post("/api/ask", json=question, headers={"Sec-Fetch-Site": "none"}).status_code == 200
