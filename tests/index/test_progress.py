"""A build reports its phases in order: as JSON lines for the operator area (``assistant build
--progress-json``) and as progress bars on a terminal."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from assistant.build import build_index
from assistant.cli import main
from assistant.config import Settings
from assistant.progress import PHASES, TerminalProgress


def test_a_build_reports_each_phase_in_order(fixture_release: Settings, tmp_path: Path) -> None:
    heard: list[tuple[str, int, int]] = []
    settings = fixture_release.model_copy(update={"index_dir": tmp_path / "index"})
    build_index(settings, progress=lambda phase, done, total: heard.append((phase, done, total)))
    phases = list(dict.fromkeys(phase for phase, _, _ in heard))
    assert phases == ["reading", "embedding", "sentences", "publishing"]
    assert [p for p in phases if p not in PHASES] == []
    reading = [(d, t) for phase, d, t in heard if phase == "reading"]
    assert reading[-1][0] == reading[-1][1] == 2, "both fixture files read"
    for phase in ("embedding", "sentences", "publishing"):
        steps = [(d, t) for p, d, t in heard if p == phase]
        assert steps[-1][0] == steps[-1][1] and all(d <= t for d, t in steps), phase


def test_progress_json_reports_progress_warnings_and_the_result(
    fixture_release: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(fixture_release.corpus_dir, corpus)
    (corpus / "kaputt.pdf").write_bytes(b"%PDF-1.4 nothing else")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("ASSISTANT_MODEL", str(fixture_release.model))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus))
    assert main(["build", "--progress-json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[-1]["result"]["documents"] == 2 and records[-1]["result"]["passages"] > 0
    assert any("kaputt.pdf" in r.get("warning", "") for r in records)
    assert {r["phase"] for r in records if "phase" in r} == {
        "reading",
        "embedding",
        "sentences",
        "publishing",
    }
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "fehlt"))
    assert main(["build", "--progress-json"]) == 1
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert "fehlt" in last["error"]


def test_the_terminal_shows_one_bar_per_phase_with_its_german_name() -> None:
    out = io.StringIO()
    bars = TerminalProgress(out)
    for done in range(0, 11):
        bars("embedding", done, 10)
    bars("publishing", 1, 1)
    bars.close()
    text = out.getvalue()
    assert "Passagen einbetten" in text and "10/10" in text and "Veröffentlichen" in text
