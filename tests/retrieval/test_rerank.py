"""Optional cross-encoder reranking, with a tiny model built locally (ordering, not quality)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import ModelUnavailable
from assistant.retrieval.rerank import load_reranker
from assistant.service import open_assistant


def test_reranker_loads_from_a_local_folder_and_orders_by_its_scores(
    fixture_release: Settings, tiny_cross_encoder: Path
) -> None:
    plain = open_assistant(fixture_release)
    reranked = open_assistant(fixture_release.model_copy(update={"reranker": str(tiny_cross_encoder)}))
    assert reranked.searcher.reranker is not None and plain.searcher.reranker is None
    question = "Wer entscheidet über den Quartiersfonds?"
    # The searcher's hits: whether the tiny model counts the question as answered is not at issue here.
    hits = reranked.searcher.search(question, 4)
    fused = plain.searcher.search(question, 20)
    assert {h.passage.id for h in hits} <= {h.passage.id for h in fused}
    scores = reranked.searcher.reranker.model.predict([(question, h.passage.embedding_text) for h in fused])
    expected = [fused[i].passage.id for i in np.argsort(-np.asarray(scores), kind="stable")[:4]]
    assert [h.passage.id for h in hits] == expected


def test_missing_reranker_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="existiert nicht"):
        load_reranker(str(tmp_path / "fehlt"))
