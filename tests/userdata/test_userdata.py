"""The store of conversations and feedback, SQLite and PostgreSQL alike: round trips, order, turn numbers
under concurrent writers, errors; SQLite's file permissions and that reading creates no file."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.errors import UserStoreError
from assistant.records import Answer, AnswerSentence, Citation, GeneratedSentence, Hit, Passage
from assistant.userdata import SQLiteUserStore, UserStore, is_conversation_id
from assistant.userdata.base import Deleted

StoreFactory = Callable[[], UserStore]


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
        related=(passage,),  # (with an answer it is empty; here it only has to round-trip)
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores over one fresh, empty backend; each call is another store object on the same data,
    as another server process (replica) would have."""
    opened: list[UserStore] = []
    if request.param == "sqlite":

        def make() -> UserStore:
            opened.append(SQLiteUserStore(tmp_path / "sub" / "store.sqlite3"))
            return opened[-1]

    else:
        from assistant.userdata.postgres import PostgresUserStore

        url = request.getfixturevalue("postgres_url")

        def make() -> UserStore:
            opened.append(PostgresUserStore(url, max_size=4, timeout=10))
            return opened[-1]

    yield make
    for store in opened:
        store.close()


def test_conversation_round_trip_keeps_every_detail(make_store: StoreFactory) -> None:
    store = make_store()
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
    with pytest.raises(KeyError):
        store.add_turn("A" * 22, answer("Wohin?"))
    assert make_store().questions(conversation) == ["Erste Frage?", "Zweite Frage?"]  # committed


def test_the_streamed_answer_replaces_its_turns_answer_and_nothing_else(make_store: StoreFactory) -> None:
    store = make_store()
    conversation, _ = store.add_turn(None, answer("Erste Frage?"))
    store.add_turn(conversation, answer("Zweite Frage?"))
    written = replace(
        answer("Erste Frage?"),
        generated=(GeneratedSentence("Ein Gremium entscheidet.", (1,), True, 1.0),),
    )
    assert store.replace_answer(conversation, 1, written)
    turns = make_store().conversation(conversation)
    assert turns is not None and [t.answer for t in turns] == [written, answer("Zweite Frage?")]
    assert not store.replace_answer(conversation, 3, written)
    assert not store.replace_answer("A" * 22, 1, written)


def test_feedback_newest_first_and_marked_on_its_turn(make_store: StoreFactory) -> None:
    store = make_store()
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
        passages=["p1", "p2"],
        build_id="b",
        conversation=conversation,
        turn=1,
    )
    given = store.add_feedback(helpful=False, comment="API", question="Andere?", passages=[], build_id="b")
    entries = make_store().feedback()  # what another process reads
    assert [f.comment for f in entries] == ["API", "Doch gut", ""]
    assert entries[0] == given  # every field read back as it was returned, the time included
    assert entries[1].passages == ("p1", "p2") and entries[1].helpful is True
    assert (entries[1].conversation, entries[1].turn) == (conversation, 1)
    assert entries[0].created.endswith("+00:00") and entries[0].id > entries[1].id
    assert [f.comment for f in store.feedback(limit=1, offset=1)] == ["Doch gut"]
    assert [f.comment for f in store.feedback(offset=2)] == [""]
    turns = store.conversation(conversation)
    assert turns is not None and turns[0].feedback is True  # the latest rating counts


def test_a_new_store_reads_as_empty(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.feedback() == []
    assert store.conversation("A" * 22) is None and store.questions("A" * 22) is None


def test_concurrent_turns_and_feedback_lose_nothing(make_store: StoreFactory) -> None:
    """Several replicas add turns to one conversation at once: numbers stay unique and consecutive,
    and each writer gets back the number its turn was stored under."""
    conversation, _ = make_store().add_turn(None, answer("Anfang?"))
    writers, each = 6, 4
    stores = [make_store() for _ in range(writers)]
    start = threading.Barrier(writers)

    def write(worker: int) -> None:
        store = stores[worker]
        start.wait()
        for i in range(each):
            _, number = store.add_turn(conversation, answer(f"Frage {worker}.{i}?"))
            store.add_feedback(
                helpful=i % 2 == 0,
                comment=f"{worker}.{i}",
                question=f"Frage {worker}.{i}?",
                passages=["p1"],
                build_id="b",
                conversation=conversation,
                turn=number,
            )

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))  # re-raises a writer's exception here

    turns = make_store().conversation(conversation)
    assert turns is not None
    assert [t.number for t in turns] == list(range(1, writers * each + 2))
    asked = [f"Frage {w}.{i}?" for w in range(writers) for i in range(each)]
    assert sorted(t.answer.question for t in turns[1:]) == sorted(asked)
    feedback = make_store().feedback()
    assert sorted(f.comment for f in feedback) == sorted(q[6:-1] for q in asked)
    by_number = {t.number: t.answer.question for t in turns}
    for entry in feedback:  # the number add_turn returned is the turn the question was stored as
        assert entry.turn is not None and by_number[entry.turn] == entry.question


