import numpy as np

from assistant.retrieval.fusion import fuse_rankings


def test_score_fusion_rescales_and_weights() -> None:
    ids = np.array([10, 11, 12])
    dense = np.array([0.9, 0.5, 0.7], dtype=np.float32)
    lexical = np.array([0.0, 8.0, 4.0], dtype=np.float32)
    fused = fuse_rankings(ids, dense, lexical, method="score", dense_weight=0.5)
    assert np.allclose(fused, [0.5, 0.5, 0.5 * 0.5 + 0.5 * 0.5])
    only_dense = fuse_rankings(ids, dense, lexical, method="score", dense_weight=1.0)
    assert list(np.argsort(-only_dense)) == [0, 2, 1]


def test_no_lexical_match_leaves_the_dense_order() -> None:
    ids = np.array([1, 2])
    fused = fuse_rankings(ids, np.array([0.3, 0.8]), np.zeros(2), method="score")
    assert list(np.argsort(-fused)) == [1, 0]


def test_rrf_rewards_agreement() -> None:
    ids = np.array([1, 2, 3])
    dense = np.array([0.9, 0.8, 0.1])
    lexical = np.array([1.0, 5.0, 0.5])
    fused = fuse_rankings(ids, dense, lexical, method="rrf")
    assert int(np.argmax(fused)) in (0, 1) and fused[2] == fused.min()
    assert np.isclose(fused[0], 1 / 61 + 1 / 62)


def test_empty_candidates() -> None:
    assert fuse_rankings(np.array([]), np.array([]), np.array([])).size == 0
