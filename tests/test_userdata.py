"""The SQLite store of conversations and feedback: round trips, order, permissions, no files by reading."""

from __future__ import annotations

import stat
from pathlib import Path

from assistant.records import Answer, AnswerSentence, Citation, Hit, Passage
from assistant.userdata import UserStore, is_conversation_id


def answer(question: str) -> Answer:
    passage = Passage(
        "p1", "Ein Gremium entscheidet.\n\nZweiter Absatz.", Citation("Dok", "Kap", "Abs", 3, "iii", "a.pdf")
    )
    return Answer(
        question=question,
        hits=(Hit(passage, 0.8, dense=0.7, lexical=9.5),),
        no_match=False,
        message=None,
        model="m",
        build_id="b",
        history=("Vorher?",),
        searched=f"{question} (+ Fonds)",
        sentences=(AnswerSentence("Ein Gremium entscheidet.", "p1", 1),),
        highlights=(("Gremium",),),
    )


def test_conversation_round_trip_keeps_every_detail(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "sub" / "store.sqlite3")
    conversation, number = store.add_turn(None, answer("Erste Frage?"))
    assert is_conversation_id(conversation) and number == 1
    assert store.add_turn(conversation, answer("Zweite Frage?")) == (conversation, 2)
    turns = store.conversation(conversation)
    assert turns is not None and [t.number for t in turns] == [1, 2]
    assert turns[0].answer == answer("Erste Frage?")  # dataclass equality: nothing lost on the way
    assert [t.answer.question for t in turns] == ["Erste Frage?", "Zweite Frage?"]
    assert store.questions(conversation) == ["Erste Frage?", "Zweite Frage?"]
    assert store.questions("A" * 22) is None
    assert store.conversation("A" * 22) is None


def test_feedback_newest_first_and_marked_on_its_turn(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "store.sqlite3")
    conversation, _ = store.add_turn(None, answer("Frage?"))
    store.add_feedback(
        helpful=False,
        comment="",
        question="Frage?",
        passages=["p1"],
        build_id="b",
        conversation=conversation,
        turn=1,
    )
    store.add_feedback(
        helpful=True,
        comment="Doch gut",
        question="Frage?",
        passages=["p1"],
        build_id="b",
        conversation=conversation,
        turn=1,
    )
    store.add_feedback(helpful=False, comment="API", question="Andere?", passages=[], build_id="b")
    entries = store.feedback()
    assert [f.comment for f in entries] == ["API", "Doch gut", ""]
    assert [f.comment for f in store.feedback(limit=1, offset=1)] == ["Doch gut"]
    turns = store.conversation(conversation)
    assert turns is not None and turns[0].feedback is True  # the latest rating counts


def test_reading_creates_nothing_and_the_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = UserStore(path)
    assert store.feedback() == [] and store.conversation("A" * 22) is None
    assert not path.exists()
    store.add_feedback(helpful=True, comment="", question="F?", passages=[], build_id="b")
    for file in tmp_path.iterdir():  # the database and SQLite's -wal/-shm files alike
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name


def test_conversation_ids_are_checked_before_any_lookup() -> None:
    assert not is_conversation_id("../../etc/passwd")
    assert not is_conversation_id("A" * 21) and not is_conversation_id("A" * 21 + "/")
    assert is_conversation_id("Abc-_" + "x" * 17)