def test_replicas_starting_together_create_the_tables_once(make_store: StoreFactory) -> None:
    stores = [make_store() for _ in range(4)]
    start = threading.Barrier(len(stores))

    def first_write(store: UserStore) -> int:
        start.wait()
        return store.add_feedback(helpful=True, comment="", question="F?", passages=[], build_id="b").id

    with ThreadPoolExecutor(len(stores)) as pool:
        ids = list(pool.map(first_write, stores))
    assert len(set(ids)) == len(stores) and len(make_store().feedback()) == len(stores)


def test_purge_deletes_exactly_what_is_older_even_under_concurrent_writes(make_store: StoreFactory) -> None:
    store = make_store()
    old = [store.add_turn(None, answer(f"Alte Frage {i}?"))[0] for i in range(2)]
    store.add_feedback(
        helpful=True,
        comment="alt",
        question="Alte Frage 0?",
        passages=["p1"],
        build_id="b",
        conversation=old[0],
        turn=1,
    )
    store.add_feedback(
        helpful=False, comment="alt, lose", question="Ohne Gespräch?", passages=[], build_id="b"
    )
    still_used, _ = store.add_turn(None, answer("Früh begonnen?"))
    time.sleep(1.1)  # the stores keep times to the second
    cutoff = datetime.now(UTC)
    time.sleep(1.1)
    store.add_turn(still_used, answer("Später weitergefragt?"))
    store.add_feedback(
        helpful=True,
        comment="neu",
        question="Früh begonnen?",
        passages=[],
        build_id="b",
        conversation=still_used,
        turn=1,
    )

    with ThreadPoolExecutor(max_workers=4) as pool:
        writers = [pool.submit(make_store().add_turn, None, answer(f"Neue Frage {i}?")) for i in range(16)]
        purged = pool.submit(store.purge, cutoff)
        new = [w.result()[0] for w in writers]
    assert purged.result() == Deleted(conversations=2, turns=2, feedback=2)
    assert all(store.conversation(c) is None for c in old)
    assert store.questions(still_used) == ["Früh begonnen?", "Später weitergefragt?"]  # used since: kept
    assert all(store.questions(c) == [f"Neue Frage {i}?"] for i, c in enumerate(new))
    assert [f.comment for f in store.feedback()] == ["neu"]
    assert store.purge(cutoff) == Deleted()  # nothing left to delete


