"""The check of generated sentences against the evidence in the passages they cite, and the prompt.

Each rule is shown with a sentence it must pass and one it must reject; the blind set in
eval/grounding/ (bench/grounding.py) measures the whole check on sentences written without it."""

from __future__ import annotations

import pytest

from assistant.generation.grounding import (
    NOT_ANSWERED,
    check_sentences,
    citation_grammar,
    grounded_messages,
    grounding_checker,
    is_usable,
)
from assistant.records import Citation, GeneratedSentence, Hit, Passage
from assistant.text import GermanAnalyzer

FONDS = Passage(
    "a",
    "Für kleine Projekte gibt es den Verfügungsfonds. Über den Quartiersfonds entscheidet ein Gremium "
    "aus Bewohnerinnen, Bewohnern und lokalen Akteuren. Die Verwaltung steuert die Vergabe nur in "
    "geringem Umfang.",
    Citation("Leitfaden", "Beteiligung", "Der Quartiersfonds"),
)
BEIRAT = Passage(
    "b",
    "Der Quartiersbeirat berät das Quartiersmanagement und tagt regelmäßig öffentlich. "
    "Von 1999 bis 2019 wurden 965 Maßnahmen in 544 Städten und Gemeinden gefördert. "
    "Ein Träger wird vom Senat beauftragt, im Einvernehmen mit dem Bezirk. "
    "Der Quartiersrat kann Projekte empfehlen, die Entscheidung trifft aber nicht der Rat.",
    Citation("Leitfaden", "Gremien", "Der Beirat"),
)
HITS = [Hit(FONDS, 1.0), Hit(BEIRAT, 0.5)]
ANALYZER = GermanAnalyzer.for_corpus([FONDS.text, BEIRAT.text])
QUESTION = "Wer entscheidet über den Quartiersfonds?"


def check(text: str, question: str = QUESTION) -> list[GeneratedSentence]:
    return list(check_sentences(text, HITS, ANALYZER, question=question))


def verified(text: str, question: str = QUESTION) -> bool:
    [sentence] = check(text, question)
    return sentence.verified


def test_a_supported_sentence_is_verified_with_its_evidence_where_it_stands() -> None:
    [sentence] = check("Über den Quartiersfonds entscheidet ein Gremium aus Bewohnern. [1]")
    assert sentence.markers == (1,) and sentence.verified and sentence.support == 1.0
    assert sentence.text == "Über den Quartiersfonds entscheidet ein Gremium aus Bewohnern."
    [quote] = sentence.evidence
    assert quote.marker == 1 and quote.passage_id == "a" and quote.text.startswith("Über den Quartiersfonds")
    assert FONDS.text[quote.start : quote.end] == quote.text and sentence.reason is None


def test_markers_must_name_given_passages_and_the_cited_one_must_hold_the_evidence() -> None:
    checked = check(
        "Über den Quartiersfonds entscheidet ein Gremium [3]. "
        "Der Quartiersbeirat tagt öffentlich [1]. "
        "Der Quartiersbeirat tagt öffentlich [2]. "
        "Die Stadt zahlt jedem Mieter eine Prämie."
    )
    assert [(s.markers, s.verified) for s in checked] == [
        ((3,), False),
        ((1,), False),
        ((2,), True),
        ((), False),
    ]
    assert all(s.reason for s in checked if not s.verified)
    assert not is_usable(checked)


def test_a_paraphrase_in_other_words_and_order_passes() -> None:
    assert verified("Ein Gremium aus Bewohnern und lokalen Akteuren entscheidet über den Quartiersfonds [1].")
    assert verified("Nur in geringem Umfang steuert die Verwaltung die Vergabe [1].")
    # Two adjacent sentences of the passage, and a sentence combining two cited passages.
    assert verified("Es gibt einen Verfügungsfonds, über den ein Gremium entscheidet [1].")
    assert verified(
        "Über den Quartiersfonds entscheidet ein Gremium, der Quartiersbeirat tagt öffentlich [1, 2]."
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "Über den Quartiersfonds entscheidet kein Gremium aus Bewohnern [1].",
        "Über den Quartiersfonds entscheidet nicht ein Gremium, sondern die Verwaltung [1].",
        "Die Verwaltung steuert die Vergabe in großem Umfang [1].",  # "nur in geringem" dropped
        "Der Quartiersrat trifft die Entscheidung über Projekte [2].",  # "nicht" dropped
    ],
)
def test_another_polarity_is_rejected(sentence: str) -> None:
    assert not verified(sentence, "Wie arbeitet das Gremium?")


@pytest.mark.parametrize(
    ("sentence", "faithful"),
    [
        ("Von 1999 bis 2019 wurden 965 Maßnahmen in 544 Städten gefördert [2].", True),
        ("Von 1999 bis 2019 wurden 544 Maßnahmen in 965 Städten gefördert [2].", False),
        ("Von 1999 bis 2019 wurden 956 Maßnahmen in 544 Städten gefördert [2].", False),
        ("Von 1996 bis 2019 wurden 965 Maßnahmen in 544 Städten gefördert [2].", False),
    ],
)
def test_numbers_must_stand_in_the_evidence_counting_the_same_noun(sentence: str, faithful: bool) -> None:
    assert verified(sentence, "Wie viele Maßnahmen gab es?") is faithful


