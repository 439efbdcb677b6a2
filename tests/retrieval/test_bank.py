"""The question bank: questions written for single corpus sentences, read by the short answer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.answer import extract_sentences
from assistant.build import collect_passages
from assistant.config import Settings, bundled_dir
from assistant.records import Citation, Hit, Passage
from assistant.retrieval.adapter import shipped_items
from assistant.retrieval.bank import (
    BANK_FILE,
    LABELLED_SETS,
    QuestionBank,
    bank_examples,
    build_bank,
    normalised,
)
from assistant.retrieval.followup import contextual_query
from assistant.retrieval.nomatch import Calibration
from assistant.service import open_assistant
from assistant.text import GermanAnalyzer, split_sentences
from tests.retrieval import unit


def test_closeness_is_the_nearest_bank_question_of_each_sentence() -> None:
    vectors = unit(np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]], dtype=np.float32))
    bank = build_bank(vectors, ["A.", "B.", "A."])
    assert bank is not None and len(bank) == 3
    query = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    close = bank.closeness(query, ["A.", "C.", "B."])
    assert close is not None
    assert close[0] == pytest.approx(0.8, abs=1e-3)  # the nearer of A's two questions
    assert np.isnan(close[1])  # no bank question for C
    assert close[2] == pytest.approx(1.0, abs=1e-3)
    assert bank.closeness(query, ["C.", "D."]) is None  # none of them has one
    assert bank.closeness(np.ones(5, dtype=np.float32), ["A."]) is None  # another model's vector
    assert build_bank(np.zeros((0, 3)), []) is None


def test_the_calibration_stores_the_bank_and_reads_it_back() -> None:
    rng = np.random.default_rng(4)
    bank = build_bank(unit(rng.standard_normal((5, 6))), ["A.", "B.", "B.", "C.", "A."])
    assert bank is not None
    stored = json.loads(json.dumps(Calibration(0.5, 0.1, 0.2, bank=bank).to_dict()))
    again = Calibration.from_dict(stored).bank
    assert again is not None and again.sentences == bank.sentences
    query = unit(rng.standard_normal(6)).astype(np.float32)
    assert np.allclose(again.closeness(query, ["B.", "A.", "C."]), bank.closeness(query, ["B.", "A.", "C."]))
    # A release built before the bank reads without one.
    assert Calibration.from_dict({k: v for k, v in stored.items() if k != "bank"}).bank is None


def test_a_damaged_or_hostile_bank_is_refused_and_the_release_serves_without_it() -> None:
    rng = np.random.default_rng(5)
    bank = build_bank(unit(rng.standard_normal((3, 4))), ["A.", "B.", "A."])
    assert bank is not None
    good = bank.to_dict()
    nan_vectors = bank.vectors.copy()
    nan_vectors[0, 0] = np.nan
    huge = {"shape": [10**13, 384], "data": good["vectors"]["data"]}  # nothing is allocated for it
    for broken in (
        dict(good, sentences=["A."]),  # owners name a sentence that is not there
        dict(good, sentences=["A.", "A."]),
        dict(good, sentences="A. B."),
        dict(good, vectors=huge),
        dict(good, vectors={"shape": [3, 4], "data": "kein base64!"}),
        dict(good, vectors={"shape": [12], "data": good["vectors"]["data"]}),
        dict(good, vectors=QuestionBank(nan_vectors, bank.owners, bank.sentences).to_dict()["vectors"]),
        {"vectors": good["vectors"]},
    ):
        with pytest.raises(ValueError):
            QuestionBank.from_dict(broken)
        stored = {"dense_mean": 0.5, "dense_std": 0.1, "dense_gap": 0.2, "bank": broken}
        calibration = Calibration.from_dict(stored)
        assert calibration.bank is None and calibration.dense_mean == 0.5


def test_the_sentence_with_the_closest_bank_question_leads() -> None:
    """Two sentences the model finds about as close to the question: the one whose bank question is
    near the question is chosen, whichever of them the model put first."""
    analyzer = GermanAnalyzer()
    text = (
        "Der Quartiersrat tagt monatlich im Stadtteilbüro. Der Quartiersrat vergibt die Mittel des Fonds. "
        "Im Hof gibt es ein Fest."
    )
    hits = [Hit(Passage("p1", text, Citation("D", section="S")), 1.0)]
    question = set(analyzer.terms("Wer entscheidet im Quartiersrat über das Geld?"))
    first, second, third = split_sentences(text)

    def meaning(hit: Hit, sentences: list[str]) -> np.ndarray:
        return np.array([{first: 0.30, second: 0.28, third: 0.1}[s] for s in sentences])

    [without, *_] = extract_sentences(question, hits, analyzer.terms, meaning=meaning)
    assert without.text == first

    def bank(sentences: list[str]) -> np.ndarray:
        return np.array([{first: 0.5, second: 0.9, third: 0.2}[s] for s in sentences])

    [chosen, *_] = extract_sentences(question, hits, analyzer.terms, meaning=meaning, bank=bank)
    assert chosen.text == second
    # Where the bank cannot tell the sentences apart (none has bank questions, or only one does, or a
    # failing bank), the choice is as before; the one sentence with bank questions is not put forward.
    for useless in (
        lambda ss: np.full(len(ss), np.nan),
        lambda ss: np.array([np.nan if s != third else 0.9 for s in ss]),
        lambda ss: np.full(len(ss), 0.7),
        lambda ss: 1 / 0,
    ):
        chosen_without = [a.text for a in extract_sentences(question, hits, analyzer.terms, meaning=meaning)]
        chosen_with = [
            a.text for a in extract_sentences(question, hits, analyzer.terms, meaning=meaning, bank=useless)
        ]
        assert chosen_with == chosen_without


def test_a_sentence_without_bank_questions_is_neither_helped_nor_hurt() -> None:
    """One's own documents beside the corpus: a sentence without bank questions keeps its own
    similarity where the others have their bank closeness."""
    analyzer = GermanAnalyzer()
    text = "Der Quartiersrat tagt im Büro. Der Quartiersrat vergibt die Mittel. Unser Verein berät Mieter."
    hits = [Hit(Passage("p1", text, Citation("D", section="S")), 1.0)]
    question = set(analyzer.terms("Wer hilft uns bei Ärger mit dem Vermieter?"))
    first, second, own = split_sentences(text)

    def meaning(hit: Hit, sentences: list[str]) -> np.ndarray:
        return np.array([{first: 0.2, second: 0.25, own: 0.6}[s] for s in sentences])

    def bank(sentences: list[str]) -> np.ndarray:
        return np.array([{first: 0.5, second: 0.7, own: np.nan}[s] for s in sentences])

    [chosen, *_] = extract_sentences(question, hits, analyzer.terms, meaning=meaning, bank=bank)
    assert chosen.text == own


def test_the_shipped_bank_names_corpus_sentences_and_no_evaluation_question() -> None:
    """Every bank question names sentences the corpus holds word for word (a corpus edit that drops
    one shows here), and none of them is a question of an evaluation set."""
    lines = (bundled_dir("eval") / BANK_FILE).read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    passages = collect_passages([bundled_dir("corpus")], warn=lambda _: None).passages
    sentences = {s for p in passages for s in split_sentences(p.text)}
    missing = [s for item in items for s in item["sentences"] if s not in sentences]
    assert not missing, missing[:3]
    questions, owners = bank_examples(passages)
    assert len(questions) >= len(items) and set(owners) <= sentences
    evaluation = _evaluation_questions()
    assert len(evaluation) > 500
    assert not {normalised(item["question"]) for item in items} & evaluation
    # Nor is any of the blind questions learnt from whole (Lernfragen).
    learnt = [item["question"] for item in shipped_items("lernfragen/fragen.jsonl")]
    assert len(learnt) > 200
    assert not {normalised(q) for q in learnt} & evaluation
    # Passages without any of its sentences get no bank.
    assert bank_examples([Passage("x", "Ein ganz anderer Satz.", Citation("D"))]) == ([], [])


def _evaluation_questions() -> set[str]:
    """Every question of an evaluation set in ``eval/`` (lower-cased, without punctuation): not the
    bank's own, not the Lernfragen, not the grounding checks."""
    evaluation: set[str] = set()
    for path in bundled_dir("eval").rglob("*.jsonl"):
        if path.parent.name in ("satzfragen", "lernfragen", "grounding"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                evaluation |= {normalised(t["question"]) for t in item.get("turns", []) if "question" in t}
                if "question" in item:
                    evaluation.add(normalised(item["question"]))
    return evaluation


def test_the_bank_learns_the_fitting_halves_answering_sentences_and_never_a_held_out_question() -> None:
    passages = collect_passages([bundled_dir("corpus")], warn=lambda _: None).passages
    sentences = {s for p in passages for s in split_sentences(p.text)}
    questions, owners = bank_examples(passages)
    pairs = list(zip(questions, owners, strict=True))
    assert len(pairs) == len(set(pairs))  # a question and sentence named twice count once
    # The labelled sets name sentences the corpus holds word for word (a corpus edit shows here).
    labelled = [item for name in LABELLED_SETS for item in shipped_items(name)]
    missing = [s for item in labelled for s in item.get("answers", []) if s not in sentences]
    assert not missing, missing[:3]
    held_out = [item["question"] for item in labelled if item["split"] != "fit"]
    held_out += [item["question"] for item in shipped_items("blind/antwortsaetze.jsonl")]
    assert len(held_out) > 150
    unseen = {normalised(q) for q in held_out}
    # No bank question is worded like a held-out question (held-out halves, Blindfragen), not even a
    # fitting question that repeats one.
    assert not {normalised(q) for q in questions} & unseen
    # Every other fitting question with each of its answering sentences, and nothing else of it.
    fit = [item for item in labelled if item["split"] == "fit"]
    fitting = [item for item in fit if normalised(item["question"]) not in unseen]
    assert len(fitting) > 600
    assert len(fitting) < len(fit)  # the shipped sets repeat some held-out questions: those are left out
    own = {item["question"] for item in shipped_items(BANK_FILE)}
    from_sets = {pair for pair in pairs if pair[0] not in own}
    assert from_sets == {(item["question"], s) for item in fitting for s in item.get("answers", [])}
    # A labelled sentence the corpus no longer holds is left out (the build's passages, not the file).
    one = next(item for item in fitting if item.get("answers"))
    kept = [p for p in passages if one["answers"][0] not in split_sentences(p.text)]
    assert (one["question"], one["answers"][0]) not in set(zip(*bank_examples(kept), strict=True))


def test_the_shipped_release_reads_its_bank_with_mapped_questions_follow_ups_included(
    shipped_release: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant = open_assistant(shipped_release)
    searcher = assistant.searcher
    bank = searcher.calibration.bank
    assert bank is not None and len(bank) > 1000
    read: list[np.ndarray] = []
    closeness = QuestionBank.closeness

    def recording(self: QuestionBank, vector: np.ndarray, sentences: list[str]) -> np.ndarray | None:
        read.append(np.asarray(vector).reshape(-1))
        return closeness(self, vector, sentences)

    monkeypatch.setattr(QuestionBank, "closeness", recording)
    question = "Seit wann gibt es die Soziale Stadt?"
    answer = assistant.ask(question, k=3, generate=False)
    assert read and answer.sentences
    expected = searcher.encode_questions([question])[0]  # mapped by the query adapter
    assert np.allclose(read[-1], expected, atol=1e-4)
    sentences = [s for hit in answer.hits for s in split_sentences(hit.passage.text)]
    close = bank.closeness(expected, sentences)
    assert close is not None and np.nanmax(close) > 0.8
    # A follow-up is searched with the model's own vectors; the bank still reads it mapped.
    history = ("Was ist ein Verfügungsfonds?",)
    follow_up = "Und wer entscheidet darüber?"
    query = contextual_query(follow_up, history, searcher.analyzer)
    assert query.borrowed and query.dense_text != query.question
    assistant.ask(follow_up, history=history, k=3, generate=False)
    assert np.allclose(read[-1], searcher.encode_questions([query.text])[0], atol=1e-4)
