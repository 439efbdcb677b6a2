"""The FAISS index by size, its tuned search depth, memory-mapped loading, and passages decoded on access."""

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from assistant.build import build_index
from assistant.config import Settings
from assistant.errors import ReleaseError
from assistant.index.folder.releases import PassageFile, load_release, open_release
from assistant.index.vectors import build_vector_index, read_vector_index, recall_at_k
from assistant.service import open_assistant


def clustered(n: int, dimension: int = 32, clusters: int = 40, seed: int = 1) -> np.ndarray:
    """Normalised vectors around random centres, like passages around topics."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dimension))
    vectors = centres[rng.integers(clusters, size=n)] + 0.6 * rng.normal(size=(n, dimension))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]


def test_auto_is_exact_up_to_the_limit_and_compressed_above_it() -> None:
    vectors = clustered(3000)
    small, plan = build_vector_index(vectors, exact_limit=3000)
    assert isinstance(small, faiss.IndexFlatIP) and plan.kind == "flat" and plan.recall_at_10 is None
    large, plan = build_vector_index(vectors, exact_limit=2999)
    assert isinstance(large, faiss.IndexRefineFlat) and plan.kind == "sq8" and plan.k_factor == 4
    assert plan.recall_at_10 is not None and plan.recall_at_10 >= 0.95


def test_int8_scan_with_refinement_keeps_the_exact_neighbours() -> None:
    data = clustered(4200, dimension=64)
    vectors, queries = data[:4000], data[4000:]
    index, _ = build_vector_index(vectors, kind="sq8")
    found_scores, found = index.search(queries, 10)
    assert recall_at_k(found, exact_top(vectors, queries, 10)) >= 0.98
    # Re-scored with the full vectors: the scores are exact cosines, not int8 approximations.
    np.testing.assert_allclose(found_scores[:, 0], np.sum(queries * vectors[found[:, 0]], axis=1), rtol=1e-5)
    np.testing.assert_array_equal(index.reconstruct_batch(np.array([0, 3999])), vectors[[0, 3999]])


def test_graph_index_reports_its_tuned_depth() -> None:
    vectors = clustered(3000)
    index, plan = build_vector_index(vectors, kind="hnsw")
    assert isinstance(index, faiss.IndexHNSWFlat) and plan.kind == "hnsw"
    assert plan.ef_search == index.hnsw.efSearch and plan.recall_at_10 is not None


def test_graph_search_depth_is_tuned_to_the_recall_target_on_unseen_queries() -> None:
    data = clustered(4200)
    vectors, queries = data[:4000], data[4000:]
    index, plan = build_vector_index(vectors, kind="hnsw", target_recall=0.97)
    assert plan.recall_at_10 is not None and plan.recall_at_10 >= 0.97
    # Independent check with queries from the same topics that the tuning never saw.
    _, found = index.search(queries, 10)
    assert recall_at_k(found, exact_top(vectors, queries, 10)) >= 0.95


def test_recall_counts_shared_ids() -> None:
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(np.array([[4, 3, 2, 1], [5, 9, 9, 9]]), exact) == 5 / 8


@pytest.mark.parametrize("kind", ["flat", "sq8", "hnsw"])
def test_index_is_read_memory_mapped_with_its_search_settings(tmp_path: Path, kind: str) -> None:
    vectors = clustered(2000)
    index, plan = build_vector_index(vectors, kind=kind)  # type: ignore[arg-type]
    faiss.write_index(index, str(tmp_path / "index.faiss"))
    loaded = read_vector_index(tmp_path / "index.faiss", plan)
    if kind == "hnsw":
        assert loaded.hnsw.efSearch == plan.ef_search
    if kind == "sq8":
        assert loaded.k_factor == plan.k_factor
    # The full vectors are kept, so lexical finds can be rescored exactly.
    np.testing.assert_array_equal(loaded.reconstruct_batch(np.array([0, 1999])), vectors[[0, 1999]])
    queries = clustered(20, seed=5)
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], index.search(queries, 10)[1])


@pytest.mark.parametrize("kind", ["sq8", "hnsw"])
def test_a_release_built_with_an_approximate_index_answers_like_the_exact_one(
    tmp_path: Path, fixture_release: Settings, kind: str
) -> None:
    graph = fixture_release.model_copy(update={"index_dir": tmp_path, "index_kind": kind})
    build_index(graph, warn=lambda _: None)
    release = load_release(tmp_path)
    assert release.manifest.vector_index.kind == kind
    exact = open_assistant(fixture_release)
    approximate = open_assistant(graph)
    for question in ("Was ist ein Quartiersfonds?", "Wie wird ein Quartier verstetigt?"):
        assert [h.passage.id for h in approximate.ask(question).hits] == [
            h.passage.id for h in exact.ask(question).hits
        ]


def test_passages_are_decoded_on_access(fixture_release: Settings) -> None:
    release = load_release(fixture_release.index_dir)
    assert isinstance(release.passages, PassageFile)
    lines = (release.path / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(release.passages) == len(lines) == release.index.ntotal
    assert release.passages[-1].id == json.loads(lines[-1])["id"]
    assert [p.id for p in release.passages[1:3]] == [json.loads(line)["id"] for line in lines[1:3]]
    assert [p.id for p in release.passages] == [json.loads(line)["id"] for line in lines]
    with pytest.raises(IndexError):
        release.passages[len(lines)]


def test_a_release_without_stored_line_offsets_still_loads(index_copy: Settings) -> None:
    """Releases written before the offsets file existed: the offsets are found by reading the file."""
    path = load_release(index_copy.index_dir).path
    expected = [p.id for p in load_release(index_copy.index_dir).passages]
    (path / "passages.offsets.npy").unlink()
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]["passages.offsets.npy"]
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert [p.id for p in open_release(path).passages] == expected


def test_offsets_that_do_not_fit_the_passages_are_refused(index_copy: Settings) -> None:
    path = load_release(index_copy.index_dir).path
    offsets = np.load(path / "passages.offsets.npy")
    np.save(path / "passages.offsets.npy", offsets[:-1])
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    import hashlib

    manifest["files"]["passages.offsets.npy"] = hashlib.sha256(
        (path / "passages.offsets.npy").read_bytes()
    ).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ReleaseError, match="nicht lesbar"):
        open_release(path)
