import pytest

from assistant.followup import contextual_query
from assistant.lexical import GermanAnalyzer

ANALYZER = GermanAnalyzer()


@pytest.mark.parametrize(
    ("question", "history", "borrowed"),
    [
        ("Und wer entscheidet darüber?", ["Was ist ein Verfügungsfonds?"], ("Verfügungsfonds",)),
        ("Wie lange dauert die?", ["Was ist die Übergangsphase in Berlin?"], ("Übergangsphase", "Berlin")),
        ("Und in Berlin?", ["Wer sitzt im Quartiersrat?"], ("Quartiersrat",)),
        (
            "Wer bezahlt das eigentlich?",
            ["Was ist BIWAQ?", "Was macht ein Stadtteilbüro?"],
            ("Stadtteilbüro",),
        ),
    ],
)
def test_questions_that_point_back_borrow_the_earlier_topic(question, history, borrowed) -> None:
    query = contextual_query(question, history, ANALYZER)
    assert query.borrowed == borrowed
    assert query.text.startswith(question) and query.shown == f"{question} (+ {' '.join(borrowed)})"
    # The model reads the follow-up after the (at most two) questions before it.
    assert query.dense_text == " ".join([*history[-2:], question])


@pytest.mark.parametrize(
    "question",
    [
        "Was ist BIWAQ?",
        "Wie funktioniert das Quartiersmanagement?",
        "Welche Aufgaben hat die Lenkungsgruppe?",
    ],
)
def test_self_contained_questions_are_searched_as_they_are(question) -> None:
    query = contextual_query(question, ["Was ist ein Verfügungsfonds?"], ANALYZER)
    assert query.borrowed == () and query.text == question == query.shown == query.dense_text


def test_without_history_nothing_is_borrowed() -> None:
    assert contextual_query("Und wer entscheidet darüber?", [], ANALYZER).borrowed == ()


def test_only_the_last_two_earlier_questions_are_read_with_a_follow_up() -> None:
    history = ["Was ist BIWAQ?", "Was ist ein Verfügungsfonds?", "Wer sitzt im Quartiersrat?"]
    query = contextual_query("Und wie lange?", history, ANALYZER)
    assert query.dense_text == "Was ist ein Verfügungsfonds? Wer sitzt im Quartiersrat? Und wie lange?"
