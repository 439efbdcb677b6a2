"""Query expansion with synonym groups (measured by bench/expansion.py; not used by the service)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from assistant.index.folder.engine import FolderEngine
from assistant.index.lexical import LexicalIndex
from assistant.records import Citation, Passage
from assistant.retrieval.expansion import Thesaurus, load_thesaurus, read_groups
from assistant.text import GermanAnalyzer

ROOT = Path(__file__).resolve().parents[2]


def test_groups_drop_annotations_and_phrases_and_can_keep_nouns_only() -> None:
    lines = [
        "# comment",
        "Barrio (span.);Kiez;Stadtteil;Veedel (Köln) (ugs.)",
        "klingende Münze;Geld;Kohle (ugs.)",
        "schnell;rasch;fix",
    ]
    assert list(read_groups(lines)) == [
        ["Barrio", "Kiez", "Stadtteil", "Veedel"],
        ["Geld", "Kohle"],
        ["schnell", "rasch", "fix"],
    ]
    assert list(read_groups(lines, nouns_only=True)) == [
        ["Barrio", "Kiez", "Stadtteil", "Veedel"],
        ["Geld", "Kohle"],
    ]


def test_a_word_expands_by_its_stem_to_the_synonyms_the_index_knows() -> None:
    analyzer = GermanAnalyzer()
    thesaurus = Thesaurus(
        [(0.5, ["Quartier", "Kiez", "Viertel"]), (0.2, ["Geld", "Kohle", "Zaster"])], analyzer
    )
    known = {analyzer.word_stems(w)[0] for w in ("Quartier", "Geld")}
    expansion = thesaurus.expand("Wo gibt es im Kiez Kohle?", known.__contains__, lambda _: 1.0)
    assert expansion.terms == {analyzer.word_stems("Quartier")[0]: 0.5, analyzer.word_stems("Geld")[0]: 0.2}
    # An inflected form finds its group; a word the question already has is not added again.
    assert thesaurus.expand("in den Kiezen", known.__contains__, lambda _: 1.0).terms
    assert not thesaurus.expand("Quartier und Kiez", known.__contains__, lambda _: 1.0).terms
    assert not thesaurus.expand("Apfelkuchen", known.__contains__, lambda _: 1.0).terms


def test_the_bench_word_lists_load_and_map_everyday_words_to_the_guide_s(tmp_path: Path) -> None:
    data = ROOT / "bench" / "data"
    analyzer = GermanAnalyzer()
    thesaurus = load_thesaurus(
        analyzer, domain=data / "alltagswoerter.txt", general=data / "openthesaurus.txt.gz"
    )
    quartier = analyzer.word_stems("Quartier")[0]
    assert quartier in thesaurus.synonyms(analyzer.word_stems("Kiez")[0])
    assert thesaurus.synonyms(analyzer.word_stems("Viertel")[0]).get(quartier) == 0.25  # domain weight
    # The shipped OpenThesaurus copy is the Debian text export, licence beside it.
    assert (
        (data / "openthesaurus-LICENSE-LGPL-2.1.txt").read_text().startswith("                  GNU LESSER")
    )
    with gzip.open(data / "openthesaurus.txt.gz", "rt", encoding="utf-8") as handle:
        assert "GNU Lesser General Public" in "".join(handle.readline() for _ in range(10))


def test_a_searcher_with_a_thesaurus_searches_and_knows_through_synonyms(fixture_release) -> None:
    from dataclasses import replace

    from assistant.service import open_assistant

    searcher = open_assistant(fixture_release).searcher
    analyzer = searcher.analyzer
    thesaurus = Thesaurus([(0.5, ["Quartiersfonds", "Kiezkasse"])], analyzer)
    question = "Wer entscheidet über die Kiezkasse?"
    plain = searcher.lexical_weights(question)
    expanded = replace(searcher, thesaurus=thesaurus).lexical_weights(question)
    fonds = analyzer.word_stems("Quartiersfonds")[0]
    assert fonds not in plain and expanded[fonds] == 0.5
    assert {k: v for k, v in expanded.items() if k != fonds} == plain
    known = searcher.features(question, [], np.zeros(0))[3]
    assert replace(searcher, thesaurus=thesaurus).features(question, [], np.zeros(0))[3] > known
    assert replace(searcher, thesaurus=thesaurus, expand_search=False).lexical_weights(question) == plain


def test_a_passage_found_only_through_a_synonym_ranks_by_its_weight() -> None:
    texts = ["Der Quartiersfonds bezahlt Feste.", "Das Wetter ist schön."]
    lexical = LexicalIndex.build(texts)
    passages = tuple(Passage(f"p{i}", t, Citation("D")) for i, t in enumerate(texts))
    engine = FolderEngine(None, passages, lexical)
    stem = lexical.analyzer.word_stems("Quartiersfonds")[0]
    rows, scores, _ = engine.lexical({stem: 0.5}, 2, np.zeros(0, dtype=np.int64))
    full_rows, full_scores, _ = engine.lexical({stem: 1.0}, 2, np.zeros(0, dtype=np.int64))
    assert rows.tolist() == full_rows.tolist() == [0] and scores[0] == np.float32(0.5) * full_scores[0]
