"""The command line: build, ask (text and --json) and serve against a real server on loopback."""

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from assistant.cli import main
from assistant.config import Settings
from tests.serving import free_port, wait_until_healthy


def run_cli(args: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(settings.corpus_dir))
    if settings.model:
        monkeypatch.setenv("ASSISTANT_MODEL", settings.model)
    return main(args)


def test_ask_prints_passages_with_citation_labels(fixture_release: Settings, monkeypatch, capsys) -> None:
    assert run_cli(["ask", "Was ist ein Quartiersfonds?", "-k", "2"], fixture_release, monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.startswith("Kurzantwort: Ein Quartiersfonds ist ein kleines Budget") and "[1]\n" in out
    assert "\n[1] Beteiligung › Der Quartiersfonds" in out
    assert "[2] " in out and "[3] " not in out


def test_ask_json_prints_the_api_shape(fixture_release: Settings, monkeypatch, capsys) -> None:
    assert run_cli(["ask", "--json", "Was ist ein Quartiersfonds?"], fixture_release, monkeypatch) == 0
    body = json.loads(capsys.readouterr().out)
    assert {"question", "passages", "no_match", "model", "build_id"} <= set(body)


@pytest.mark.parametrize(
    ("question", "k", "message"),
    [
        ("   ", None, "Die Frage ist leer."),
        ("Frage\x00mit Nullbyte", None, "Die Frage enthält Steuerzeichen"),
        ("x" * 5000, None, "Die Frage ist zu lang"),
        ("Was ist ein Quartiersfonds?", "0", "k muss zwischen 1 und"),
    ],
)
def test_ask_refuses_what_the_api_refuses_with_the_same_message(
    fixture_release: Settings, monkeypatch, capsys, question: str, k: str | None, message: str
) -> None:
    args = ["ask", question] + (["-k", k] if k else [])
    assert run_cli(args, fixture_release, monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("Fehler: " + message), err


def test_ask_without_a_release_says_what_to_do(tmp_path: Path, monkeypatch, capsys) -> None:
    settings = Settings(index_dir=tmp_path)
    assert run_cli(["ask", "Frage"], settings, monkeypatch) == 1
    assert "assistant build" in capsys.readouterr().err


def test_build_command_reports_passages(
    fixture_corpus: Path, tiny_model: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path, model=str(tiny_model))
    assert run_cli(["build"], settings, monkeypatch) == 0
    assert "Passagen aus 2 Dokumenten" in capsys.readouterr().out


def test_build_takes_extra_files(
    fixture_corpus: Path, tiny_model: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    extra = tmp_path / "notiz.txt"
    extra.write_text(
        "Eine zusätzliche Notiz über Spielplätze im Quartier und ihre Pflege durch Paten.", encoding="utf-8"
    )
    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path / "index", model=str(tiny_model))
    assert run_cli(["build", str(extra)], settings, monkeypatch) == 0
    assert "Passagen aus 3 Dokumenten" in capsys.readouterr().out


@contextmanager
def running_server(
    env: dict[str, str], port: int, *extra: str, log: list[str] | None = None
) -> Iterator[httpx.Client]:
    """``assistant serve`` as a real process on a loopback port, stopped with SIGTERM afterwards; its
    log (stderr, and stdout with the access log) is appended to ``log`` once it has stopped."""
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), *extra],
        env=env,
        # With ``log``, stderr joins stdout, where uvicorn writes its access log.
        stdout=subprocess.DEVNULL if log is None else subprocess.PIPE,
        stderr=subprocess.PIPE if log is None else subprocess.STDOUT,
        text=True,
    )
    output = server.stderr if log is None else server.stdout
    base = f"http://127.0.0.1:{port}"

    def alive() -> None:
        if server.poll() is not None:
            raise AssertionError(output.read() if output else "server did not start")

    try:
        wait_until_healthy(base, seconds=60, alive=alive)
        with httpx.Client(base_url=base, timeout=5) as http:
            yield http
    finally:
        server.terminate()
        server.wait(timeout=10)
        if log is not None and output is not None:
            log.append(output.read())


@pytest.mark.slow
def test_serve_builds_on_first_run_and_keeps_conversations_and_feedback_over_a_restart(
    fixture_corpus: Path, tiny_model: Path, tmp_path: Path
) -> None:
    port = free_port()
    database = tmp_path / "var" / "assistant.sqlite3"
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
        "ASSISTANT_CORPUS_DIR": str(fixture_corpus),
        "ASSISTANT_MODEL": str(tiny_model),
        "ASSISTANT_DATABASE": str(database),
    }
    with running_server(env, port) as http:
        assert http.get("/api/health").json()["status"] == "ok"
        answer = http.post("/api/ask", json={"question": "Was ist ein Quartiersfonds?"})
        assert answer.json()["passages"][0]["citation"]["section"] == "Der Quartiersfonds"
        asked = http.post("/gespraech", data={"question": "Was ist ein Quartiersfonds?"})
        assert asked.status_code == 303
        conversation = asked.headers["location"].split("#")[0]
        assert "Der Quartiersfonds" in http.get(conversation).text
        rated = http.post(
            f"{conversation}/1/rueckmeldung",
            data={"helpful": "nein", "comment": "Zu knapp – bitte mehr Beispiele"},
        )
        assert rated.status_code == 303
    assert database.stat().st_mode & 0o777 == 0o600  # only the owner may read what users typed

    with running_server(env, port) as http:  # a new process: everything typed before is still there
        page = http.get(conversation).text
        assert "Was ist ein Quartiersfonds?" in page and "Der Quartiersfonds" in page
        assert "ist gespeichert" in page
    listed = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "feedback", "--csv"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0
    rows = list(csv.reader(io.StringIO(listed.stdout)))
    assert rows[0][:4] == ["Zeit (UTC)", "Bewertung", "Frage", "Kommentar"]
    assert rows[1][1:4] == [
        "nicht hilfreich",
        "Was ist ein Quartiersfonds?",
        "Zu knapp – bitte mehr Beispiele",
    ]


@pytest.mark.slow
def test_serve_with_two_worker_processes(fixture_release: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(fixture_release.index_dir),
        "ASSISTANT_MODEL": str(fixture_release.model),
        "ASSISTANT_DATABASE": str(tmp_path / "assistant.sqlite3"),
    }
    with running_server(env, free_port(), "--workers", "2", "--threads", "2") as http:
        for _ in range(4):  # spread over both processes by the kernel; each must answer the same
            body = http.post("/api/ask", json={"question": "Was ist ein Quartiersfonds?"}).json()
            assert body["passages"][0]["citation"]["section"] == "Der Quartiersfonds"


def test_ask_prints_the_checked_answer_with_its_evidence(
    fixture_release: Settings, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    import assistant.service as service
    from tests.fake_llm import FakeModel, chunk

    real = service.open_assistant
    question = "Was ist ein Quartiersfonds?"
    first = (
        real(fixture_release).ask(question, generate=False).hits[0].passage.text.split(". ")[0].strip(" .")
    )
    model = FakeModel(events=[chunk(f"{first} [1].")])
    monkeypatch.setattr(service, "open_assistant", lambda settings, **kw: model.serve(real(settings, **kw)))
    assert run_cli(["ask", question], fixture_release, monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Antwort des Sprachmodells (geprüft an den Fundstellen): {first}. [1]")
    assert f"  Beleg 1: „{first}." in out and "Kurzantwort: " in out
