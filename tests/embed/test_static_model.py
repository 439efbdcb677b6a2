"""The fallback static model: serving it without torch gives the vectors sentence-transformers gives."""

import json
import shutil
from pathlib import Path

import numpy as np

from assistant.build import collect_passages
from assistant.config import Settings
from assistant.embed.models import load_embedder
from assistant.embed.static import load_static_embedder
from assistant.index.folder.releases import load_release

ODD_TEXTS = ["", "   ", "☃☃☃", "Wer entscheidet über den Quartiersfonds?", "Fonds " * 300]


def test_static_encoder_gives_sentence_transformers_vectors(tiny_model: Path, fixture_corpus: Path) -> None:
    light = load_static_embedder(tiny_model, name="tiny", fingerprint="fp")
    assert light is not None and light.name == "tiny" and light.fingerprint == "fp"
    reference = load_embedder(str(tiny_model))
    passages = [p.embedding_text for p in collect_passages([fixture_corpus], warn=lambda _: None).passages]
    assert light.dimension == reference.dimension
    for texts in (passages, ODD_TEXTS):
        ours, theirs = light.encode_documents(texts), reference.encode_documents(texts)
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
        np.testing.assert_allclose(light.encode_queries(texts), reference.encode_queries(texts), atol=1e-6)


def test_other_models_are_left_to_sentence_transformers(
    tiny_model: Path, tiny_cross_encoder: Path, tmp_path: Path
) -> None:
    assert load_static_embedder(tiny_cross_encoder, name="x", fingerprint="") is None
    assert load_static_embedder(tmp_path / "missing", name="x", fingerprint="") is None
    # A static model with a prompt: the prompt changes the vectors, so only sentence-transformers may run it.
    prompted = tmp_path / "prompted"
    shutil.copytree(tiny_model, prompted)
    config_file = prompted / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config_file.write_text(json.dumps({**config, "prompts": {"query": "Frage: ", "document": ""}}))
    assert load_static_embedder(prompted, name="x", fingerprint="") is None
    # Damaged weights: declined here, so the general loader reports the damage.
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    assert load_static_embedder(broken, name="x", fingerprint="") is None


def test_fallback_release_holds_the_vectors_sentence_transformers_gives(static_release: Settings) -> None:
    from sentence_transformers import SentenceTransformer

    release = load_release(static_release.index_dir)
    stored = release.index.reconstruct_n(0, release.index.ntotal)
    model = SentenceTransformer(str(release.path / "model"), device="cpu", local_files_only=True)
    texts = [p.embedding_text for p in release.passages]
    np.testing.assert_allclose(stored, model.encode_document(texts, normalize_embeddings=True), atol=1e-6)
