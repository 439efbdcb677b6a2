import pytest

from assistant.retrieval.followup import contextual_query
from assistant.text import GermanAnalyzer

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


def test_the_model_reads_the_last_two_questions_and_the_one_that_named_the_topic() -> None:
    history = ["Was ist ein Verfügungsfonds?", "Was ist BIWAQ?", "Und wer?", "Und wo?"]
    query = contextual_query("Und wie lange?", history, ANALYZER)
    assert query.borrowed == ("BIWAQ",)
    assert query.dense_text == "Was ist BIWAQ? Und wer? Und wo? Und wie lange?"
    long = contextual_query(
        "Und wer?", ["Was ist ein Quartiersrat? " + "Bitte ausführlich. " * 100], ANALYZER
    )
    assert long.dense_text.endswith(" Und wer?") and len(long.dense_text) <= 300 + len(" Und wer?")
