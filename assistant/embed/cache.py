"""Embedding cache: vectors keyed by model fingerprint and a hash of the embedded text (SQLite).

A rebuild re-embeds only passages whose text changed; everything else comes from here. Entries are
content-addressed, so a crashed build can only leave correct vectors behind.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .models import Embedder

__all__ = ["EmbeddingCache", "cached_vectors", "query_key", "text_key"]


def query_key(text: str) -> str:
    """The cache key of a text encoded as a question (``cached_vectors(…, queries=True)``)."""
    return text_key(f"\x00query\x00{text}")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """``with EmbeddingCache(path) as cache: cache.get(model, keys)``; one file for all models."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, dim INTEGER, vector BLOB,"
            " PRIMARY KEY (model, key))"
        )

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def get(self, model: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), 500):  # stay below SQLite's bound-parameter limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, dim, vector FROM vectors WHERE model = ? AND key IN ({marks})", [model, *chunk]
            )
            for key, dim, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (dim,):
                    found[key] = vector
        return found

    def put(self, model: str, keys: list[str], vectors: np.ndarray) -> None:
        rows = [
            (model, key, int(v.shape[0]), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for key, v in zip(keys, vectors, strict=True)
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)

    def keep_only(self, model: str, keys: Iterable[str]) -> int:
        """Forget this model's vectors for texts no longer in the corpus; returns how many went."""
        with self._db:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM live")
            self._db.executemany("INSERT OR IGNORE INTO live VALUES (?)", [(k,) for k in keys])
            cursor = self._db.execute(
                "DELETE FROM vectors WHERE model = ? AND key NOT IN (SELECT key FROM live)", [model]
            )
            # Vectors of models not used any more are dropped too: the cache holds one corpus' worth.
            self._db.execute("DELETE FROM vectors WHERE model != ?", [model])
        return cursor.rowcount


#: Texts encoded between two progress reports.
PROGRESS_BATCH = 256


def cached_vectors(
    embedder: Embedder,
    texts: list[str],
    cache: EmbeddingCache,
    *,
    use_cache: bool,
    queries: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for all texts, in order: cached ones reused, the rest encoded and cached. With
    ``queries`` the texts are encoded as questions (a model may prefix them differently), under keys
    of their own. ``progress(done, total)`` hears of every batch of ``PROGRESS_BATCH`` encoded."""
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32), 0
    keys = [query_key(t) if queries else text_key(t) for t in texts]
    known = cache.get(embedder.fingerprint, keys) if use_cache else {}
    missing = [i for i, key in enumerate(keys) if key not in known]
    fresh = None
    if missing:
        wanted = [texts[i] for i in missing]
        if queries:
            fresh = embedder.encode_queries(wanted)
        else:
            parts = []
            for start in range(0, len(wanted), PROGRESS_BATCH):
                if progress is not None:
                    progress(start, len(wanted))
                parts.append(embedder.encode_documents(wanted[start : start + PROGRESS_BATCH]))
            fresh = np.concatenate(parts)
    if progress is not None:
        progress(len(missing), len(missing))
    if fresh is not None:
        cache.put(embedder.fingerprint, [keys[i] for i in missing], fresh)
        dimension = fresh.shape[1]
    else:
        dimension = next(iter(known.values())).shape[0]
    vectors = np.empty((len(texts), dimension), dtype=np.float32)
    for row, i in enumerate(missing):
        vectors[i] = fresh[row]  # type: ignore[index]
    for i, key in enumerate(keys):
        if key in known:
            vectors[i] = known[key]
    return vectors, len(texts) - len(missing)