def test_deleting_a_conversation_takes_its_turns_and_feedback_and_nothing_else(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    doomed, _ = store.add_turn(None, answer("Frau K. aus dem Hinterhaus beschwert sich?"))
    store.add_turn(doomed, answer("Und was nun?"))
    other, _ = store.add_turn(None, answer("Eine andere Frage?"))
    for conversation in (doomed, other):
        store.add_feedback(
            helpful=True,
            comment=f"zu {conversation}",
            question="?",
            passages=[],
            build_id="b",
            conversation=conversation,
            turn=1,
        )
    assert store.delete_conversation(doomed) == Deleted(conversations=1, turns=2, feedback=1)
    assert store.conversation(doomed) is None and store.export(doomed) is None
    assert store.questions(other) == ["Eine andere Frage?"]
    assert [f.conversation for f in store.feedback()] == [other]
    assert store.delete_conversation(doomed) == Deleted()
    assert store.delete_conversation("A" * 22) == Deleted()


def test_the_export_holds_everything_about_one_conversation_and_nothing_of_others(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    mine, _ = store.add_turn(None, answer("Meine erste Frage?"))
    store.add_turn(mine, answer("Meine zweite Frage?"))
    theirs, _ = store.add_turn(None, answer("Fremde Frage?"))
    store.add_feedback(
        helpful=False,
        comment="mein Kommentar",
        question="Meine zweite Frage?",
        passages=["p1"],
        build_id="b",
        conversation=mine,
        turn=2,
    )
    store.add_feedback(
        helpful=True,
        comment="fremder Kommentar",
        question="Fremde Frage?",
        passages=[],
        build_id="b",
        conversation=theirs,
        turn=1,
    )
    exported = store.export(mine)
    assert exported is not None and exported["conversation"] == mine
    assert [t["question"] for t in exported["turns"]] == ["Meine erste Frage?", "Meine zweite Frage?"]
    # The answers as stored, each in full: the same records the conversation page is rendered from.
    assert [Answer.from_record(t["answer"]) for t in exported["turns"]] == [
        answer("Meine erste Frage?"),
        answer("Meine zweite Frage?"),
    ]
    assert [(f["comment"], f["turn"]) for f in exported["feedback"]] == [("mein Kommentar", 2)]
    text = json.dumps(exported, ensure_ascii=False)
    assert "Fremde" not in text and "fremder" not in text and theirs not in text
    assert all(t["created"] and exported["created"] for t in exported["turns"])


def test_deleted_text_is_gone_from_the_sqlite_files(tmp_path: Path) -> None:
    """secure_delete zeroes freed space and the checkpoint empties the WAL: the deleted question is in
    neither file afterwards. Another connection stays open throughout, as another server process
    would, so the WAL is not simply removed when the store's own connections close."""
    secret = "Frau K. aus dem Hinterhaus 4711"

    def stored_bytes(folder: Path) -> bytes:
        return b"".join(f.read_bytes() for f in folder.iterdir() if ".sqlite3" in f.name)

    # The search finds text that lingers: a plain deletion without the store's measures leaves it.
    control = tmp_path / "control"
    control.mkdir()
    plain = sqlite3.connect(control / "plain.sqlite3", isolation_level=None)
    plain.execute("PRAGMA journal_mode=WAL")
    plain.execute("PRAGMA secure_delete=OFF")
    plain.execute("CREATE TABLE t (x TEXT)")
    plain.execute("INSERT INTO t VALUES (?), (?)", (secret, "bleibt"))
    plain.execute("DELETE FROM t WHERE x = ?", (secret,))
    assert secret.encode() in stored_bytes(control)
    plain.close()

    folder = tmp_path / "store"
    store = SQLiteUserStore(folder / "store.sqlite3")
    kept = [store.add_turn(None, answer(f"Frage {i} zum Verfügungsfonds?"))[0] for i in range(30)]
    other_process = sqlite3.connect(folder / "store.sqlite3")
    other_process.execute("SELECT COUNT(*) FROM turns").fetchone()  # now it uses the WAL too
    try:
        doomed, _ = store.add_turn(None, answer(secret))
        store.add_feedback(
            helpful=True,
            comment=secret,
            question=secret,
            passages=[],
            build_id="b",
            conversation=doomed,
            turn=1,
        )
        store.add_turn(kept[0], answer("Noch eine Frage?"))
        assert secret.encode() in stored_bytes(folder)
        assert store.delete_conversation(doomed) == Deleted(1, 1, 1)
        assert secret.encode() not in stored_bytes(folder)
        assert all(store.questions(c) for c in kept)

        old, _ = store.add_turn(None, answer("Alt: " + secret))
        assert secret.encode() in stored_bytes(folder)
        time.sleep(1.1)
        assert store.purge(datetime.now(UTC)).conversations == len(kept) + 1  # all were older
        assert secret.encode() not in stored_bytes(folder) and store.conversation(old) is None
    finally:
        other_process.close()


def test_reading_creates_nothing_and_the_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SQLiteUserStore(path)
    assert store.feedback() == [] and store.conversation("A" * 22) is None
    assert not path.exists()
    store.add_feedback(helpful=True, comment="", question="F?", passages=[], build_id="b")
    for file in tmp_path.iterdir():  # the database and SQLite's -wal/-shm files alike
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name


def test_an_unusable_sqlite_file_raises_the_store_error(tmp_path: Path) -> None:
    (tmp_path / "store.sqlite3").mkdir()  # a folder where the file should be
    store = SQLiteUserStore(tmp_path / "store.sqlite3")
    with pytest.raises(UserStoreError):
        store.add_feedback(helpful=True, comment="", question="F?", passages=[], build_id="b")
    (tmp_path / "not-a-database").write_bytes(b"plain text, not SQLite " * 100)
    with pytest.raises(UserStoreError):
        SQLiteUserStore(tmp_path / "not-a-database").feedback()


def test_conversation_ids_are_checked_before_any_lookup() -> None:
    assert not is_conversation_id("../../etc/passwd")
    assert not is_conversation_id("A" * 21) and not is_conversation_id("A" * 21 + "/")
    assert is_conversation_id("Abc-_" + "x" * 17)


def test_postgres_without_its_driver_is_refused_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from assistant.config import Settings
    from assistant.userdata import open_user_store

    monkeypatch.delitem(sys.modules, "assistant.userdata.postgres", raising=False)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the optional extra were not installed
    settings = Settings(database=tmp_path / "x.sqlite3", database_url="postgresql://u:geheim@localhost/db")
    with pytest.raises(UserStoreError, match=r"pip install 'qm-assistent\[postgres\]'") as caught:
        open_user_store(settings)
    assert "geheim" not in str(caught.value)


def test_the_feedback_csv_shows_formulas_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A visitor's comment must not become a formula in the operator's spreadsheet (OWASP CSV injection)."""
    import csv
    import io

    from assistant.cli import main

    database = tmp_path / "assistant.sqlite3"
    store = SQLiteUserStore(database)
    hostile = ['=HYPERLINK("http://evil.example","Klick")', "+49 30 1234", "-2+3", "@SUMME(A1)", "\tTab"]
    try:
        rated = [(True, text, text) for text in hostile] + [(False, "Wer?", "gut – aber kurz")]
        for helpful, question, comment in rated:
            store.add_feedback(
                helpful=helpful,
                comment=comment,
                question=question,
                passages=[],
                build_id="-b7",  # the app's own values stay as they are (a conversation id may start so)
                conversation=None,
                turn=None,
            )
    finally:
        store.close()
    monkeypatch.setenv("ASSISTANT_DATABASE", str(database))
    assert main(["feedback", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]
    cells = [cell for row in rows for cell in row[2:4]]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for cell in cells)
    assert {f"'{text}" for text in hostile} <= set(cells)
    assert ["Wer?", "gut – aber kurz"] in [row[2:4] for row in rows]  # ordinary text unchanged
    assert all(row[6] == "-b7" for row in rows)
