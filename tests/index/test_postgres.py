"""The PostgreSQL engine against the folder engine: the same rankings, scores and answers; releases
published, verified, switched and pruned in the database; failures in German."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from assistant.build import build_index
from assistant.config import Settings
from assistant.errors import BuildError, ReleaseError, SearchUnavailable
from assistant.index.lexical import term_weights
from assistant.index.postgres.store import PostgresReleases
from assistant.index.releases import releases_for
from assistant.service import open_assistant

QUESTIONS = [
    "Wer entscheidet über den Quartiersfonds?",
    "Was ist das Kiezradio?",
    "Wie wird ein Quartier verstetigt?",
    "Welche Aufgaben hat der Beirat?",
    "Fonds",
    "Rezept für Apfelkuchen",
    "Wann endet die Förderung und was passiert danach mit dem Büro vor Ort?",
]


@pytest.fixture
def engines(fixture_release: Settings, search_url: str, tmp_path: Path) -> tuple[Settings, Settings]:
    """The fixture corpus as a folder release and as a PostgreSQL release, built with the same model."""
    postgres = fixture_release.model_copy(
        update={"index_dir": tmp_path / "index", "search_database_url": SecretStr(search_url)}
    )
    build_index(postgres)
    return fixture_release, postgres


def test_both_engines_rank_and_answer_alike(engines: tuple[Settings, Settings]) -> None:
    folder, postgres = (open_assistant(s) for s in engines)
    assert postgres.release.engine.size == folder.release.engine.size > 0
    for question in QUESTIONS:
        expected, found = folder.ask(question), postgres.ask(question)
        assert [h.passage for h in found.hits] == [h.passage for h in expected.hits], question
        for a, b in zip(found.hits, expected.hits, strict=True):
            assert a.score == pytest.approx(b.score, abs=1e-4)
            assert a.dense == pytest.approx(b.dense, abs=1e-4)
            assert a.lexical == pytest.approx(b.lexical, abs=1e-4)
        assert found.no_match == expected.no_match and found.sentences == expected.sentences, question


def test_bm25_summed_in_sql_equals_bm25s(engines: tuple[Settings, Settings]) -> None:
    folder, postgres = (open_assistant(s).release.engine for s in engines)
    everything = np.arange(folder.size)
    for question in QUESTIONS:
        terms = folder.analyzer.terms(question)
        # A repeated term counts again, and a weight scales a term's score, in both engines.
        weights = term_weights(terms * 2)
        weights[terms[0]] = 0.25
        rows, scores, all_scores = postgres.lexical(weights, 10, everything)
        rows_f, scores_f, all_f = folder.lexical(weights, 10, everything)
        np.testing.assert_allclose(all_scores, all_f, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(scores, scores_f, rtol=1e-5, atol=1e-6)
        assert set(rows.tolist()) == set(rows_f.tolist())
        for term in terms:
            assert postgres.idf(term) == pytest.approx(folder.idf(term))
            assert postgres.knows(term) == folder.knows(term)


def test_the_served_release_switches_only_when_the_next_is_verified(
    engines: tuple[Settings, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, postgres = engines
    store = releases_for(postgres)
    first = store.current_build_id()
    assert first is not None
    answer = open_assistant(postgres).ask(QUESTIONS[0])

    def fail(*args: object, **kwargs: object) -> None:
        raise ReleaseError("Prüfsumme der Vektoren stimmt nicht")

    monkeypatch.setattr(PostgresReleases, "_verify", fail)
    with pytest.raises(BuildError, match="Prüfsumme"):
        build_index(postgres, full=True)
    assert store.current_build_id() == first
    assert open_assistant(postgres).ask(QUESTIONS[0]).hits == answer.hits
    monkeypatch.undo()
    # The next build removes what the failed one left and publishes; older releases are pruned.
    assert isinstance(store, PostgresReleases)
    for _ in range(3):
        build_index(postgres, full=True)
    with store._session() as conn:  # noqa: SLF001 - reading the catalogue is the point here
        rows = conn.execute("SELECT build_id, ready FROM qm_releases ORDER BY build_id").fetchall()
        schemas = {s for (s,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'qm_r_%'")}
    assert len(rows) == postgres.keep_releases and all(ready for _, ready in rows)
    assert rows[-1][0] == store.current_build_id() != first
    assert {f"qm_r_{b.lower()}".replace("-", "_") for b, _ in rows} <= schemas


def test_sources_and_the_manifest_travel_in_the_database(engines: tuple[Settings, Settings]) -> None:
    folder, postgres = engines
    release = releases_for(postgres).open()
    assert set(release.sources) == {"quartier.md", "verstetigung.txt"}
    copied = release.sources["quartier.md"]
    assert copied.read_bytes() == (folder.corpus_dir / "quartier.md").read_bytes()
    assert copied.is_relative_to(postgres.index_dir)
    manifest = release.manifest
    assert manifest.passage_count == release.engine.size and manifest.facts.no_match is not None
    assert set(manifest.files) == {"passages", "vectors", "postings"}


def test_a_database_without_pgvector_says_what_the_administrator_must_run(
    fixture_release: Settings, search_url: str, tmp_path: Path
) -> None:
    from tests.conftest import POSTGRES_URL

    url = POSTGRES_URL.rsplit("/", 1)[0] + "/qm_novector"
    settings = fixture_release.model_copy(
        update={"index_dir": tmp_path, "search_database_url": SecretStr(url)}
    )
    with pytest.raises(BuildError) as refused:
        build_index(settings)
    assert "CREATE EXTENSION vector" in str(refused.value) and "qm_test:" not in str(refused.value)


def test_an_unreachable_database_is_unavailable_not_an_error(engines: tuple[Settings, Settings]) -> None:
    _, postgres = engines
    assistant = open_assistant(postgres)
    dead = PostgresReleases("postgresql://qm:geheim@127.0.0.1:9/qm", cache_dir=postgres.index_dir, timeout=1)
    with pytest.raises(SearchUnavailable) as refused:
        dead.current_build_id()
    assert "geheim" not in str(refused.value) and "127.0.0.1:9" in str(refused.value)
    # A release whose schema is gone (pruned, or not yet on a replica) is unavailable, not a crash.
    engine = assistant.release.engine
    with releases_for(postgres)._session() as conn:  # type: ignore[attr-defined]  # noqa: SLF001
        conn.execute(f"DROP SCHEMA {assistant.release.schema} CASCADE")  # type: ignore[attr-defined]
    with pytest.raises(SearchUnavailable, match="fehlt dort"):
        engine.passages([0])


def test_processes_starting_together_create_the_catalogue_once(search_url: str, tmp_path: Path) -> None:
    """Several servers or builds meeting an empty database at once: one creates, the others wait."""
    import threading

    stores = [PostgresReleases(search_url, cache_dir=tmp_path) for _ in range(6)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def create(store: PostgresReleases) -> None:
        try:
            start.wait()
            store.ensure_catalog()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert all(store.current_build_id() is None for store in stores)  # catalogue there, nothing built


def test_an_hnsw_release_measures_its_ef_search_and_answers_alike(
    fixture_release: Settings, search_url: str, tmp_path: Path
) -> None:
    graph = fixture_release.model_copy(
        update={"index_dir": tmp_path, "search_database_url": SecretStr(search_url), "index_kind": "hnsw"}
    )
    build_index(graph)
    release = releases_for(graph).open()
    plan = release.manifest.vector_index
    assert plan.kind == "hnsw" and plan.ef_search and plan.recall_at_10 is not None
    assert plan.recall_at_10 >= 0.97
    folder, postgres = open_assistant(fixture_release), open_assistant(graph)
    for question in QUESTIONS:
        assert [h.passage.id for h in postgres.ask(question).hits] == [
            h.passage.id for h in folder.ask(question).hits
        ]


def test_an_evaluation_searches_a_trial_release_that_is_never_served(
    engines: tuple[Settings, Settings], tmp_path: Path
) -> None:
    """``trial_engine`` of either store: the same ranking as the served release; in PostgreSQL the
    trial release is published beside the served one without switching to it, and removed again."""
    from assistant.index.store import NewRelease

    folder, postgres = (open_assistant(s) for s in engines)
    served = folder.release
    rows = np.arange(served.engine.size)
    release = NewRelease(
        passages=served.engine.passages(rows),
        vectors=served.passage_vectors(),
        model=served.model_name,
        lexical=served.lexical,  # type: ignore[attr-defined]
    )
    store = releases_for(engines[1])
    current = store.current_build_id()
    trial = store.trial_engine(tmp_path / "trial", release)
    local = releases_for(engines[0]).trial_engine(tmp_path / "local", release)
    assert store.current_build_id() == current  # never switched to
    vector = served.passage_vectors()[3]
    for engine in (trial, local):
        found, scores = engine.dense(vector, 5)
        assert found[0] == 3 and scores[0] == pytest.approx(1.0, abs=1e-3)
        assert list(found) == list(postgres.release.engine.dense(vector, 5)[0])
    assert isinstance(store, PostgresReleases)
    trials = [b for b in _release_ids(store) if b.startswith("eval-")]
    assert len(trials) == 1
    store.discard(trials[0])  # what the process does when it ends
    assert not [b for b in _release_ids(store) if b.startswith("eval-")]


def _release_ids(store: PostgresReleases) -> list[str]:
    with store._session() as conn:
        return [row[0] for row in conn.execute("SELECT build_id FROM qm_releases")]
