"""Hostile and odd input to the JSON API: every case gets a 4xx with a German message, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.web.app import create_app


@pytest.fixture(scope="module")
def client(fixture_release: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    database: Path = tmp_path_factory.mktemp("hostile") / "assistant.sqlite3"
    settings = fixture_release.model_copy(update={"database": database})  # the default body limit
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def refused(response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["detail"]


@pytest.mark.parametrize(
    "question",
    [
        "Wer entscheidet\x00 über den Quartiersfonds?",
        "\x00",
        "Frage\x07\x1b[31m",
        "Frage\x7f",
        "Frage\x9b31m",
    ],
    ids=["null byte inside", "only a null byte", "bell and escape", "delete", "C1 control"],
)
def test_control_characters_in_a_question_are_refused(client: TestClient, question: str) -> None:
    refused(client.post("/api/ask", json={"question": question}), 422, "Steuerzeichen")


def test_control_characters_in_the_history_are_refused(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "Und wer?", "history": ["Quartiers\x00fonds"]})
    refused(response, 422, "frühere Frage enthält Steuerzeichen")


def test_control_characters_in_feedback_are_refused(client: TestClient) -> None:
    refused(
        client.post("/api/feedback", json={"question": "Frage\x00", "helpful": True}), 422, "Steuerzeichen"
    )
    refused(
        client.post("/api/feedback", json={"question": "Frage", "helpful": True, "passage_ids": ["a\x00"]}),
        422,
        "Passagen-ID enthält Steuerzeichen",
    )


@pytest.mark.parametrize(
    "question",
    [
        "Wer entscheidet über den Quartiersfonds? 🤔🏘️👩‍👩‍👧",
        "من يقرر بشأن صندوق الحي؟",  # right-to-left (Arabic)
        "\u202eWer entscheidet über den Quartiersfonds?\u202c",  # right-to-left override
        "Quartiersfonds\u200b\ufeff\u200d",  # zero-width characters
        "Wer\tentscheidet\r\nüber den Quartiersfonds?",  # whitespace controls are whitespace
    ],
    ids=["emoji", "arabic", "rtl override", "zero width", "tabs and line breaks"],
)
def test_unusual_but_harmless_text_is_answered(client: TestClient, question: str) -> None:
    # Text a person may paste is a question like any other: an answer (or "no match"), not an error.
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["passages"], list)


def test_a_100000_character_question_is_refused_as_too_long(client: TestClient) -> None:
    refused(client.post("/api/ask", json={"question": "ä" * 100_000}), 422, "Die Frage ist zu lang")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": 42}, "question"),
        ({"question": None}, "question"),
        ({"question": ["Wer", "entscheidet?"]}, "question"),
        ({"question": {"text": "Wer?"}}, "question"),
        ({"question": "Frage", "k": "viele"}, "k"),
        ({"question": "Frage", "k": 2.5}, "k"),
        ({"question": "Frage", "history": "keine Liste"}, "history"),
        ({"question": "Frage", "history": [1, 2]}, "history.0"),
        ({"question": "Wer?", "helpful": "ja"}, "helpful"),
    ],
)
def test_wrong_types_are_refused_naming_the_field(client: TestClient, payload: dict, field: str) -> None:
    path = "/api/feedback" if "helpful" in payload else "/api/ask"
    response = client.post(path, json=payload)
    refused(response, 422, "Ungültige Anfrage")
    assert f"{field}:" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b"{nicht json",
        b'{"question": "Frage",}',
        b"\xff\xfe\x00{",
        b'{"question": "\xc3("}',
        b'{"question": "\\ud83d", "helpful": true}',
        b"null",
        b"1e999",
    ],
    ids=[
        "broken",
        "trailing comma",
        "not utf-8",
        "invalid utf-8 in a string",
        "lone surrogate",
        "null",
        "huge number",
    ],
)
@pytest.mark.parametrize("path", ["/api/ask", "/api/feedback"])
def test_invalid_json_is_refused(client: TestClient, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    refused(response, 422, "Ungültige Anfrage")


def test_an_oversized_body_is_refused_before_it_is_parsed(client: TestClient) -> None:
    body = json.dumps({"question": "Frage", "history": ["x" * 1000] * 300}).encode()
    assert len(body) > 256 * 1024
    response = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    refused(response, 413, "Die Anfrage ist zu groß (höchstens 262144 Bytes)")
    # The refusal carries the security headers like every other response.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_an_oversized_chunked_body_without_content_length_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # a generator: httpx sends it chunked, with no Content-Length
        yield b'{"question": "Frage", "history": ['
        for _ in range(300):  # 300 kB
            yield b'"' + b"x" * 1000 + b'",'
        yield b'"x"]}'

    response = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    refused(response, 413, "Die Anfrage ist zu groß")


def test_a_chunked_body_under_the_limit_is_answered(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "Wer entscheidet'
        yield ' über den Quartiersfonds?"}'.encode()

    response = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["passages"]


def test_an_oversized_web_chat_form_gets_a_page(client: TestClient) -> None:
    response = client.post("/", data={"question": "x" * 300_000})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "Die Anfrage ist zu groß" in response.text


@pytest.mark.parametrize("k", [0, -1, 21, 10**40])
def test_k_out_of_range_is_refused(client: TestClient, k: int) -> None:
    refused(client.post("/api/ask", json={"question": "Frage", "k": k}), 422, "k muss zwischen 1 und 20")


def test_too_long_a_history_is_refused(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "Frage", "history": ["Frage"] * 21})
    refused(response, 422, "Zu viele frühere Fragen (höchstens 20)")


@pytest.mark.parametrize(("limit", "offset"), [("viele", "0"), ("0", "0"), ("10", "-1"), ("1e99", "0")])
def test_bad_feedback_paging_is_refused(fixture_release: Settings, tmp_path: Path, limit, offset) -> None:
    from pydantic import SecretStr

    settings = fixture_release.model_copy(
        update={"admin_token": SecretStr("geheim"), "database": tmp_path / "assistant.sqlite3"}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as http:
        response = http.get(
            "/api/feedback",
            params={"limit": limit, "offset": offset},
            headers={"Authorization": "Bearer geheim"},
        )
    refused(response, 422, "Ungültige Anfrage")


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_client_still_sending_a_far_too_large_body_reads_its_413(
    fixture_release: Settings, tmp_path: Path, chunked: bool
) -> None:
    """5 MB to a real server, from urllib (which sends ``Connection: close`` and writes the whole body
    before it reads): the server reads the rest of the body before it answers and closes, so the
    client gets the 413 instead of "connection reset by peer"."""
    import urllib.error
    import urllib.request

    from ..serving import serving

    body = b"x" * 5_000_000

    def payload() -> bytes | Iterator[bytes]:  # an iterable is sent chunked
        return (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body

    headers = {"Content-Type": "application/json"} | ({"Transfer-Encoding": "chunked"} if chunked else {})
    settings = fixture_release.model_copy(
        update={"database": tmp_path / "db.sqlite3", "rate_limit_per_minute": 0}
    )
    with serving(settings) as base:
        for _ in range(3):
            request = urllib.request.Request(f"{base}/api/ask", data=payload(), headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused_with:
                urllib.request.urlopen(request, timeout=30)
            assert refused_with.value.code == 413
            assert "Die Anfrage ist zu groß" in json.loads(refused_with.value.read())["detail"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"question": 5}, "question: muss Text sein"),
        ({"question": "Wer?", "k": "viele"}, "k: muss eine ganze Zahl sein"),
        ({"question": "Wer?", "k": 0}, "k muss zwischen 1 und"),
        ({"question": "Wer?", "history": "kein Verlauf"}, "history: muss eine Liste sein"),
        ({}, "question: fehlt"),
    ],
)
def test_invalid_fields_are_named_in_german(client: TestClient, body: dict, expected: str) -> None:
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert expected in detail and "should" not in detail and "Input" not in detail, detail


def test_a_form_with_too_many_fields_is_refused_in_german(client: TestClient) -> None:
    fields = "&".join(f"f{i}=x" for i in range(1200)) + "&question=Wer"
    response = client.post(
        "/gespraech", content=fields, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400 and "Zu viele Formularfelder." in response.text
    assert "Too many" not in response.text
    files = {f"datei{i}": (f"d{i}.txt", b"x") for i in range(1200)}
    response = client.post("/gespraech", data={"question": "Wer?"}, files=files)
    assert response.status_code == 400 and "Zu viele" in response.text and "Too many" not in response.text
