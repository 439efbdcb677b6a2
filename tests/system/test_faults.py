"""Faults with real processes: builds killed at random points, damaged releases, a release of another
model, a feedback writer killed in the middle of a write, and the options ``assistant serve`` gives
uvicorn.

Random points come from a seeded ``random.Random``; every assertion message names the seed and the
drawn values, so a failure can be reproduced by running the test again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.build import build_index
from assistant.cli import cmd_serve, main
from assistant.config import Settings
from assistant.errors import ModelMismatch, ReleaseError
from assistant.index.folder.releases import current_build_id, load_release, open_release
from assistant.service import open_assistant

REPO = Path(__file__).resolve().parents[2]
QUESTION = "Was ist ein Quartiersfonds?"


def sha256_tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (relative path → SHA-256): to prove that nothing was changed."""
    return {
        file.relative_to(folder).as_posix(): hashlib.sha256(file.read_bytes()).hexdigest()
        for file in sorted(folder.rglob("*"))
        if file.is_file()
    }


def assert_serves(settings: Settings, context: str) -> None:
    """The release named by CURRENT passes its checksums and answers the fixture question."""
    try:
        release = load_release(settings.index_dir)
        answer = open_assistant(settings).ask(QUESTION)
    except Exception as exc:  # the seed and the delays belong in the report of a failure
        pytest.fail(f"{context}: {type(exc).__name__}: {exc}")
    assert len(release.passages) == release.manifest.passage_count > 0, context
    assert answer.hits and answer.hits[0].passage.citation.section == "Der Quartiersfonds", context


# -- 1. builds killed at random points -----------------------------------------------------------

# Six kills in [0, D] spread from 6 % to 95 % of D (sum 3.0 D, the expected value): with D about 5 s
# on two cores (mostly importing sentence-transformers) the test takes about 20 s.
BUILD_SEED = 31337
BUILD_KILLS = 6


@pytest.mark.slow
def test_builds_killed_at_random_points_leave_the_served_release_intact(index_copy: Settings) -> None:
    """A real ``assistant build --full`` is SIGKILLed at seeded random moments across its whole run:
    after each kill CURRENT names the release served before or a complete new one, and it serves."""
    index_dir = index_copy.index_dir
    releases = index_dir / "releases"
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(index_dir),
        "ASSISTANT_CORPUS_DIR": str(index_copy.corpus_dir),
        "ASSISTANT_MODEL": str(index_copy.model),
    }
    command = [sys.executable, "-m", "assistant.cli", "build", "--full"]
    passage_count = load_release(index_dir).manifest.passage_count

    # One complete build, timed: its duration D spans the range the kills are drawn from.
    started = time.monotonic()
    complete = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    duration = time.monotonic() - started
    assert complete.returncode == 0, complete.stderr
    assert f"({passage_count} neu eingebettet)" in complete.stdout  # --full: the whole work every time
    assert_serves(index_copy, "after the complete build")

    rng = random.Random(BUILD_SEED)
    delays = [round(rng.uniform(0, duration), 3) for _ in range(BUILD_KILLS)]
    phases: list[str] = []
    for delay in delays:
        served = current_build_id(index_dir)
        context = f"seed {BUILD_SEED}, D={duration:.2f}s, delays {delays}, killed at {delay}s"
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        now = current_build_id(index_dir)
        assert now is not None, context
        if now == served:
            phases.append("staging" if list(releases.glob(".tmp-*")) else "before staging")
        else:
            phases.append("published")
            assert now > served, context  # a newer build, never an older release brought back
            try:
                release = open_release(releases / now)  # complete: every checksum of the new release
            except ReleaseError as exc:
                pytest.fail(f"{context}: CURRENT names an incomplete release: {exc}")
            assert release.manifest.passage_count == passage_count, context
        context += f", phases so far {phases}"
        assert (releases / now).is_dir() and not now.startswith(".tmp-"), context
        assert_serves(index_copy, context)

    # The kills must have hit builds in the middle of their work, not only before they began writing.
    assert "staging" in phases, f"seed {BUILD_SEED}, delays {delays}: no kill landed mid-build ({phases})"
    # The next normal build clears what the killed ones left behind and publishes.
    report = build_index(index_copy)
    assert current_build_id(index_dir) == report.build_id, f"seed {BUILD_SEED}, delays {delays}"
    assert not list(releases.glob(".tmp-*")), f"seed {BUILD_SEED}, delays {delays}, phases {phases}"
    assert_serves(index_copy, f"seed {BUILD_SEED}, delays {delays}, after the final build")


# -- 2. damaged releases ---------------------------------------------------------------------------


