"""A small static sentence-transformers model built from the corpus itself: the offline fallback.

A WordPiece tokenizer is trained on the corpus with ``tokenizers``; token vectors come from a
truncated SVD of the idf-weighted passage–token matrix (latent semantic analysis), scaled once more
by idf so that rare, telling tokens outweigh common ones in the mean the model takes. The result is a
``StaticEmbedding`` followed by ``Normalize``, saved as an ordinary sentence-transformers folder and
loaded through the same ``SentenceTransformer(path)`` code as any other model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .cache import text_key
from .text import split_sentences

__all__ = ["REUSE_OVERLAP", "STATIC_MODEL_KIND", "build_static_model", "still_fits"]

STATIC_MODEL_KIND = "qm-static-lsa"
REUSE_OVERLAP = 0.9


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
    weighted = counts.multiply(idf[np.newaxis, :]).tocsr()

    k = max(1, min(dimension, min(weighted.shape) - 1))
    # A fixed start vector makes the SVD itself repeatable. The model as a whole is not quite: the
    # tokenizers WordPiece trainer breaks ties between equally frequent merges differently from run to
    # run, which moves XQuAD dense MRR@10 by about ±0.002 between identical builds.
    v0 = np.ones(min(weighted.shape))
    _, singular, vt = svds(weighted.astype(np.float64), k=k, v0=v0)
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
