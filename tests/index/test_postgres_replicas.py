"""Two app server processes reading from a streaming replica while builds publish on the primary.

The primary and the replica are the servers tests/data/start-postgres.sh runs ('replica' makes the
replica with pg_basebackup). Each test works in a schema of its own on the primary, which the
replica follows like everything else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from assistant.build import build_index
from assistant.config import Settings
from assistant.index.releases import releases_for

from ..conftest import POSTGRES_REPLICA_URL
from ..serving import free_port, wait_until_healthy

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "start-postgres.sh"
QUESTION = "Wer entscheidet über den Quartiersfonds?"


def replica(command: str) -> None:
    subprocess.run(["bash", str(SCRIPT), command], check=True, capture_output=True, timeout=120)


def wait_for(condition, seconds: float = 20.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)


@pytest.fixture
def cluster(
    fixture_release: Settings, search_url: str, tmp_path: Path
) -> Iterator[tuple[Settings, Settings]]:
    """Settings for the primary (builds) and for the replica (servers), over one test schema."""
    if not POSTGRES_REPLICA_URL:
        if os.environ.get("CI"):
            pytest.fail("ASSISTANT_TEST_POSTGRES_REPLICA_URL unset: .ci/run should have started a replica")
        pytest.skip(
            "no replica: export ASSISTANT_TEST_POSTGRES_REPLICA_URL=$(tests/data/start-postgres.sh replica)"
        )
    options = search_url.split("?", 1)[1]
    primary = fixture_release.model_copy(
        update={"index_dir": tmp_path / "build", "search_database_url": SecretStr(search_url)}
    )
    on_replica = primary.model_copy(
        update={"search_database_url": SecretStr(f"{POSTGRES_REPLICA_URL}?{options}")}
    )
    try:
        yield primary, on_replica
    finally:
        replica("replica")  # running and replaying again, whatever the test did to it
        replica("replica-resume")


def serve(settings: Settings, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``assistant serve`` in its own process, reading releases from ``settings``' database."""
    port = free_port()
    assert settings.search_database_url is not None and settings.model is not None
    env = {
        **os.environ,
        "ASSISTANT_SEARCH_DATABASE_URL": settings.search_database_url.get_secret_value(),
        "ASSISTANT_INDEX_DIR": str(folder / "index"),  # its local copies of source files only
        "ASSISTANT_MODEL": settings.model,
        "ASSISTANT_DATABASE": str(folder / "assistant.sqlite3"),
        "ASSISTANT_RELOAD_INTERVAL": "0.2",
        "ASSISTANT_RATE_LIMIT_PER_MINUTE": "0",
        "ASSISTANT_DATABASE_TIMEOUT": "2",
        "HF_HUB_OFFLINE": "1",
    }
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"

    def alive() -> None:
        if process.poll() is not None:
            raise AssertionError((folder / "server.log").read_text())

    wait_until_healthy(base, seconds=60, alive=alive)
    return process, base


def test_builds_on_the_primary_reach_two_servers_on_the_replica(
    cluster: tuple[Settings, Settings], tmp_path: Path
) -> None:
    primary, on_replica = cluster
    first = build_index(primary).build_id
    wait_for(lambda: releases_for(on_replica).current_build_id() == first, what="the replica has the build")
    servers = [serve(on_replica, tmp_path / f"server{i}") for i in (1, 2)]
    try:
        bases = [base for _, base in servers]
        results: Counter[str] = Counter()
        builds: set[str] = set()
        stop = threading.Event()

        def load(base: str) -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    response = client.post(f"{base}/api/ask", json={"question": QUESTION})
                    results[str(response.status_code)] += 1
                    if response.status_code == 200:
                        builds.add(response.json()["build_id"])
                        assert response.json()["passages"], response.text

        threads = [threading.Thread(target=load, args=(base,)) for base in bases]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1)
            second = build_index(primary, full=True).build_id
            started = time.monotonic()
            for base in bases:
                wait_for(
                    lambda base=base: httpx.get(f"{base}/api/health").json()["build_id"] == second,
                    what="both servers serve the new build",
                )
            swapped = time.monotonic() - started
            time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert set(results) == {"200"}, results
        assert sum(results.values()) > 20 and {first, second} <= builds
        assert swapped < 10

        # A lagging replica (its replay paused): a build on the primary is not seen yet, and the servers
        # go on answering from the release they have, correctly; resumed, they take the new one.
        replica("replica-pause")
        third = build_index(primary, full=True).build_id
        time.sleep(1.5)
        for base in bases:
            answer = httpx.post(f"{base}/api/ask", json={"question": QUESTION}).json()
            assert answer["build_id"] == second and answer["passages"]
        replica("replica-resume")
        for base in bases:
            wait_for(lambda base=base: httpx.get(f"{base}/api/health").json()["build_id"] == third)

        # A build killed between writing its release and switching to it: nothing changes.
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_BUILD],
            env={
                **os.environ,
                "ASSISTANT_SEARCH_DATABASE_URL": primary.search_database_url.get_secret_value(),  # type: ignore[union-attr]
                "ASSISTANT_INDEX_DIR": str(tmp_path / "killed"),
                "ASSISTANT_CORPUS_DIR": str(primary.corpus_dir),
                "ASSISTANT_MODEL": str(primary.model),
            },
            capture_output=True,
            timeout=120,
        )
        assert killed.returncode == -9, killed.stderr.decode()
        assert releases_for(primary).current_build_id() == third
        time.sleep(1)
        for base in bases:
            answer = httpx.post(f"{base}/api/ask", json={"question": QUESTION}).json()
            assert answer["build_id"] == third and answer["passages"]
        assert build_index(primary).build_id != third  # and the next build goes through

        # The replica down: a clear 503 in German, no answer from anywhere else; back up, answers again.
        replica("replica-stop")
        for base in bases:
            response = httpx.post(f"{base}/api/ask", json={"question": QUESTION}, timeout=30)
            assert response.status_code == 503, response.text
            assert "Suche ist gerade nicht erreichbar" in response.json()["detail"]
            assert response.headers["retry-after"] == "5"
        replica("replica")
        for base in bases:
            wait_for(
                lambda base=base: (
                    httpx.post(f"{base}/api/ask", json={"question": QUESTION}).status_code == 200
                ),
                what="answers again once the replica is back",
            )
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=30)


KILLED_BUILD = """
import os, signal
from assistant.build import build_index
from assistant.config import Settings
from assistant.index.postgres.store import PostgresReleases

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # after writing the whole release, before switching to it

PostgresReleases._verify = die
build_index(Settings(), full=True)
"""


def test_a_build_against_the_replica_says_it_needs_the_primary(cluster: tuple[Settings, Settings]) -> None:
    from assistant.errors import BuildError

    _, on_replica = cluster
    with pytest.raises(BuildError, match="Lesereplikat.*Primärserver"):
        build_index(on_replica)