def test_numbers_are_compared_in_one_form() -> None:
    checker = grounding_checker(ANALYZER)
    same = [checker.analyse(text).numbers[0][0] for text in ("15.000 Euro", "15 000 Euro", "15000 Euro")]
    assert len(set(same)) == 1
    assert (
        checker.analyse("200 Mio. Euro").numbers[0][0] == checker.analyse("200 Millionen Euro").numbers[0][0]
    )
    assert checker.analyse("zwei Jahre").numbers[0][0] == checker.analyse("2 Jahre").numbers[0][0]
    assert checker.analyse("30 Prozent").numbers[0][0] == checker.analyse("30 %").numbers[0][0]


@pytest.mark.parametrize(
    ("sentence", "faithful"),
    [
        ("Ein Träger wird vom Senat beauftragt, im Einvernehmen mit dem Bezirk [2].", True),
        ("Der Senat beauftragt einen Träger im Einvernehmen mit dem Bezirk [2].", True),
        ("Ein Träger wird vom Bezirk beauftragt, im Einvernehmen mit dem Senat [2].", False),
        ("Der Quartiersbeirat berät das Quartiersmanagement [2].", True),
        ("Das Quartiersmanagement berät den Quartiersbeirat [2].", False),
    ],
)
def test_actors_keep_their_roles(sentence: str, faithful: bool) -> None:
    assert verified(sentence, "Wer beauftragt wen?") is faithful


@pytest.mark.parametrize(
    "sentence",
    [
        "Der Quartiersrat muss Projekte empfehlen [2].",  # kann -> muss
        "Der Quartiersrat empfiehlt Projekte [2].",  # kann dropped
        "Der Quartiersbeirat tagt immer öffentlich [2].",
        "Über alle Fonds entscheidet ein Gremium aus Bewohnern [1].",
    ],
)
def test_a_stronger_claim_than_the_evidence_is_rejected(sentence: str) -> None:
    assert not verified(sentence, "Was macht der Rat?")


def test_a_claim_the_passage_does_not_make_is_rejected_even_in_its_own_words() -> None:
    [sentence] = check("Über den Quartiersfonds entscheidet das Gremium am Jahresende [1].")
    assert not sentence.verified and "Jahresende" in (sentence.reason or "")


def test_an_echo_of_the_question_is_no_answer() -> None:
    assert not verified("Über den Quartiersfonds wird entschieden [1].")
    assert verified("Über den Quartiersfonds entscheidet ein Gremium [1].")


def test_several_markers_and_the_answer_used_only_when_mostly_verified() -> None:
    good = GeneratedSentence("x", (1,), True)
    bad = GeneratedSentence("y", (), False)
    assert is_usable([good]) and is_usable([good, bad])
    assert not is_usable([good, bad, bad]) and not is_usable([]) and not is_usable([bad])


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
    [sentence] = check("Der Quartiersbeirat tagt öffentlich [2].")
    assert sentence.text == "Der Quartiersbeirat tagt öffentlich." and sentence.markers == (2,)


def test_the_citation_grammar_names_only_the_passages_given() -> None:
    grammar = citation_grammar(3)
    assert "marker ::= [1-3]" in grammar and f'"{NOT_ANSWERED}"' in grammar
    assert "marker ::= [1]" in citation_grammar(1)
    for wrong in (0, 10):
        with pytest.raises(ValueError):
            citation_grammar(wrong)


def test_a_sentence_that_repeats_an_earlier_one_is_not_verified_again() -> None:
    first, again, other = check(
        "Der Quartiersbeirat tagt öffentlich [2]. Der Quartiersbeirat tagt öffentlich [1, 2]. "
        "Über den Quartiersfonds entscheidet ein Gremium [1]."
    )
    assert first.verified and not again.verified and other.verified


def test_huge_words_and_long_answers_are_checked_in_linear_time() -> None:
    # A model that sends one 200,000-letter "word" (or ten thousand sentences) must not hold a
    # worker for minutes: nothing quadratic in a word's or the text's length.
    [sentence] = check("Über den " + "Quartiersfonds" * 15_000 + " entscheidet ein Gremium [1].")
    assert not sentence.verified
    many = check(" ".join(["Der Quartiersbeirat tagt öffentlich [2]."] * 2_000))
    assert len(many) == 2_000 and many[0].verified and not many[-1].verified


def test_a_model_stuck_in_a_loop_or_a_fragment_is_not_verified() -> None:
    # Small models repeat themselves or stop mid-sentence; every word of such a "sentence" may stand
    # in the passage, but it says nothing.
    loop, fragment = check(
        "Über den Quartiersfonds entscheidet ein Gremium Gremium Gremium [1]. Das Gremium [1]."
    )
    assert not loop.verified and loop.reason == "wiederholt Wörter"
    assert not fragment.verified and fragment.reason == "kein vollständiger Satz"
