import time
from pathlib import Path

import numpy as np
import pytest

from assistant.embed.models import hub_reachable, load_embedder
from assistant.errors import ModelUnavailable


def test_local_model_loads_through_sentence_transformers_and_normalises(tiny_model: Path) -> None:
    embedder = load_embedder(str(tiny_model))
    vectors = embedder.encode_documents(["Der Quartiersfonds bezahlt kleine Projekte.", "Das Büro vor Ort."])
    query = embedder.encode_queries(["Wer entscheidet über den Quartiersfonds?"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, embedder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(query[0] @ vectors[0]) > float(query[0] @ vectors[1])


def test_missing_local_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="existiert nicht"):
        load_embedder(str(tmp_path / "kein-modell"))


def test_folder_that_is_not_a_model_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("kein Modell")
    with pytest.raises(ModelUnavailable, match="kein sentence-transformers-Modellordner"):
        load_embedder(str(tmp_path))


def test_uncached_hub_model_fails_at_once_when_offline() -> None:
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="nicht im lokalen Cache"):
        load_embedder("intfloat/multilingual-e5-small")
    assert time.monotonic() - started < 20  # a generous bound: the real failure mode is a 75 s retry loop


def test_unreachable_hub_is_detected_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens there
    assert hub_reachable(timeout=1.0) is False
