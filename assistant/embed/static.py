"""A small static sentence-transformers model built from the corpus itself: the offline fallback.

A WordPiece tokenizer is trained on the corpus with ``tokenizers``; token vectors come from a
truncated SVD of the idf-weighted passage–token matrix (latent semantic analysis), scaled once more
by idf so that rare, telling tokens outweigh common ones in the mean the model takes. The result is a
``StaticEmbedding`` followed by ``Normalize``, saved as an ordinary sentence-transformers folder that
``SentenceTransformer(path)`` loads like any other model. The build and the server run it with
``StaticEncoder`` instead: the same forward pass in numpy, the same vectors, no torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..text import split_sentences
from .cache import text_key
from .models import Embedder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

__all__ = [
    "MAX_CONTEXTS",
    "REUSE_OVERLAP",
    "STATIC_MODEL_KIND",
    "StaticEncoder",
    "build_static_model",
    "load_static_embedder",
    "still_fits",
]

STATIC_MODEL_KIND = "qm-static-lsa"
REUSE_OVERLAP = 0.9
#: Passages the model is trained on at most: the SVD's cost grows with the passages, its quality stops
#: growing long before (the vocabulary is capped anyway), so large corpora train on an even sample.
MAX_CONTEXTS = 10_000


def build_static_model(
    texts: list[str], out_dir: Path, *, dimension: int = 256, vocab_size: int = 12000
) -> Path:
    """Train a static embedding model on ``texts`` and save it to ``out_dir``; returns ``out_dir``."""
    import torch
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import svds
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    # Passages as contexts measured clearly better than sentences on the corpus (see the issue notes);
    # a corpus of very few passages falls back to sentences so the SVD has something to factor.
    contexts = [t for t in texts if t.strip()]
    if len(contexts) > MAX_CONTEXTS:
        step = len(contexts) / MAX_CONTEXTS
        contexts = [contexts[int(i * step)] for i in range(MAX_CONTEXTS)]
    if len(contexts) < 8:
        contexts = [s for text in contexts for s in split_sentences(text)]
    if len(contexts) < 2:
        raise ValueError("too little text to build a static model (at least two sentences needed)")

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=64))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=1, special_tokens=["[UNK]"], show_progress=False
    )
    tokenizer.train_from_iterator(contexts, trainer=trainer)
    vocab = tokenizer.get_vocab_size()

    # Context × token counts, dampened (log) and weighted by inverse document frequency.
    rows, cols = [], []
    for i, encoding in enumerate(tokenizer.encode_batch(contexts, add_special_tokens=False)):
        rows.extend([i] * len(encoding.ids))
        cols.extend(encoding.ids)
    counts = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(contexts), vocab))
    counts.sum_duplicates()
    counts.data = np.log1p(counts.data)
    df = np.bincount(counts.indices, minlength=vocab)
    idf = np.log((1 + len(contexts)) / (1 + df)) + 1.0
    idf[df == 0] = 0.0
    unk = tokenizer.token_to_id("[UNK]")
    if unk is not None:
        idf[unk] = 0.0  # unknown pieces carry no meaning
    weighted = counts.multiply(idf[np.newaxis, :]).tocsr().astype(np.float64)

    k = _rank_at_most(weighted, max(1, min(dimension, min(weighted.shape) - 1)))
    # A fixed start vector makes the SVD itself repeatable. The model as a whole is not quite: the
    # tokenizers WordPiece trainer breaks ties between equally frequent merges differently from run to
    # run, which moves XQuAD dense MRR@10 by about ±0.002 between identical builds.
    # PROPACK gives ARPACK's singular values and vectors (to 1e-11, up to each vector's sign, which no
    # cosine sees) about ten times faster: 8000 passages × 6900 tokens, k=256, 1.3 s against 13 s. Asked
    # for more components than the matrix has non-zero singular values it slows down badly (ARPACK then
    # even misses some), hence k is capped at the rank.
    v0 = np.ones(weighted.shape[0])
    _, singular, vt = svds(weighted, k=k, v0=v0, solver="propack")
    order = np.argsort(singular)[::-1]
    token_vectors = np.ascontiguousarray(vt[order].T * singular[order] * idf[:, np.newaxis], dtype=np.float32)

    embedding = StaticEmbedding(tokenizer, embedding_weights=torch.from_numpy(token_vectors))
    model = SentenceTransformer(modules=[embedding, Normalize()], device="cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    info = {
        "kind": STATIC_MODEL_KIND,
        "contexts": len(contexts),
        "vocab": vocab,
        "dimension": k,
        "trained_on": sorted({text_key(t)[:16] for t in texts}),
    }
    (out_dir / "qm_static.json").write_text(json.dumps(info), encoding="utf-8")
    return out_dir


def _rank_at_most(matrix: Any, k: int) -> int:
    """The matrix's numerical rank (singular values above 1e-6 of the largest), or ``k`` if it is at
    least ``k``: read off a seeded random sketch of ``k + 10`` columns, which keeps the rank up to there.

    A corpus that repeats itself (copies of the same documents) has fewer independent directions than
    the dimension asked for; its further components would be zeros anyway.
    """
    sketch = matrix @ np.random.default_rng(0).standard_normal((matrix.shape[1], k + 10))
    eigenvalues = np.linalg.eigvalsh(sketch.T @ sketch)  # squared singular values of the sketch
    if eigenvalues[-1] <= 0:
        return k
    return max(1, min(k, int(np.sum(eigenvalues > eigenvalues[-1] * 1e-12))))


def still_fits(model_dir: Path, texts: list[str], *, overlap: float = REUSE_OVERLAP) -> bool:
    """Whether a static model trained earlier still fits the corpus: at least ``overlap`` of today's
    texts were in its training set and at least ``overlap`` of its training set is still there.

    Reusing it keeps cached vectors valid, so editing one file re-embeds one file's passages; the
    model is trained anew once the corpus has drifted further than that.
    """
    try:
        info = json.loads((model_dir / "qm_static.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.get("kind") != STATIC_MODEL_KIND:
        return False
    trained = set(info.get("trained_on", ()))
    current = {text_key(t)[:16] for t in texts}
    if not trained or not current:
        return False
    shared = len(trained & current)
    return shared >= overlap * len(current) and shared >= overlap * len(trained)


class StaticEncoder:
    """The static model's forward pass without torch: the mean of a text's token vectors, L2-normalised,
    which is what ``StaticEmbedding`` followed by ``Normalize`` computes (equal to float rounding).

    It offers the part of ``SentenceTransformer`` that ``Embedder`` calls, so serving a release with the
    fallback model never imports sentence-transformers (with torch and transformers, seconds of start-up
    on a small machine, against milliseconds for this).
    """

    def __init__(self, tokenizer: Tokenizer, weights: np.ndarray) -> None:
        tokenizer.no_padding()  # as StaticEmbedding does; the saved tokenizer has no truncation
        self._tokenizer = tokenizer
        self._weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.prompts: dict[str, str] = {}

    def encode_query(self, texts: list[str], **_: object) -> np.ndarray:
        return self._encode(texts)

    def encode_document(
        self, texts: list[str], *, show_progress_bar: bool = False, **_: object
    ) -> np.ndarray:
        bar = None
        if show_progress_bar:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="Einbetten", unit=" Passagen")
        parts = [self._encode([])]
        for start in range(0, len(texts), 2048):
            parts.append(self._encode(texts[start : start + 2048]))
            if bar is not None:
                bar.update(len(parts[-1]))
        if bar is not None:
            bar.close()
        return np.concatenate(parts)

    def get_embedding_dimension(self) -> int:
        return int(self._weights.shape[1])

    def eval(self) -> StaticEncoder:
        return self

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self._weights.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(texts, add_special_tokens=False)):
            if encoding.ids:  # a text without tokens stays the zero vector, as in an empty EmbeddingBag
                vectors[row] = self._weights[encoding.ids].mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)  # torch.nn.functional.normalize's epsilon


def load_static_embedder(folder: Path, *, name: str, fingerprint: str) -> Embedder | None:
    """The fallback model that ``build_static_model`` saved in ``folder``, as an embedder that needs no
    torch; None for any other folder (those load through sentence-transformers).

    ``fingerprint`` is the one the build recorded for these weights (a release's manifest has it).
    """
    if not _plain_static_model(folder):
        return None
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    try:
        weights = load_file(folder / "model.safetensors")["embedding.weight"]
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # a damaged folder (many exception types): the general loader reports it
        return None
    encoder = StaticEncoder(tokenizer, weights)
    return Embedder(model=cast("SentenceTransformer", encoder), name=name, fingerprint=fingerprint)


def _plain_static_model(folder: Path) -> bool:
    """Whether ``folder`` holds exactly what ``build_static_model`` writes: our kind of model, the two
    modules StaticEmbedding and Normalize, and no prompts."""
    try:
        info = json.loads((folder / "qm_static.json").read_text(encoding="utf-8"))
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        types = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
        return (
            info.get("kind") == STATIC_MODEL_KIND
            and types == ["StaticEmbedding", "Normalize"]
            and modules[0].get("path") == ""
            and not any((config.get("prompts") or {}).values())
            and not config.get("default_prompt_name")
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
