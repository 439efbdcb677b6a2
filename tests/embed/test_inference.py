"""ONNX Runtime and OpenVINO backends on tiny transformers built locally (random weights): equal to
torch within the stated tolerance, exported once, and torch wherever a backend cannot apply."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from pydantic import ValidationError

from assistant.build import build_index, collect_passages
from assistant.config import Settings, bundled_dir
from assistant.embed import onnx as inference
from assistant.embed.models import Embedder, load_embedder
from assistant.embed.onnx import BACKENDS, FP32_TOLERANCE
from assistant.index.folder.releases import load_release
from assistant.service import open_assistant

QUERIES = [
    "Wer entscheidet über den Quartiersfonds?",
    "Wie lange dauert die Förderung?",
    "Verstetigung",
    "Welche Aufgaben hat das Quartiersmanagement vor Ort, und wer bezahlt das Büro im Stadtteil?",
]


def build_tiny_transformer(folder: Path, texts: list[str], architecture: str) -> Path:
    """A sentence-transformers folder: a 2-layer transformer with random weights, mean pooling,
    normalisation. "bert" feeds token type ids as BERT tokenizers do; "xlm-roberta" is the
    architecture of the larger multilingual E5 models (position ids counted from the padding id)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import XLMRobertaConfig, XLMRobertaModel

    from assistant.testing import save_random_bert

    hf_dir = save_random_bert(
        texts, folder / "hf", layers=2, hidden=32, heads=2, vocab_size=600, max_length=128
    )
    tokenizer_config = hf_dir / "tokenizer_config.json"
    config = json.loads(tokenizer_config.read_text())
    if architecture == "bert":
        config["model_input_names"] = ["input_ids", "token_type_ids", "attention_mask"]
    else:
        config["model_input_names"] = ["input_ids", "attention_mask"]
        vocab = json.loads((hf_dir / "config.json").read_text())["vocab_size"]
        torch.manual_seed(1)
        XLMRobertaModel(
            XLMRobertaConfig(
                vocab_size=vocab,
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=128,
                max_position_embeddings=130,  # positions start after the padding id
                pad_token_id=0,  # the tokenizer's [PAD]
                type_vocab_size=1,
            )
        ).save_pretrained(hf_dir)
    tokenizer_config.write_text(json.dumps(config))
    transformer = Transformer(str(hf_dir), max_seq_length=128)
    model = SentenceTransformer(
        modules=[transformer, Pooling(32, pooling_mode="mean"), Normalize()], device="cpu"
    )
    model.save(str(folder / "model"))
    return folder / "model"


@pytest.fixture(scope="module")
def passages() -> list[str]:
    return [p.embedding_text for p in collect_passages([bundled_dir("corpus")], warn=lambda _: None).passages]


@pytest.fixture(scope="module", params=["bert", "xlm-roberta"])
def tiny_transformer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, passages: list[str]
) -> Path:
    return build_tiny_transformer(tmp_path_factory.mktemp(request.param), passages, request.param)


@pytest.fixture(scope="module")
def bert_transformer(tmp_path_factory: pytest.TempPathFactory, passages: list[str]) -> Path:
    return build_tiny_transformer(tmp_path_factory.mktemp("bert"), passages, "bert")


def vectors(embedder: Embedder, passages: list[str]) -> np.ndarray:
    """Queries one at a time (as the server asks) and passages in batches (as builds encode), cut to
    lengths from a few words to past the model's 128 tokens so that the batches are padded."""
    queries = np.vstack([embedder.encode_queries([q]) for q in QUERIES])
    texts = [p[: 30 + 23 * i] for i, p in enumerate(passages[:40])]
    return np.vstack([queries, embedder.encode_documents(texts, batch_size=16)])


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_fp32_backends_give_torch_vectors_within_the_tolerance(
    tiny_transformer: Path, passages: list[str], tmp_path: Path, backend: str
) -> None:
    if backend == "openvino":
        pytest.importorskip("openvino")
    torch_embedder = load_embedder(str(tiny_transformer))
    exported = load_embedder(str(tiny_transformer), backend=backend, export_dir=tmp_path)
    assert exported.backend == backend and torch_embedder.backend == "torch"
    expected, got = vectors(torch_embedder, passages), vectors(exported, passages)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() <= FP32_TOLERANCE
    # Equal vectors share the torch fingerprint, so cached vectors of either serve both.
    assert exported.fingerprint == torch_embedder.fingerprint


def test_int8_vectors_differ_slightly_rank_alike_and_get_their_own_fingerprint(
    tiny_transformer: Path, passages: list[str], tmp_path: Path
) -> None:
    torch_embedder = load_embedder(str(tiny_transformer))
    int8 = load_embedder(str(tiny_transformer), backend="onnx-int8", export_dir=tmp_path)
    assert int8.backend == "onnx-int8"
    assert int8.fingerprint.startswith(torch_embedder.fingerprint + "+onnx-int8")
    expected, got = vectors(torch_embedder, passages), vectors(int8, passages)
    assert np.abs(got - expected).max() > 1e-6  # the quantised model really runs
    cosines = np.sum(got * expected, axis=1)
    assert cosines.min() >= 0.99
    # Each int8 vector is nearest to torch's vector of the same text, not to another text's.
    assert (np.argmax(got @ expected.T, axis=1) == np.arange(len(got))).all()
    documents_torch = torch_embedder.encode_documents(passages)
    documents_int8 = int8.encode_documents(passages)
    overlap = [
        len(set(np.argsort(-(documents_int8 @ q))[:10]) & set(np.argsort(-(documents_torch @ r))[:10])) / 10
        for q, r in zip(got[: len(QUERIES)], expected[: len(QUERIES)], strict=True)
    ]
    assert np.mean(overlap) >= 0.8


