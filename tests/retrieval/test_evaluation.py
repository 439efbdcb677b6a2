"""The evaluation: metrics by hand, and `assistant eval` on a small XQuAD-shaped file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.evaluation import EvalQuery, load_followups, load_practitioner, score_rankings
from assistant.records import Citation, Passage


def test_recall_and_mrr_by_hand() -> None:
    queries = [
        EvalQuery("a", frozenset({"p1"})),
        EvalQuery("b", frozenset({"p2", "p9"})),
        EvalQuery("c", frozenset({"x"})),
    ]
    rankings = [["p1", "p2"], ["p3", "p4", "p9"], ["p1"] * 10]
    metrics = score_rankings(rankings, queries)
    assert metrics.recall[1] == pytest.approx(1 / 3)
    assert metrics.recall[3] == metrics.recall[10] == pytest.approx(2 / 3)
    assert metrics.mrr10 == pytest.approx((1 + 1 / 3) / 3)


def test_labels_resolve_to_passages_and_unknown_labels_fail(tmp_path: Path) -> None:
    passages = [
        Passage("a1", "x", Citation("D", "K", "Fonds", source="k.md")),
        Passage("a2", "y", Citation("D", "K", "Fonds", source="k.md")),
        Passage("b1", "z", Citation("D", "K", "Rat", source="k.md")),
    ]
    practitioner = tmp_path / "p.jsonl"
    practitioner.write_text(
        json.dumps({"id": "P1", "question": "Fonds?", "relevant": [{"source": "k.md", "section": "Fonds"}]})
    )
    assert load_practitioner(practitioner, passages)[0].relevant == {"a1", "a2"}
    dialogue = {
        "id": "F1",
        "turns": [
            {"question": "Was ist der Fonds?", "relevant": [{"source": "k.md", "section": "Fonds"}]},
            {"question": "Und der Rat?", "relevant": [{"source": "k.md", "section": "Rat"}]},
        ],
    }
    followups = tmp_path / "f.jsonl"
    followups.write_text(json.dumps(dialogue))
    [turn] = load_followups(followups, passages)
    assert turn.history == ("Was ist der Fonds?",) and turn.relevant == {"b1"}
    practitioner.write_text(
        json.dumps({"id": "P2", "question": "?", "relevant": [{"source": "k.md", "section": "Fehlt"}]})
    )
    with pytest.raises(ValueError, match="P2"):
        load_practitioner(practitioner, passages)


@pytest.mark.slow
def test_eval_command_prints_tables(tmp_path: Path, fixture_corpus: Path, monkeypatch, capsys) -> None:
    paragraphs = [
        (
            "Der Quartiersfonds finanziert kleine Projekte im Stadtteil; eine Jury entscheidet.",
            "Wer entscheidet über den Quartiersfonds?",
        ),
        ("Das Büro vor Ort ist die Anlaufstelle mit festen Sprechzeiten.", "Wo ist die Anlaufstelle?"),
        (
            "Die Lenkungsgruppe der Verwaltung bündelt Fördermittel mehrerer Ämter.",
            "Wer bündelt die Fördermittel?",
        ),
    ]
    xquad = {
        "data": [
            {
                "title": "Test",
                "paragraphs": [
                    {"context": c, "qas": [{"id": str(i), "question": q, "answers": []}]}
                    for i, (c, q) in enumerate(paragraphs)
                ],
            }
        ]
    }
    path = tmp_path / "xquad.json"
    path.write_text(json.dumps(xquad), encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(fixture_corpus))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))  # the ONNX export goes there
    assert main(["eval", "--xquad", str(path), "--sets", str(tmp_path / "keine")]) == 0
    out = capsys.readouterr().out
    assert "### XQuAD German (3 paragraphs, 3 questions)" in out
    assert "| lexical (BM25) | 1.000 |" in out and "| hybrid, score 0.5 |" in out
