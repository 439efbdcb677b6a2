"""The no-match judgement (a rule fitted on labelled questions) and the short answer's sentence choice."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.answer import SentenceScorer, extract_sentences
from assistant.config import Settings
from assistant.evaluation import EvalQuery, fit_rule
from assistant.index.folder.releases import load_release
from assistant.index.lexical import LexicalIndex
from assistant.records import Citation, Hit, Passage
from assistant.retrieval.nomatch import (
    FEATURES,
    OFF_TOPIC_PROBES,
    Calibration,
    NoMatchRule,
    fit_scope,
    scope_examples,
)
from assistant.service import open_assistant
from assistant.text import GermanAnalyzer


def test_idf_and_known_terms_come_from_the_bm25_index() -> None:
    texts = ["Der Verfügungsfonds zahlt Feste.", "Der Quartiersrat entscheidet.", "Feste im Hof."]
    index = LexicalIndex.build(texts)
    [fest] = index.analyzer.word_stems("Feste")
    assert index.knows(fest) and not index.knows("wohngeld")
    # Two of three passages contain "Feste", none contains "Wohngeld": the rarer term weighs more.
    assert index.idf("wohngeld") > index.idf(index.analyzer.word_stems("Quartiersrat")[0]) > index.idf(fest)


def test_features_of_a_question_in_the_corpus_and_of_one_outside_it(fixture_release: Settings) -> None:
    searcher = open_assistant(fixture_release).searcher
    inside = searcher.find("Wer entscheidet über den Quartiersfonds?", 5)
    outside = searcher.find("Wie viel Wohngeld bekomme ich als Rentnerin?", 5)
    assert len(inside.features) == len(FEATURES) == len(outside.features)
    coverage, known = FEATURES.index("coverage"), FEATURES.index("known_words")
    assert inside.features[coverage] == pytest.approx(1.0) and inside.features[known] == pytest.approx(1.0)
    assert outside.features[known] < 0.5  # "Wohngeld", "Rentnerin" and "bekomme" are not in the corpus
    assert inside.matched


def test_the_rule_is_a_logistic_score_with_a_cutoff() -> None:
    rule = NoMatchRule(weights=(1.0, 0.0, 2.0, 0.0, 0.5), bias=-1.0, cutoff=0.0)
    assert rule.score((1.0, 5.0, 0.5, 9.0, 2.0)) == pytest.approx(2.0)
    assert rule.matches((1.0, 0.0, 0.5, 0.0, 0.0)) and not rule.matches((0.0, 0.0, 0.5, 0.0, 0.0))


def test_fitting_separates_the_fixture_questions(fixture_release: Settings) -> None:
    searcher = open_assistant(fixture_release).searcher
    passages = {p.citation.section: p.id for p in searcher.engine.passages(range(searcher.engine.size))}
    answerable = [
        EvalQuery(q, frozenset({passages[s]}))
        for q, s in [
            ("Wer entscheidet über den Quartiersfonds?", "Der Quartiersfonds"),
            ("Was bezahlt der Quartiersfonds?", "Der Quartiersfonds"),
            ("Wo ist das Büro vor Ort?", "Das Büro vor Ort"),
        ]
    ]
    unanswerable = ["Wie wird das Wetter morgen?", "Rezept für Apfelkuchen", "Was kostet ein Flug nach Rom?"]
    rule = fit_rule(searcher, answerable, unanswerable)
    fitted = replace(searcher, rule=rule)
    assert all(fitted.find(q.question, 5).matched for q in answerable)
    assert not any(fitted.find(q, 5).matched for q in unanswerable)
    assert rule.weights[FEATURES.index("dense")] > 0 or rule.weights[FEATURES.index("coverage")] > 0


def test_the_build_records_the_calibration_and_an_older_release_is_calibrated_on_loading(
    index_copy: Settings,
) -> None:
    release = load_release(index_copy.index_dir)
    calibration = release.manifest.facts.no_match
    assert calibration["dense_std"] > 0 and calibration["dense_gap"] > 0
    manifest = release.path / "manifest.json"
    data = json.loads(manifest.read_text())
    del data["no_match"]
    manifest.write_text(json.dumps(data))
    older = open_assistant(index_copy).searcher.calibration
    assert older.dense_mean == pytest.approx(calibration["dense_mean"], abs=1e-5)


class _Counting:
    """Stands in for an embedder: each sentence's vector says which sentence it is."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_documents(
        self, texts: list[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        self.encoded += texts
        return np.stack([np.eye(4, dtype=np.float32)[len(t) % 4] for t in texts])


def test_sentence_vectors_are_cached_and_the_cache_is_bounded() -> None:
    embedder = _Counting()
    scorer = SentenceScorer(embedder, size=2)  # type: ignore[arg-type]
    query = np.eye(4, dtype=np.float32)[1]
    hit = Hit(Passage("p", "a. bb.", Citation("D")), 1.0)
    assert list(scorer(query, hit, ["a", "bb", "a"])) == [1.0, 0.0, 1.0]
    assert embedder.encoded == ["a", "bb"]
    scorer(query, hit, ["a", "ccc"])  # "bb" is the least recently used: it goes
    scorer(query, hit, ["a", "bb"])
    assert embedder.encoded == ["a", "bb", "ccc", "bb"]
    # A release's stored vectors are used for the passage row they belong to, nothing is encoded.
    rows = np.array([[0, 0.5, 0, 0], [0, 0.25, 0, 0]], dtype=np.float32)  # nothing encoding would give
    stored = SentenceScorer(embedder, stored=lambda row: rows if row == 3 else None)  # type: ignore[arg-type]
    assert list(stored(query, replace(hit, row=3), ["x", "y"])) == [0.5, 0.25]
    assert embedder.encoded == ["a", "bb", "ccc", "bb"]


def test_a_sentence_close_in_meaning_leads_even_without_shared_words() -> None:
    analyzer = GermanAnalyzer()
    text = "Im Hof gibt es ein Fest. Der Quartiersrat entscheidet über die Vergabe der Mittel."
    hits = [Hit(Passage("p1", text, Citation("D", section="S")), 1.0)]
    question = set(analyzer.terms("Wer bestimmt, wofür das Geld ausgegeben wird?"))
    assert extract_sentences(question, hits, analyzer.terms) == []  # no shared words at all

    def meaning(hit: Hit, sentences: list[str]) -> np.ndarray:
        return np.array([0.9 if "Quartiersrat" in s else 0.2 for s in sentences])

    [first] = extract_sentences(question, hits, analyzer.terms, meaning=meaning)
    assert first.text.startswith("Der Quartiersrat")


def test_issue_examples_on_the_shipped_corpus(shipped_release: Settings) -> None:
    """The questions a new user asked first (issue 13), with the offline default model; near-domain
    questions that share the domain's words are refused (issue 25), with related topics instead."""
    assistant = open_assistant(shipped_release)
    for question in ("Wie beantrage ich Wohngeld?", "Wie viel verdient man im Quartiersmanagement?"):
        refused = assistant.ask(question, k=3)
        assert refused.no_match and not refused.hits and len(refused.related) == 3, question

    def sections(question: str) -> list[str]:
        answer = assistant.ask(question, k=3)
        assert not answer.no_match, question
        return [hit.passage.citation.section or hit.passage.citation.chapter for hit in answer.hits]

    assert any(
        "Aufgaben" in s or "den ganzen Tag" in s
        for s in sections("Welche Aufgaben hat das Quartiersmanagement?")
    )
    assert any("BIWAQ" in s for s in sections("Was ist BIWAQ?"))
    assert any(
        "Wohnungsunternehmen" in s for s in sections("Welche Rolle spielen Wohnungsbaugesellschaften?")
    )


def test_a_release_stores_the_vectors_of_each_passage_s_sentences(fixture_release: Settings) -> None:
    from assistant.text import split_sentences

    release = load_release(fixture_release.index_dir)
    embedder = open_assistant(fixture_release).searcher.embedder
    assert release.sentences is not None
    for row in (0, len(release.passages) - 1):
        sentences = split_sentences(release.passages[row].text)
        stored = release.sentences.of(row)
        assert stored is not None and len(stored) == len(sentences)
        in_context = [release.passages[row].sentence_in_context(s) for s in sentences]
        np.testing.assert_allclose(stored, embedder.encode_documents(in_context), atol=2e-3)  # float16
    assert release.sentences.of(len(release.passages)) is None


def test_above_the_limit_a_release_holds_no_sentence_vectors_and_they_are_encoded_on_demand(
    fixture_corpus: Path, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import build

    monkeypatch.setattr(build, "SENTENCE_VECTOR_LIMIT", 1)
    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path / "index", model=str(tiny_model))
    build.build_index(settings)
    assert load_release(settings.index_dir).sentences is None
    assert not (load_release(settings.index_dir).path / "sentences.npy").exists()
    assistant = open_assistant(settings)
    assert assistant.scorer.stored is None
    assert assistant.ask("Wer entscheidet über den Quartiersfonds?").sentences
    assert len(assistant.scorer._cache) > 0  # encoded on demand, not given up on


def test_served_hits_find_their_stored_sentence_vectors_without_encoding(fixture_release: Settings) -> None:
    assistant = open_assistant(fixture_release)
    found = assistant.searcher.find("Wer entscheidet über den Quartiersfonds?", 5)
    assert found.hits and all(assistant.release.passages[hit.row].id == hit.passage.id for hit in found.hits)
    encoded: list[str] = []
    original = assistant.scorer.embedder.encode_documents

    def counting(texts: list[str], **kwargs: object) -> np.ndarray:
        encoded.extend(texts)
        return original(texts, **kwargs)  # type: ignore[arg-type]

    assistant.scorer.embedder.encode_documents = counting  # type: ignore[method-assign]
    try:
        answer = assistant.ask("Wer entscheidet über den Quartiersfonds?")
    finally:
        del assistant.scorer.embedder.encode_documents
    assert answer.sentences and encoded == []


def test_a_follow_up_is_searched_with_its_context_and_answered_for_itself(fixture_release: Settings) -> None:
    from assistant.retrieval.followup import contextual_query

    searcher = open_assistant(fixture_release).searcher
    query = contextual_query(
        "Und wer entscheidet darüber?", ["Was ist ein Quartiersfonds?"], searcher.analyzer
    )
    assert query.dense_text != query.text
    found = searcher.find(query.text, 5, dense_text=query.dense_text)
    embed = searcher.embedder.encode_queries
    np.testing.assert_allclose(found.vector, embed([query.dense_text]), atol=1e-6)
    np.testing.assert_allclose(found.question_vector, embed([query.text]), atol=1e-6)
    plain = searcher.find("Was ist ein Quartiersfonds?", 5)
    assert plain.question_vector is plain.vector
    # With the follow-up as asked, the search vector is the mean of the contextual one and its own.
    both = searcher.find(query.text, 5, dense_text=query.dense_text, question=query.question)
    mean = embed([query.dense_text])[0] + embed([query.question])[0]
    np.testing.assert_allclose(both.vector[0], mean / np.linalg.norm(mean), atol=1e-5)
    np.testing.assert_allclose(
        searcher.find(query.question, 5, question=query.question).vector, embed([query.question]), atol=1e-6
    )


def test_the_scope_model_separates_what_it_learnt_and_reads_zero_without_one() -> None:
    rng = np.random.default_rng(0)
    inside = rng.normal(0, 0.3, (40, 8)) + np.eye(8)[0]
    outside = rng.normal(0, 0.3, (40, 8)) + np.eye(8)[1]
    weights, bias = fit_scope(np.vstack([inside, outside]), np.r_[np.ones(40), np.zeros(40)])
    calibration = Calibration(0.5, 0.1, 0.2, tuple(weights), bias)
    assert calibration.scope_score(np.eye(8)[0]) > 0 > calibration.scope_score(np.eye(8)[1])
    again = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again.scope_score(np.eye(8)[0]) == pytest.approx(calibration.scope_score(np.eye(8)[0]), abs=1e-4)
    # A release built before the scope model, or a vector of another size: the feature reads 0.
    older = Calibration.from_dict({"dense_mean": 0.5, "dense_std": 0.1, "dense_gap": 0.2})
    assert older.scope_score(np.eye(8)[0]) == 0.0 == calibration.scope_score(np.ones(3))
    assert fit_scope(inside, np.ones(40))[0].size == 0  # one class only: no model


def test_scope_examples_are_the_fitting_halves_the_probes_and_the_corpus_headings() -> None:
    texts, labels = scope_examples(["Wer entscheidet über den Quartiersfonds?"])
    assert len(texts) == len(labels) and set(labels.tolist()) == {0.0, 1.0}
    assert texts[-1] == "Wer entscheidet über den Quartiersfonds?" and labels[-1] == 1.0
    fitting = {"Wer entscheidet über den Quartiersfonds?", *OFF_TOPIC_PROBES}
    for name in ("praxisfragen", "alltagsfragen", "fremdfragen", "fremdfragen_nah"):
        fitting |= {
            json.loads(line)["question"] for line in (Path("eval") / f"{name}.jsonl").read_text().splitlines()
        }
    test_half = set()
    for name in ("blind2/fragen.jsonl", "blind2/fremdfragen.jsonl"):
        for line in (Path("eval") / name).read_text().splitlines():
            item = json.loads(line)
            (fitting if item["split"] == "fit" else test_half).add(item["question"])
    # Nothing held out is learnt from (a question written the same way in a fitting set aside).
    assert set(texts) <= fitting and not (test_half - fitting) & set(texts)


def test_the_build_records_a_scope_model_for_its_model(fixture_release: Settings) -> None:
    assistant = open_assistant(fixture_release)
    calibration = assistant.searcher.calibration
    dimension = assistant.searcher.embedder.encode_queries(["Test"]).shape[1]
    assert len(calibration.scope) == dimension
    found = assistant.searcher.find("Wer entscheidet über den Quartiersfonds?", 5)
    assert found.features[FEATURES.index("scope")] == pytest.approx(calibration.scope_score(found.vector))


def test_an_example_and_a_sentence_that_only_repeats_the_question_do_not_lead_the_short_answer() -> None:
    analyzer = GermanAnalyzer()
    text = (
        "Beispiel (fiktiv): Der Quartiersrat entscheidet über den Fonds für das Hoffest. "
        "Wer entscheidet über den Fonds? "
        "Über den Fonds entscheidet der Quartiersrat mit einer Mehrheit aus Bewohnern."
    )
    hits = [Hit(Passage("p1", text, Citation("D", section="S")), 1.0)]
    question = set(analyzer.terms("Wer entscheidet über den Fonds?"))
    chosen = [s.text for s in extract_sentences(question, hits, analyzer.terms)]
    assert (
        chosen[0].startswith("Über den Fonds entscheidet") and "Wer entscheidet über den Fonds?" not in chosen
    )


def test_a_rebuild_takes_the_scope_model_s_examples_from_the_cache(
    fixture_corpus: Path, tiny_model: Path, tmp_path: Path
) -> None:
    from assistant import build
    from assistant.embed.cache import EmbeddingCache, query_key

    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path / "index", model=str(tiny_model))
    build.build_index(settings)
    first = load_release(settings.index_dir)
    headings = [p.citation.section for p in first.passages]
    questions, _ = scope_examples(headings)
    with EmbeddingCache(settings.index_dir / "cache" / "embeddings.sqlite") as cache:
        cached = cache.get(first.manifest.facts.model_fingerprint, [query_key(q) for q in questions])
    assert len(cached) == len(set(questions))  # kept by the cache's pruning, beside the passages
    build.build_index(settings)
    again = load_release(settings.index_dir)
    assert again.build_id != first.build_id
    assert again.manifest.facts.no_match == first.manifest.facts.no_match