def _truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def _flip_byte(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x20
    file.write_bytes(bytes(data))


def _first_lexical_file(release: Path) -> Path:
    return sorted(f for f in (release / "lexical").rglob("*") if f.is_file())[0]


# (what is done to the served release folder) → the text the refusal must name
DAMAGES: dict[str, tuple[Callable[[Path], object], Callable[[Path], str]]] = {
    "index.faiss truncated": (lambda r: _truncate(r / "index.faiss"), lambda r: "index.faiss"),
    "passages.jsonl one byte flipped": (
        lambda r: _flip_byte(r / "passages.jsonl"),
        lambda r: "passages.jsonl",
    ),
    "lexical file one byte flipped": (
        lambda r: _flip_byte(_first_lexical_file(r)),
        lambda r: _first_lexical_file(r).relative_to(r).as_posix(),
    ),
    "passages.offsets.npy deleted": (
        lambda r: (r / "passages.offsets.npy").unlink(),
        lambda r: "passages.offsets.npy",
    ),
    "sources.json deleted": (lambda r: (r / "sources.json").unlink(), lambda r: "sources.json"),
    "manifest.json truncated": (lambda r: _truncate(r / "manifest.json"), lambda r: "manifest"),
    "manifest.json not JSON": (
        lambda r: (r / "manifest.json").write_bytes(b"\x00\xff garbage"),
        lambda r: "manifest",
    ),
    "manifest.json JSON but no object": (
        lambda r: (r / "manifest.json").write_text("[]"),
        lambda r: "manifest",
    ),
    "manifest.json without its checksums": (
        lambda r: (r / "manifest.json").write_text(
            (r / "manifest.json").read_text().replace('"files":', '"Files":', 1)
        ),
        lambda r: "manifest",
    ),
    "manifest.json with a field of the wrong type": (
        lambda r: (r / "manifest.json").write_text(
            re.sub(r'"dimension": \d+', '"dimension": "viele"', (r / "manifest.json").read_text(), count=1)
        ),
        lambda r: "manifest",
    ),
    "manifest.json deleted": (lambda r: (r / "manifest.json").unlink(), lambda r: "manifest"),
}


@pytest.fixture
def two_releases(index_copy: Settings) -> tuple[Settings, Path, Path]:
    """The fixture release as the previous one and a newer release served on top of it."""
    previous = load_release(index_copy.index_dir).path
    served = build_index(index_copy).path
    assert previous != served and previous.is_dir()
    return index_copy, previous, served


def serve_refusal(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """``assistant serve`` through the CLI's main: exits 1 without serving; returns its stderr."""

    def no_server(*args: object, **kwargs: object) -> None:
        raise AssertionError("uvicorn.run must not be reached")

    monkeypatch.setattr("uvicorn.run", no_server)
    monkeypatch.chdir(settings.index_dir.parent)  # the default var/ database, were it made, lands here
    monkeypatch.setattr(logging.getLogger(), "handlers", list(logging.getLogger().handlers))
    capsys.readouterr()
    argv = ["--index-dir", str(settings.index_dir), "--model", str(settings.model), "serve"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def assert_one_line_load_error(err: str, *names: str) -> None:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Fehler beim Laden des Index: "), err
    for name in names:
        assert name in lines[0], (name, err)


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_release_is_refused_and_the_previous_one_left_alone(
    damage: str,
    two_releases: tuple[Settings, Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Extends test_damaged_release_is_refused_with_a_clear_message (tests/index/test_build.py) to every kind
    of damage: load refuses it naming release and file, serve exits 1 with one German line."""
    settings, previous, served = two_releases
    do, named = DAMAGES[damage]
    file = named(served)
    do(served)
    before = sha256_tree(settings.index_dir)

    with pytest.raises(ReleaseError) as refused:
        load_release(settings.index_dir)
    message = str(refused.value)
    assert served.name in message and file in message, message
    with pytest.raises(ReleaseError):
        open_assistant(settings)
    assert_one_line_load_error(serve_refusal(settings, capsys, monkeypatch), served.name, file)

    # Refusing changed nothing on disk: the previous release is intact and still loads, CURRENT and
    # the damaged release stay as they were (for inspection).
    assert sha256_tree(settings.index_dir) == before
    assert current_build_id(settings.index_dir) == served.name
    assert open_release(previous).build_id == previous.name


@pytest.mark.slow
def test_current_naming_a_missing_release_is_refused(
    two_releases: tuple[Settings, Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, previous, served = two_releases
    missing = "20990101T000000000000Z-abcdef"
    (settings.index_dir / "CURRENT").write_text(missing + "\n")
    before = sha256_tree(settings.index_dir)
    with pytest.raises(ReleaseError, match=f"genannte Index-Stand {missing} existiert nicht"):
        load_release(settings.index_dir)
    assert_one_line_load_error(serve_refusal(settings, capsys, monkeypatch), missing, "CURRENT")
    assert sha256_tree(settings.index_dir) == before
    assert open_release(previous).build_id == previous.name and open_release(served).build_id == served.name


# -- 3. a release of another model -----------------------------------------------------------------


@pytest.mark.slow
def test_release_built_with_another_model_is_refused(
    index_copy: Settings,
    tiny_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = load_release(index_copy.index_dir)
    # The fixture release was built with the tiny model given explicitly: it names it, bundles none.
    assert release.manifest.model == str(tiny_model) and release.manifest.model_dir is None
    for other in ["intfloat/multilingual-e5-small", str(tmp_path / "anderes-modell")]:
        settings = index_copy.model_copy(update={"model": other})
        with pytest.raises(ModelMismatch) as refused:
            open_assistant(settings)
        message = str(refused.value)
        assert release.build_id in message and str(tiny_model) in message and other in message, message
        assert "'assistant build' ausführen" in message, message
        assert_one_line_load_error(
            serve_refusal(settings, capsys, monkeypatch), str(tiny_model), other, "assistant build"
        )
    assert_serves(index_copy, "the release with the model it was built with")  # the control


# -- 4. the feedback store killed in the middle of a write ---------------------------------------

STORE_SEED = 815
STORE_KILLS = 5

# Writes turns and feedback as fast as it can; prints a record's key and content hash only after the
# write returned (committed).
WRITER = r"""
import hashlib, json, sys
from tests.userdata.test_userdata import answer

def digest(record):
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

backend, target, run = sys.argv[1], sys.argv[2], sys.argv[3]
if backend == "sqlite":
    from assistant.userdata import SQLiteUserStore
    store = SQLiteUserStore(target)
else:
    from assistant.userdata.postgres import PostgresUserStore
    store = PostgresUserStore(target, max_size=1, timeout=10)
conversation = None
i = 0
while True:
    i += 1
    given = answer(f"Lauf {run}, Frage {i}: Wer entscheidet über den Quartiersfonds? Ä ö ü ß ✓")
    conversation, number = store.add_turn(None if i % 4 == 1 else conversation, given)
    print("turn", conversation, number, digest(given.to_record()), flush=True)
    feedback = store.add_feedback(
        helpful=i % 2 == 0, comment=f"Kommentar {i} " + "x" * (i % 50), question=given.question,
        passages=["p1", f"p{i}"], build_id=f"build-{run}", conversation=conversation, turn=number,
    )
    print("feedback", feedback.id, digest(feedback.to_dict()), flush=True)
"""


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def write_until_killed(backend: str, target: str, run: int, records: int, extra_ms: float) -> list[list[str]]:
    """Start the writer, let it report ``records`` records, wait ``extra_ms`` more, SIGKILL it; returns
    every record it reported as written (also those still in the pipe)."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, backend, target, str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    lines = []
    for _ in range(records):
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=30)
            raise AssertionError(
                f"the writer stopped early: {process.stderr.read() if process.stderr else ''}"
            )
        lines.append(line)
    time.sleep(extra_ms / 1000)
    process.send_signal(signal.SIGKILL)
    # Read on through the same stream: readline() may have read ahead into its buffer, which
    # communicate() (reading the pipe itself) would miss, losing lines the writer did report.
    rest = process.stdout.read()
    process.wait(timeout=30)
    if process.stderr is not None:
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    lines.extend(rest.splitlines(keepends=True))
    return [line.split() for line in lines if line.endswith("\n")]  # a line cut short was not reported


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_feedback_store_survives_a_writer_killed_mid_write(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every record a killed writer reported as written is there, identical; at most the one write
    it had committed but not yet reported is extra; turns stay numbered without gaps; new writes work.
    (The SQLite file's 0600 mode on a normal write: test_reading_creates_nothing_and_the_file_is_owner_only
    in tests/userdata/test_userdata.py; here it is checked after kills.)"""
    if backend == "sqlite":
        from assistant.userdata import SQLiteUserStore

        target = str(tmp_path / "var" / "assistant.sqlite3")
        store: Any = SQLiteUserStore(Path(target))

        def count(table: str) -> int:
            if not Path(target).exists():
                return 0
            with sqlite3.connect(target) as db:
                tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
                return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] if table in tables else 0

    else:
        import psycopg

        from assistant.userdata.postgres import PostgresUserStore

        target = request.getfixturevalue("postgres_url")
        store = PostgresUserStore(target, max_size=2, timeout=10)

        def count(table: str) -> int:
            with psycopg.connect(target) as db:
                row = db.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
                if not row or not row[0]:
                    return 0
                counted = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
                return int(counted[0]) if counted else 0

    rng = random.Random(STORE_SEED)
    turns: dict[tuple[str, int], str] = {}  # (conversation, number) → hash of the answer record
    feedback: dict[int, str] = {}  # id → hash of the feedback record
    try:
        for run in range(STORE_KILLS):
            records, extra_ms = rng.randint(1, 60), round(rng.uniform(0, 30), 1)
            context = f"{backend}, seed {STORE_SEED}, run {run}: killed {extra_ms} ms after {records} records"
            before = count("turns") + count("feedback")
            reported = write_until_killed(backend, target, run, records, extra_ms)
            assert len(reported) >= records, context
            if backend == "sqlite":
                assert_owner_only(Path(target).parent, context)  # as the killed writer left them
            for kind, key, *rest in reported:
                if kind == "turn":
                    turns[(key, int(rest[0]))] = rest[1]
                else:
                    feedback[int(key)] = rest[0]
            if backend == "sqlite":
                with sqlite3.connect(target) as db:
                    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], context
            check_store(store, turns, feedback, context)
            # At most the one write committed but not yet reported is there in addition.
            stored = count("turns") + count("feedback") - before
            assert stored - len(reported) in (0, 1), f"{context}: {len(reported)} reported, {stored} stored"

            # New writes work, go on where the killed writer stopped, and are kept like the others.
            conversation, number = next(reversed(turns))
            turn_count = len(store.conversation(conversation))
            given_answer = _answer(f"Nach dem Abbruch {run}")
            assert store.add_turn(conversation, given_answer) == (conversation, turn_count + 1), context
            turns[(conversation, turn_count + 1)] = digest(given_answer.to_record())
            added = store.add_feedback(
                helpful=True, comment="danach", question="F?", passages=[], build_id="b", conversation=None
            )
            assert added.id > max(feedback), context
            feedback[added.id] = digest(added.to_dict())
        check_store(store, turns, feedback, f"{backend}, seed {STORE_SEED}, at the end")
        if backend == "sqlite":
            assert_owner_only(Path(target).parent, f"seed {STORE_SEED}, at the end")
    finally:
        store.close()


def _answer(question: str) -> Any:
    from tests.userdata.test_userdata import answer

    return answer(question)


def assert_owner_only(folder: Path, context: str) -> None:
    """The SQLite file and its -wal/-shm files, whichever exist, are readable by their owner only."""
    modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in sorted(folder.iterdir())}
    assert modes and set(modes.values()) == {"0o600"}, f"{context}: {modes}"


def check_store(
    store: Any, turns: dict[tuple[str, int], str], feedback: dict[int, str], context: str
) -> None:
    """Every reported turn and feedback is in the store with the same content; turns have no gaps."""
    stored_feedback = {f.id: digest(f.to_dict()) for f in store.feedback()}
    missing = {i: h for i, h in feedback.items() if stored_feedback.get(i) != h}
    assert not missing, f"{context}: feedback lost or changed: {sorted(missing)}"
    for conversation in {c for c, _ in turns}:
        stored = store.conversation(conversation)
        assert stored is not None, f"{context}: conversation {conversation} lost"
        assert [t.number for t in stored] == list(range(1, len(stored) + 1)), context
        by_number = {t.number: digest(t.answer.to_record()) for t in stored}
        for (c, number), expected in turns.items():
            if c == conversation:
                assert by_number.get(number) == expected, f"{context}: turn {c}#{number} lost or changed"


# -- 5. the options `assistant serve` gives uvicorn -----------------------------------------------


@pytest.mark.parametrize("workers", [1, 3])
def test_serve_passes_keep_alive_and_the_nodelay_protocol_to_uvicorn(
    workers: int, index_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import FastAPI

    from assistant.web.server import NoDelayHTTPProtocol

    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append((args, kwargs)))
    for name in ("INDEX_DIR", "CORPUS_DIR", "DATABASE", "MODEL"):  # set by the several-workers path
        monkeypatch.setenv(f"ASSISTANT_{name}", "restored after the test")
    monkeypatch.setenv("ASSISTANT_THREADS", "8")  # a number: Settings() below reads it
    settings = index_copy.model_copy(update={"keep_alive_timeout": 17, "workers": workers, "port": 8123})
    assert cmd_serve(settings) == 0
    assert len(calls) == 1
    args, kwargs = calls[0]
    assert kwargs["timeout_keep_alive"] == 17 != Settings().keep_alive_timeout
    assert kwargs["http"] is NoDelayHTTPProtocol
    assert kwargs["port"] == 8123 and kwargs["host"] == settings.host
    if workers == 1:
        assert isinstance(args[0], FastAPI) and "workers" not in kwargs
    else:
        # Each worker process builds the app itself from the environment cmd_serve set up.
        assert args == ("assistant.web.app:create_app_from_env",)
        assert kwargs["factory"] is True and kwargs["workers"] == workers
        assert os.environ["ASSISTANT_INDEX_DIR"] == str(settings.index_dir)
        assert os.environ["ASSISTANT_MODEL"] == str(settings.model)
