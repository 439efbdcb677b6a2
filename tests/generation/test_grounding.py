"""The check of generated sentences against the passages they cite, and the prompt."""

from __future__ import annotations

import pytest

from assistant.generation.grounding import (
    NOT_ANSWERED,
    check_sentences,
    citation_grammar,
    grounded_messages,
    is_usable,
)
from assistant.index.lexical import GermanAnalyzer
from assistant.records import Citation, GeneratedSentence, Hit, Passage

FONDS = Passage(
    "a",
    "Über den Quartiersfonds entscheidet ein Gremium aus Bewohnerinnen, Bewohnern und lokalen Akteuren.",
    Citation("Leitfaden", "Beteiligung", "Der Quartiersfonds"),
)
BEIRAT = Passage(
    "b",
    "Der Quartiersbeirat berät das Quartiersmanagement und tagt regelmäßig öffentlich.",
    Citation("Leitfaden", "Gremien", "Der Beirat"),
)
HITS = [Hit(FONDS, 1.0), Hit(BEIRAT, 0.5)]
ANALYZER = GermanAnalyzer()


def test_a_supported_sentence_with_a_valid_marker_is_verified() -> None:
    [sentence] = check_sentences(
        "Über den Quartiersfonds entscheidet ein Gremium aus Bewohnern. [1]", HITS, ANALYZER
    )
    assert sentence.markers == (1,) and sentence.verified and sentence.support == 1.0
    assert sentence.text == "Über den Quartiersfonds entscheidet ein Gremium aus Bewohnern."


def test_markers_must_name_given_passages_and_the_cited_one_must_support_it() -> None:
    checked = check_sentences(
        "Das Gremium entscheidet über den Quartiersfonds [3]. "
        "Der Beirat tagt öffentlich [1]. "
        "Der Beirat tagt öffentlich [2]. "
        "Die Stadt zahlt jedem Mieter eine Prämie.",
        HITS,
        ANALYZER,
    )
    assert [(s.markers, s.verified) for s in checked] == [
        ((3,), False),
        ((1,), False),
        ((2,), True),
        ((), False),
    ]
    assert not is_usable(checked)


def test_several_markers_and_the_answer_used_only_when_mostly_verified() -> None:
    [both] = check_sentences("Gremium und Quartiersbeirat beraten [1, 2].", HITS, ANALYZER)
    assert both.markers == (1, 2) and both.verified
    verified = GeneratedSentence("x", (1,), True)
    unverified = GeneratedSentence("y", (), False)
    assert is_usable([verified]) and is_usable([verified, unverified])
    assert (
        not is_usable([verified, unverified, unverified])
        and not is_usable([])
        and not is_usable([unverified])
    )


def test_the_prompt_numbers_the_passages_and_carries_the_earlier_questions() -> None:
    system, user = grounded_messages("Und wer berät?", ["Wer entscheidet über den Fonds?"], HITS)
    assert system["role"] == "system" and "ausschließlich" in system["content"] and "[2]" in system["content"]
    assert user["content"].index("[1] Beteiligung › Der Quartiersfonds") < user["content"].index(
        "[2] Gremien"
    )
    assert "Wer entscheidet über den Fonds?" in user["content"] and user["content"].endswith(
        "Frage: Und wer berät?"
    )


def test_a_marker_inside_the_sentence_leaves_no_space_before_its_period() -> None:
    [sentence] = check_sentences("Der Quartiersbeirat tagt öffentlich [2].", HITS, ANALYZER)
    assert sentence.text == "Der Quartiersbeirat tagt öffentlich." and sentence.markers == (2,)


def test_the_citation_grammar_names_only_the_passages_given() -> None:
    grammar = citation_grammar(3)
    assert "marker ::= [1-3]" in grammar and f'"{NOT_ANSWERED}"' in grammar
    assert "marker ::= [1]" in citation_grammar(1)
    for wrong in (0, 10):
        with pytest.raises(ValueError):
            citation_grammar(wrong)


def test_a_sentence_that_repeats_an_earlier_one_is_not_verified_again() -> None:
    first, again, other = check_sentences(
        "Der Quartiersbeirat tagt öffentlich [2]. Der Quartiersbeirat tagt öffentlich [1, 2]. "
        "Über den Quartiersfonds entscheidet ein Gremium [1].",
        HITS,
        ANALYZER,
    )
    assert first.verified and not again.verified and again.support == 1.0 and other.verified
