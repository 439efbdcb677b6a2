"""The query adapter: a low-rank map of question vectors, fitted by the build on the shipped fitting sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.build import collect_passages
from assistant.config import Settings, bundled_dir
from assistant.retrieval.adapter import (
    ADAPTER_SETS,
    MIN_EXAMPLES,
    QueryAdapter,
    adapter_examples,
    fit_adapter,
)
from assistant.retrieval.nomatch import Calibration
from assistant.service import open_assistant
from tests.retrieval import unit


def _distorted_questions(passages: np.ndarray, targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Questions that the model places away from their answers: each answer's vector turned by 90°
    in four planes (a change of rank 8), plus noise."""
    turned = passages[targets].copy()
    for a, b in ((0, 1), (2, 3), (4, 5), (6, 7)):
        turned[:, [a, b]] = np.stack([-turned[:, b], turned[:, a]], axis=1)
    return unit(turned + 0.15 * rng.standard_normal(turned.shape))


def _top1(questions: np.ndarray, passages: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean(np.argmax(questions @ passages.T, axis=1) == targets))


def test_the_adapter_learns_a_distortion_and_ranks_unseen_questions_better() -> None:
    rng = np.random.default_rng(1)
    passages = unit(rng.standard_normal((40, 16)))
    train_targets, test_targets = rng.integers(0, 40, 120), rng.integers(0, 40, 60)
    train = _distorted_questions(passages, train_targets, rng)
    test = _distorted_questions(passages, test_targets, rng)
    adapter = fit_adapter(train, [[int(t)] for t in train_targets], passages, rank=8, l2=0.001)
    assert adapter is not None
    before, after = _top1(test, passages, test_targets), _top1(adapter.apply(test), passages, test_targets)
    assert after >= before + 0.3, (before, after)
    assert np.allclose(np.linalg.norm(adapter.apply(test), axis=1), 1.0, atol=1e-5)


def test_too_few_examples_or_another_dimension_give_no_adapter_and_other_vectors_stay() -> None:
    rng = np.random.default_rng(2)
    passages = unit(rng.standard_normal((10, 8)))
    few = unit(rng.standard_normal((MIN_EXAMPLES - 1, 8)))
    assert fit_adapter(few, [[0]] * len(few), passages) is None
    many = unit(rng.standard_normal((MIN_EXAMPLES, 4)))
    assert fit_adapter(many, [[0]] * len(many), passages) is None  # vectors of another model
    adapter = QueryAdapter(np.ones((8, 2), dtype=np.float32), np.ones((8, 2), dtype=np.float32))
    other = rng.standard_normal((3, 5)).astype(np.float32)
    assert np.array_equal(adapter.apply(other), other)


def test_the_calibration_stores_the_adapter_and_reads_it_back() -> None:
    rng = np.random.default_rng(3)
    adapter = QueryAdapter(
        rng.standard_normal((6, 2)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    )
    calibration = Calibration(0.5, 0.1, 0.2, adapter=adapter)
    stored = json.loads(json.dumps(calibration.to_dict()))
    again = Calibration.from_dict(stored)
    vectors = unit(rng.standard_normal((4, 6))).astype(np.float32)
    assert again.adapter is not None
    assert np.allclose(again.questions(vectors), calibration.questions(vectors), atol=1e-4)
    # A release built before the adapter: question vectors as the model gives them.
    older = Calibration.from_dict({k: v for k, v in stored.items() if k != "adapter"})
    assert older.adapter is None and np.array_equal(older.questions(vectors), vectors)


def test_examples_are_the_fitting_halves_labelled_on_the_corpus_and_nothing_held_out() -> None:
    passages = collect_passages([bundled_dir("corpus")], warn=lambda _: None).passages
    questions, answers = adapter_examples(passages)
    assert len(questions) >= MIN_EXAMPLES and len(questions) == len(answers)
    assert all(rows and all(0 <= r < len(passages) for r in rows) for rows in answers)
    blind = Path("eval/blind/fragen.jsonl").read_text().splitlines()
    held_out = {json.loads(line)["question"] for line in blind}
    for name in ADAPTER_SETS:
        for line in (Path("eval") / name).read_text().splitlines():
            item = json.loads(line)
            if item.get("split", "fit") != "fit":
                held_out.add(item["question"])
    fitting = {
        json.loads(line)["question"]
        for name in ADAPTER_SETS
        for line in (Path("eval") / name).read_text().splitlines()
        if json.loads(line).get("split", "fit") == "fit"
    }
    assert not set(questions) & (held_out - fitting)
    # A corpus without the labelled sections: nothing to learn from.
    assert len(adapter_examples(passages[:3])[0]) < MIN_EXAMPLES


def test_the_shipped_release_searches_with_its_adapter(shipped_release: Settings) -> None:
    searcher = open_assistant(shipped_release).searcher
    adapter = searcher.calibration.adapter
    assert adapter is not None
    question = "Wer kümmert sich eigentlich um die Öffentlichkeitsarbeit im Viertel?"
    raw = searcher.embedder.encode_queries([question])
    found = searcher.find(question, 5)
    assert found.vector is not None
    assert np.allclose(found.vector, adapter.apply(raw), atol=1e-5)
    assert not np.allclose(found.vector, raw, atol=1e-3)
    assert found.features[-1] == pytest.approx(searcher.calibration.scope_score(found.vector))


def test_a_follow_up_is_searched_with_the_model_s_own_vectors(shipped_release: Settings) -> None:
    """The adapter learnt from single questions; a follow-up's mean of conversation and question is
    searched unmapped (better on the fitting dialogues)."""
    searcher = open_assistant(shipped_release).searcher
    context = "Was ist ein Verfügungsfonds? Und wer entscheidet darüber?"
    question = "Und wer entscheidet darüber?"
    found = searcher.find(question, 5, dense_text=context, question=question)
    raw = searcher.embedder.encode_queries([context, question])
    mean = raw.sum(axis=0)
    assert found.vector is not None
    assert np.allclose(found.vector[0], mean / np.linalg.norm(mean), atol=1e-5)


def test_an_operator_can_build_without_the_adapter(static_release: Settings, tmp_path: Path) -> None:
    from assistant.build import build_index

    assert open_assistant(static_release).searcher.calibration.adapter is not None
    settings = static_release.model_copy(
        update={"index_dir": tmp_path / "index", "query_adapter": False, "database": tmp_path / "a.sqlite3"}
    )
    build_index(settings, warn=lambda _: None)
    searcher = open_assistant(settings).searcher
    assert searcher.calibration.adapter is None
    raw = searcher.embedder.encode_queries(["Wer entscheidet über den Verfügungsfonds?"])
    assert np.allclose(searcher.encode_questions(["Wer entscheidet über den Verfügungsfonds?"]), raw)


def test_answers_beyond_a_question_s_nearest_passages_join_its_candidates_beside_the_near_ones() -> None:
    """Each question is contrasted with its nearest passages only; an answer the model places far away
    joins them in place of the farthest non-answer, never in place of another answer."""
    from assistant.retrieval.adapter import _candidates

    scores = np.array([[0.9, 0.8, 0.7, 0.1, 0.0]])  # passage 1 (second nearest) and 4 (farthest) answer
    candidates, positive = _candidates(scores, [[1, 4]], 2)
    assert sorted(candidates[0].tolist()) == [1, 4] and positive[0].all()
    candidates, positive = _candidates(scores, [[0]], 3)
    assert candidates[0].tolist() == [0, 1, 2] and positive[0].tolist() == [True, False, False]
