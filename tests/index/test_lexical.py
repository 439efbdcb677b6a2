"""German BM25: folding, stemming, compound parts, and ranking by the words people use."""

from __future__ import annotations

import numpy as np

from assistant.index.lexical import LexicalIndex, term_weights
from assistant.text import GermanAnalyzer

TEXTS = [
    "Das Quartiersmanagement arbeitet im Stadtteilbüro vor Ort.",
    "Über den Verfügungsfonds entscheidet eine Jury aus dem Quartier.",
    "Die Lenkungsgruppe der Verwaltung bündelt Fördermittel.",
    "Beim Management von Projekten hilft ein klarer Zeitplan.",
    "Ein Fonds finanziert kleine Vorhaben.",
]


def test_umlauts_and_their_spellings_fold_together() -> None:
    analyzer = GermanAnalyzer()
    assert (
        analyzer.terms("Verfügungsfonds")
        == analyzer.terms("Verfuegungsfonds")
        == analyzer.terms("VERFUGUNGSFONDS")
    )
    assert analyzer.terms("Straße") == analyzer.terms("Strasse")


def test_stopwords_go_and_inflections_share_a_stem() -> None:
    analyzer = GermanAnalyzer()
    assert analyzer.terms("der die das und") == []
    assert analyzer.terms("Bewohnerinnen")[0] == analyzer.terms("Bewohner")[0]


def test_compounds_split_into_corpus_words() -> None:
    analyzer = GermanAnalyzer.for_corpus(TEXTS)
    terms = analyzer.terms("Quartiersmanagement")
    assert terms[0] == "quartiersmanagement"
    assert set(analyzer.terms("Quartier")) <= set(terms) and set(analyzer.terms("Management")) <= set(terms)
    assert set(analyzer.terms("Fonds")) <= set(analyzer.terms("Verfügungsfonds"))
    assert analyzer.terms("Jury") == ["jury"]  # short words stay whole


def test_bm25_finds_compounds_from_their_parts() -> None:
    index = LexicalIndex.build(TEXTS)
    scores = index.scores("Wer entscheidet über den Fonds?")
    assert int(np.argmax(scores)) == 1 and scores[1] > scores[4] > 0
    scores = index.scores("Management im Quartier")
    assert int(np.argmax(scores)) == 0  # the compound outranks the text that only has "Management"


def test_unknown_words_score_zero_and_save_load_round_trips(tmp_path) -> None:
    index = LexicalIndex.build(TEXTS)
    assert not index.scores("Apfelkuchen Rezept").any()
    index.save(tmp_path / "lexical")
    loaded = LexicalIndex.load(tmp_path / "lexical")
    assert np.allclose(
        loaded.scores("Lenkungsgruppe Fördermittel"), index.scores("Lenkungsgruppe Fördermittel")
    )


def test_very_long_words_are_not_split_so_analysis_stays_linear() -> None:
    # Splitting costs time quadratic in a word's length; a document or a model sending a "word" of
    # 200,000 letters would hold a worker for minutes. Such words keep their stem only.
    analyzer = GermanAnalyzer(frozenset({"quartier", "fonds", "management"}))
    assert len(analyzer.terms("quartiers" + "fonds" * 400)) == 1
    assert len(analyzer.terms("Quartiersfonds")) == 3  # short words still split: stem and two parts
    huge = "Quartiersmanagement" * 10_000
    assert len(analyzer.terms(f"Das {huge} arbeitet.")) == 2


def test_weighted_term_scores_equal_bm25s_and_scale_with_the_weight() -> None:
    index = LexicalIndex.build(TEXTS)
    terms = index.analyzer.terms("Wer entscheidet über den Verfügungsfonds im Quartier?")
    expected = np.asarray(index._retriever.get_scores(terms * 2), dtype=np.float32)
    np.testing.assert_allclose(index.term_scores(term_weights(terms * 2)), expected, rtol=1e-5, atol=1e-6)
    single = {terms[0]: 1.0}
    np.testing.assert_allclose(
        index.term_scores({terms[0]: 0.25}), 0.25 * index.term_scores(single), rtol=1e-6, atol=1e-7
    )
    assert not index.term_scores({"apfelkuchen": 1.0, terms[0]: 0.0}).any()
