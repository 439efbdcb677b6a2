"""Hot reload: a rebuild while serving swaps the server to the new release, and a broken one is refused."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import anyio
import httpx
import pytest

from assistant.build import build_index
from assistant.config import Settings
from assistant.errors import ModelMismatch
from assistant.index.folder.releases import current_build_id, load_release
from assistant.reload import ReleaseWatcher, watch_releases
from assistant.service import open_assistant
from tests.serving import free_port, wait_until_healthy

NEW_TEXT = """# Nachtrag

## Das Kiezradio

Das Kiezradio ist ein erfundenes Beispiel für diesen Test: Jugendliche senden einmal im Monat
Beiträge über ihr Quartier.
"""


def corpus_with_a_new_file(fixture_corpus: Path, target: Path) -> Path:
    shutil.copytree(fixture_corpus, target)
    (target / "nachtrag.md").write_text(NEW_TEXT, encoding="utf-8")
    return target


def test_watcher_loads_a_new_release_and_reuses_the_model(
    index_copy: Settings, fixture_corpus: Path, tmp_path: Path
) -> None:
    served = open_assistant(index_copy)
    watcher = ReleaseWatcher(index_copy)
    assert watcher.check(served) is None  # nothing new
    corpus = corpus_with_a_new_file(fixture_corpus, tmp_path / "corpus")
    report = build_index(index_copy.model_copy(update={"corpus_dir": corpus}))
    fresh = watcher.check(served)
    assert fresh is not None and fresh.build_id == report.build_id != served.build_id
    assert fresh.searcher.embedder is served.searcher.embedder  # same model: not loaded again
    assert "Kiezradio" in fresh.ask("Was ist das Kiezradio?").hits[0].passage.text
    assert watcher.check(fresh) is None


def test_a_damaged_new_release_is_refused_and_the_served_one_kept(
    index_copy: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    served = open_assistant(index_copy)
    watcher = ReleaseWatcher(index_copy)
    report = build_index(index_copy, full=True)
    with open(Path(report.path) / "index.faiss", "r+b") as handle:
        handle.truncate(100)
    with caplog.at_level(logging.ERROR, logger="assistant.reload"):
        assert watcher.check(served) is None
        assert watcher.check(served) is None  # not loaded (or logged) again
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    message = refusals[0].getMessage()
    assert report.build_id in message and served.build_id in message and "index.faiss" in message
    assert served.ask("Was ist ein Quartiersfonds?").hits  # still answering from the old release
    # The next good build is taken.
    good = build_index(index_copy, full=True)
    fresh = watcher.check(served)
    assert fresh is not None and fresh.build_id == good.build_id


def test_a_release_built_with_another_model_is_refused(
    index_copy: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = open_assistant(index_copy)
    # The server is configured for another model than the one the next release is built with.
    other = tmp_path / "other-model"
    shutil.copytree(index_copy.model, other)  # type: ignore[arg-type]
    build_index(index_copy.model_copy(update={"model": str(other)}), full=True)
    watcher = ReleaseWatcher(index_copy)
    with caplog.at_level(logging.ERROR, logger="assistant.reload"):
        assert watcher.check(served) is None
    assert any("eingestellt ist aber" in r.getMessage() for r in caplog.records)


@pytest.fixture
def live_server(index_copy: Settings, tmp_path: Path) -> Iterator[str]:
    """`assistant serve` in its own process, checking for new releases every 0.2 s."""
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(index_copy.index_dir),
        "ASSISTANT_CORPUS_DIR": str(index_copy.corpus_dir),
        "ASSISTANT_MODEL": str(index_copy.model),
        "ASSISTANT_DATABASE": str(tmp_path / "served.sqlite3"),
        "ASSISTANT_PORT": str(port),
        "ASSISTANT_RELOAD_INTERVAL": "0.2",
        "ASSISTANT_ACCESS_LOG": "false",
        "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0",  # one client address sends all the load
    }
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"

    def alive() -> None:
        assert process.poll() is None, (tmp_path / "server.log").read_text()

    try:
        wait_until_healthy(base, seconds=60, alive=alive)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_rebuild_under_load_swaps_releases_without_a_failed_request(
    live_server: str, index_copy: Settings, fixture_corpus: Path, tmp_path: Path
) -> None:
    """Four clients ask without pause while two releases are published (each deleting the one served
    before it, keep_releases=1); every request succeeds and the server ends on the last release."""
    before = current_build_id(index_copy.index_dir)
    stop = threading.Event()
    results: Counter[str] = Counter()
    seen_builds: set[str] = set()
    lock = threading.Lock()

    def client_loop(number: int) -> None:
        with httpx.Client(base_url=live_server, timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if i % 3 == 0:
                        response = client.post(
                            "/gespraech", data={"question": "Wer entscheidet über den Fonds?"}
                        )
                    else:
                        response = client.post("/api/ask", json={"question": f"Quartiersfonds {number} {i}"})
                    outcome = str(response.status_code)
                    if response.status_code == 200 and response.headers["content-type"] == "application/json":
                        with lock:
                            seen_builds.add(response.json()["build_id"])
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with lock:
                    results[outcome] += 1

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        corpus = corpus_with_a_new_file(fixture_corpus, tmp_path / "corpus")
        builds = [
            build_index(index_copy.model_copy(update={"corpus_dir": corpus, "keep_releases": 1}), full=True)
            for _ in range(2)
        ]
        last = builds[-1].build_id
        deadline = time.monotonic() + 20
        while httpx.get(f"{live_server}/api/health").json()["build_id"] != last:
            assert time.monotonic() < deadline, "the server did not swap to the new release"
            time.sleep(0.05)
        time.sleep(0.5)  # and keeps answering on it
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    failures = {outcome: n for outcome, n in results.items() if outcome not in {"200", "303"}}
    assert not failures, f"failed requests during the swap: {failures} of {sum(results.values())}"
    assert sum(results.values()) > 50
    assert before in seen_builds and last in seen_builds
    assert [p.name for p in (index_copy.index_dir / "releases").iterdir()] == [last]  # old ones deleted
    answer = httpx.post(f"{live_server}/api/ask", json={"question": "Was ist das Kiezradio?"}).json()
    assert "Kiezradio" in answer["passages"][0]["text"] and answer["build_id"] == last
    assert load_release(index_copy.index_dir).build_id == last
    # The operator sees the swaps in the server's output.
    assert f"to {last}" in (tmp_path / "server.log").read_text(encoding="utf-8")


def test_a_release_of_the_fallback_model_does_not_match_a_configured_model(shipped_release: Settings) -> None:
    """An operator who configures a model must rebuild: the fallback release is not served in its place."""
    with pytest.raises(ModelMismatch, match="eingestellt ist aber intfloat/multilingual-e5-small"):
        open_assistant(shipped_release.model_copy(update={"model": "intfloat/multilingual-e5-small"}))
    assert open_assistant(shipped_release).ask("Was ist ein Verfügungsfonds?").hits  # unconfigured: served


def test_a_failing_check_does_not_stop_watching(caplog: pytest.LogCaptureFixture) -> None:
    """An error while checking (CURRENT unreadable for a moment, say) is logged; the next check swaps."""
    calls: list[str] = []

    class Flaky:
        def check(self, served: str) -> str | None:
            calls.append(served)
            if len(calls) == 1:
                raise PermissionError("CURRENT cannot be read")
            return "fresh" if served == "old" else None

    app = SimpleNamespace(state=SimpleNamespace(assistant="old"))

    async def watch_briefly() -> None:
        # Until the swap and one more check have happened (under load that may take a while), at
        # most 10 s: a fixed short window failed on a busy machine.
        with anyio.move_on_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watch_releases, app.state, Flaky(), 0.01)  # type: ignore[arg-type]
                while len(calls) < 3:
                    await anyio.sleep(0.01)
                tasks.cancel_scope.cancel()

    with caplog.at_level(logging.ERROR, logger="assistant.reload"):
        # In a thread of its own: the browser tests' Playwright keeps an event loop in the main thread.
        thread = threading.Thread(target=anyio.run, args=(watch_briefly,))
        thread.start()
        thread.join(timeout=15)
    assert app.state.assistant == "fresh" and calls[:2] == ["old", "old"] and calls[2] == "fresh"
    assert "checking for a new release failed" in caplog.text
