"""The operator area over HTTP: nothing without a login or token, cookies and form tokens, the
slow-down after failed logins, uploads and rebuilds through the API and the pages, live progress,
a failed build that changes nothing, and the audit log."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.cli import main
from assistant.config import Settings
from assistant.operators import open_operator_store
from assistant.web.app import create_app
from tests.pdfs import write_pdf

PASSWORD = "Verwaltung-ist-sicher-42"
UPLOAD_TEXT = (
    "Die Zaunkönig-Werkstatt im Quartier repariert Fahrräder mit Jugendlichen. Dieses Beispiel ist "
    "fiktiv und dient nur dem Test des Hochladens."
)
QUESTION = "Wer repariert in der Zaunkönig-Werkstatt Fahrräder?"


@pytest.fixture
def admin(index_copy: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, str, Settings]]:
    """The app with an operator 'anna' and her API token; yields (client, token, settings)."""
    settings = index_copy.model_copy(update={"upload_dir": tmp_path / "uploads", "reload_interval": 0})
    store = open_operator_store(settings)
    store.add_operator("anna", PASSWORD)
    token = store.new_token("anna")
    with TestClient(create_app(settings)) as http:
        yield http, token, settings


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for_build(http: TestClient, token: str, status_url: str, seconds: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state: dict[str, object] = http.get(status_url, headers=bearer(token)).json()
        if state["state"] != "running":
            return state
        time.sleep(0.3)
    raise AssertionError("the build did not finish")


def asked(http: TestClient, question: str = QUESTION) -> list[str]:
    answer = http.post("/api/ask", json={"question": question, "k": 3}).json()
    return [p["citation"]["document"] for p in answer["passages"]]


ROUTES = [
    ("GET", "/api/admin/documents"),
    ("POST", "/api/admin/documents"),
    ("DELETE", "/api/admin/documents/quartier.md"),
    ("POST", "/api/admin/builds"),
    ("GET", "/api/admin/builds/abc"),
    ("GET", "/api/admin/builds/abc/events"),
]


def test_without_a_token_or_login_every_route_answers_401_and_changes_nothing(
    admin: tuple[TestClient, str, Settings],
) -> None:
    http, _, settings = admin
    for method, path in ROUTES:
        for headers in ({}, bearer("qmv_falsch"), bearer("")):
            files = {"files": ("a.md", b"# A\n\nText")} if method == "POST" and "documents" in path else None
            response = http.request(method, path, headers=headers, files=files)
            assert response.status_code in (401, 403), (method, path, response.status_code)
            assert response.json()["detail"]
    assert not settings.upload_dir.exists()
    assert open_operator_store(settings).builds() == []
    for page in (
        "/verwaltung",
        "/verwaltung/protokoll",
        "/verwaltung/dokumente/a.md",
        "/verwaltung/neubau/x",
    ):
        response = http.get(page, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/verwaltung/anmelden")
    for page in ("/verwaltung/neubau", "/verwaltung/dokumente", "/verwaltung/dokumente/quartier.md/loeschen"):
        assert http.post(page, data={"csrf": "x"}, follow_redirects=False).status_code == 303
    assert open_operator_store(settings).builds() == [] and not settings.upload_dir.exists()


def test_upload_rebuild_ask_delete_over_the_api(
    admin: tuple[TestClient, str, Settings], tmp_path: Path
) -> None:
    http, token, settings = admin
    served = http.get("/api/health").json()["build_id"]
    pdf = write_pdf(
        tmp_path / "werkstatt.pdf", [[UPLOAD_TEXT[:80], UPLOAD_TEXT[80:]]], title="Werkstattbericht"
    )
    stored = http.post(
        "/api/admin/documents",
        headers=bearer(token),
        files=[("files", ("werkstatt.pdf", pdf.read_bytes(), "application/pdf"))],
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["stored"] == ["werkstatt.pdf"]
    listed = http.get("/api/admin/documents", headers=bearer(token)).json()["documents"]
    row = next(d for d in listed if d["name"] == "werkstatt.pdf")
    assert row["in_index"] is False and row["added_by"] == "anna" and row["pages"] == 1
    assert "Werkstattbericht" not in asked(http)

    started = http.post("/api/admin/builds", headers=bearer(token))
    assert started.status_code == 202 and started.headers["location"] == started.json()["status_url"]
    assert http.post("/api/admin/builds", headers=bearer(token)).status_code in (409, 202)
    done = wait_for_build(http, token, started.headers["location"])
    assert done["state"] == "done", done
    assert http.get("/api/health").json()["build_id"] not in (served, None)
    assert asked(http)[0] == "Werkstattbericht"
    listed = http.get("/api/admin/documents", headers=bearer(token)).json()["documents"]
    assert next(d for d in listed if d["name"] == "werkstatt.pdf")["passages"] >= 1

    assert http.delete("/api/admin/documents/werkstatt.pdf", headers=bearer(token)).status_code == 204
    assert http.delete("/api/admin/documents/werkstatt.pdf", headers=bearer(token)).status_code == 404
    assert http.delete("/api/admin/documents/quartier.md", headers=bearer(token)).status_code == 404
    again = http.post("/api/admin/builds", headers=bearer(token))
    assert wait_for_build(http, token, again.headers["location"])["state"] == "done"
    assert "Werkstattbericht" not in asked(http)
    actions = [(e.actor, e.action) for e in open_operator_store(settings).audit_log()]
    assert ("anna", "hochgeladen") in actions and ("anna", "gelöscht") in actions
    assert actions.count(("anna", "Neubau fertig")) == 2
    log_text = " ".join(f"{e.actor} {e.action} {e.target}" for e in open_operator_store(settings).audit_log())
    assert "Zaunkönig" not in log_text and "repariert" not in log_text, (
        "no visitor's question in the audit log"
    )


def test_progress_streams_as_server_sent_events(admin: tuple[TestClient, str, Settings]) -> None:
    http, token, _ = admin
    started = http.post("/api/admin/builds", headers=bearer(token)).json()
    with http.stream("GET", f"{started['status_url']}/events", headers=bearer(token)) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    events = re.findall(r"^event: (\w+)$", text, flags=re.MULTILINE)
    assert events[0] == "progress" and events[-1] == "end"
    assert '"state":"done"' in text.replace(" ", "")
    assert '"phase":"embedding"' in text or '"phase":"loading"' in text


def test_a_failed_build_says_why_and_leaves_the_served_release(
    admin: tuple[TestClient, str, Settings], tmp_path: Path
) -> None:
    http, token, settings = admin
    served = http.get("/api/health").json()["build_id"]
    empty = tmp_path / "leer"
    empty.mkdir()
    http.app.state.builds.settings = settings.model_copy(update={"corpus_dir": empty})  # type: ignore[attr-defined]
    started = http.post("/api/admin/builds", headers=bearer(token))
    state = wait_for_build(http, token, started.headers["location"])
    assert state["state"] == "failed" and "keine Passagen" in str(state["message"])
    assert http.get("/api/health").json()["build_id"] == served
    assert asked(http, "Was ist ein Quartiersfonds?")


def test_login_sets_a_strict_cookie_and_every_form_needs_its_token(
    admin: tuple[TestClient, str, Settings],
) -> None:
    http, _, settings = admin
    page = http.get("/verwaltung/anmelden")
    assert page.status_code == 200 and 'autocomplete="current-password"' in page.text
    wrong = http.post("/verwaltung/anmelden", data={"name": "anna", "password": "falsch-falsch-1"})
    assert wrong.status_code == 401 and "Name oder Passwort ist falsch." in wrong.text
    login = http.post(
        "/verwaltung/anmelden",
        data={"name": "anna", "password": PASSWORD, "weiter": "//evil.example/verwaltung"},
        follow_redirects=False,
    )
    assert login.status_code == 303 and login.headers["location"] == "/verwaltung", "no open redirect"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    documents = http.get("/verwaltung")
    assert documents.status_code == 200 and "quartier.md" in documents.text
    assert documents.headers["cache-control"] == "no-store"
    csrf = re.search(r'name="csrf" value="([^"]+)"', documents.text).group(1)  # type: ignore[union-attr]

    files = {"files": ("notiz.md", f"# Notiz\n\n{UPLOAD_TEXT}\n".encode())}
    for token in ("", "falsch"):
        refused = http.post("/verwaltung/dokumente", data={"csrf": token}, files=files)
        assert refused.status_code == 403 and "Formular" in refused.text
    assert http.post("/verwaltung/neubau", data={}, follow_redirects=False).status_code == 403
    # The API with the cookie instead of a token needs the form token as a header.
    assert http.post("/api/admin/builds").status_code == 403
    assert not settings.upload_dir.exists() and open_operator_store(settings).builds() == []

    uploaded = http.post("/verwaltung/dokumente", data={"csrf": csrf}, files=files)
    assert uploaded.status_code == 200 and "1 Datei(en) gespeichert" in uploaded.text
    read = http.get("/verwaltung/dokumente/notiz.md")
    assert read.status_code == 200 and "Passagen (1)" in read.text
    assert http.post("/verwaltung/dokumente/notiz.md/loeschen", data={"csrf": "x"}).status_code == 403
    deleted = http.post(
        "/verwaltung/dokumente/notiz.md/loeschen", data={"csrf": csrf}, follow_redirects=False
    )
    assert deleted.status_code == 303 and not (settings.upload_dir / "notiz.md").exists()

    out = http.post("/verwaltung/abmelden", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    http.cookies.set("qm_verwaltung", cookie.split(";")[0].split("=", 1)[1])  # the old cookie, replayed
    assert http.get("/verwaltung", follow_redirects=False).status_code == 303, "logout ends the session"


def test_the_cookie_is_secure_behind_https(index_copy: Settings, tmp_path: Path) -> None:
    settings = index_copy.model_copy(update={"upload_dir": tmp_path / "u", "trusted_proxies": ["*"]})
    open_operator_store(settings).add_operator("anna", PASSWORD)
    with TestClient(create_app(settings)) as http:
        login = http.post(
            "/verwaltung/anmelden",
            data={"name": "anna", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
            follow_redirects=False,
        )
    assert login.status_code == 303 and "Secure" in login.headers["set-cookie"]


def test_failed_logins_slow_down_the_next(admin: tuple[TestClient, str, Settings]) -> None:
    http, _, _ = admin
    statuses = [
        http.post("/verwaltung/anmelden", data={"name": "anna", "password": f"falsch-{i}-falsch"}).status_code
        for i in range(6)
    ]
    assert statuses[:4] == [401] * 4 and statuses[4:] == [429, 429]
    slowed = http.post("/verwaltung/anmelden", data={"name": "anna", "password": PASSWORD})
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
    assert "Zu viele fehlgeschlagene Anmeldungen" in slowed.text


def test_an_upload_over_the_limit_is_refused_before_it_is_read(index_copy: Settings, tmp_path: Path) -> None:
    settings = index_copy.model_copy(update={"upload_dir": tmp_path / "u", "max_upload_mb": 1})
    store = open_operator_store(settings)
    store.add_operator("anna", PASSWORD)
    token = store.new_token("anna")
    with TestClient(create_app(settings)) as http:
        big = ("Quartier " * 300_000).encode()
        response = http.post(
            "/api/admin/documents", headers=bearer(token), files={"files": ("gross.txt", big)}
        )
    assert response.status_code == 413 and "höchstens 1 MB" in response.json()["detail"]
    assert not settings.upload_dir.exists()


def test_the_admin_routes_are_documented(admin: tuple[TestClient, str, Settings]) -> None:
    http, _, _ = admin
    paths = http.get("/openapi.json").json()["paths"]
    assert {
        "/api/admin/documents",
        "/api/admin/documents/{name}",
        "/api/admin/builds",
        "/api/admin/builds/{build_id}",
    } <= set(paths)
    assert "multipart/form-data" in paths["/api/admin/documents"]["post"]["requestBody"]["content"]


def test_admin_commands_add_users_and_print_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASSISTANT_DATABASE", str(tmp_path / "store.sqlite3"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["admin", "add-user", "berta"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("kurz\n"))
    assert main(["admin", "add-user", "carla"]) == 2
    assert "mindestens" in capsys.readouterr().err
    assert main(["admin", "token", "berta"]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["admin", "token", "niemand"]) == 1
    settings = Settings(database=tmp_path / "store.sqlite3")
    assert open_operator_store(settings).token(token).name == "berta"  # type: ignore[union-attr]
    assert main(["admin", "users"]) == 0 and capsys.readouterr().out.split() == ["berta"]
    assert main(["admin", "audit"]) == 0 and "Token erstellt" in capsys.readouterr().out


def test_add_user_reads_the_password_from_a_pipe(tmp_path: Path) -> None:
    env = {"ASSISTANT_DATABASE": str(tmp_path / "s.sqlite3"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "admin", "add-user", "dora"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    store = open_operator_store(Settings(database=tmp_path / "s.sqlite3"))
    assert store.login("dora", PASSWORD, "c")[1].name == "dora"
    _ = httpx  # the client library the app's tests use elsewhere