def test_export_is_made_once_outside_the_model_folder_and_reused(
    bert_transformer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_files = sorted(p.relative_to(bert_transformer) for p in bert_transformer.rglob("*"))
    first = load_embedder(str(bert_transformer), backend="onnx-int8", export_dir=tmp_path)
    exported = sorted(p.name for p in tmp_path.rglob("*.onnx"))
    assert exported == ["model-int8-u8s8.onnx", "model.onnx"] or exported == [
        "model-int8-u8u8.onnx",
        "model.onnx",
    ]
    assert sorted(p.relative_to(bert_transformer) for p in bert_transformer.rglob("*")) == model_files

    def no_export(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(inference, "_export", no_export)
    monkeypatch.setattr(inference, "_quantize", no_export)
    for backend in ("onnx-int8", "onnx"):
        again = load_embedder(str(bert_transformer), backend=backend, export_dir=tmp_path)
        assert again.backend == backend
    again = load_embedder(str(bert_transformer), backend="onnx-int8", export_dir=tmp_path)
    assert np.array_equal(again.encode_queries(QUERIES), first.encode_queries(QUERIES))


def test_unusable_export_is_made_again(bert_transformer: Path, passages: list[str], tmp_path: Path) -> None:
    load_embedder(str(bert_transformer), backend="onnx", export_dir=tmp_path)
    [onnx_file] = tmp_path.rglob("model.onnx")
    onnx_file.write_bytes(b"not an onnx model")  # as a crash or a full disk would leave it
    embedder = load_embedder(str(bert_transformer), backend="onnx", export_dir=tmp_path)
    assert embedder.backend == "onnx" and onnx_file.stat().st_size > 1000
    expected = load_embedder(str(bert_transformer)).encode_queries(QUERIES)
    assert np.abs(embedder.encode_queries(QUERIES) - expected).max() <= FP32_TOLERANCE


def test_static_model_keeps_torch_and_says_why(
    tiny_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="assistant.embed.onnx"):
        embedder = load_embedder(str(tiny_model), backend="onnx", export_dir=tmp_path)
    assert embedder.backend == "torch"
    assert embedder.fingerprint == load_embedder(str(tiny_model)).fingerprint
    [record] = [r for r in caplog.records if r.name == "assistant.embed.onnx"]
    assert "no transformer module" in record.getMessage()
    assert not any(tmp_path.iterdir())


def test_fallback_build_and_its_release_say_once_that_the_backend_does_not_apply(
    fixture_corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path, backend="onnx", offline_model=False)
    with caplog.at_level(logging.WARNING):
        assert build_index(settings, warn=lambda _: None).fallback
        assistant = open_assistant(settings)
    lines = [r.getMessage() for r in caplog.records if "does not apply" in r.getMessage()]
    assert len(lines) == 2 and all("backend onnx" in line for line in lines)  # one at build, one at serve
    assert assistant.searcher.search(
        "Wer entscheidet über den Quartiersfonds?", 5
    )  # random weights: no judgement
    assert not settings.export_dir.exists()


def test_missing_onnxruntime_keeps_torch_with_the_install_hint(
    bert_transformer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with caplog.at_level(logging.WARNING, logger="assistant.embed.onnx"):
        embedder = load_embedder(str(bert_transformer), backend="onnx-int8", export_dir=tmp_path)
    assert embedder.backend == "torch"
    assert embedder.fingerprint == load_embedder(str(bert_transformer)).fingerprint
    assert "qm-assistent[onnx]" in caplog.text
    assert not any(tmp_path.iterdir())  # nothing was exported for a backend that cannot run


def test_settings_accept_the_backends_and_reject_others(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_args(Settings.model_fields["backend"].annotation) == ("auto", *BACKENDS)
    assert Settings().backend == "auto"
    monkeypatch.setenv("ASSISTANT_BACKEND", "onnx-int8")
    assert Settings().backend == "onnx-int8"
    with pytest.raises(ValidationError, match="backend"):
        Settings(backend="tensorrt")


def test_builds_reuse_vectors_across_fp32_backends_but_never_mix_int8_ones(
    bert_transformer: Path, fixture_corpus: Path, tmp_path: Path
) -> None:
    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path / "index", model=str(bert_transformer))
    first = build_index(settings)
    assert first.embedded == first.passages  # nothing cached yet
    onnx = settings.model_copy(update={"backend": "onnx"})
    assert build_index(onnx).embedded == 0  # torch's cached vectors serve the fp32 backend
    int8 = settings.model_copy(update={"backend": "onnx-int8"})
    assert build_index(int8).embedded == first.passages  # int8 vectors are computed, never mixed in
    manifest = load_release(settings.index_dir).manifest
    assert "+onnx-int8" in manifest.facts.model_fingerprint
    assert any(settings.export_dir.rglob("*.onnx"))  # the export sits in the index's own cache
    assistant = open_assistant(int8)
    assert assistant.searcher.embedder.backend == "onnx-int8"
    assert assistant.searcher.search(
        "Wer entscheidet über den Quartiersfonds?", 5
    )  # random weights: no judgement


def test_auto_runs_a_transformer_on_onnx_and_a_static_model_quietly_on_torch(
    bert_transformer: Path, tiny_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        static = load_embedder(str(tiny_model), backend="auto", export_dir=tmp_path)
    assert static.backend == "torch" and not caplog.records
    assert load_embedder(str(bert_transformer), backend="auto", export_dir=tmp_path).backend == "onnx"


def test_every_backend_can_be_chosen_in_the_settings() -> None:
    from typing import get_args

    from assistant.config import Backend, BackendChoice

    assert set(get_args(BackendChoice)) == {"auto", *get_args(Backend)}
