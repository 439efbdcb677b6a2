"""Writing a release into PostgreSQL: its tables filled by binary COPY, the HNSW index with a measured
``ef_search``, and the checks a release must pass before ``index.postgres.store`` switches to it."""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from ...errors import ReleaseError
from ...records import Passage
from ..lexical import LexicalIndex
from ..vectors import IndexPlan, exact_top, probe_queries, recall_at_k

__all__ = [
    "stored_sentences",
    "text_digest",
    "vector_digest",
    "vector_index",
    "verify_release",
    "write_release",
]

log = logging.getLogger(__name__)

_HNSW_M = 32
_EF_CONSTRUCTION = 128
_EF_STEPS = (40, 64, 100, 160, 250, 400, 640, 800, 1000)
_TARGET_RECALL = 0.97

_RELEASE_TABLES = """
CREATE TABLE {s}.passages (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    record TEXT NOT NULL,
    embedding vector({d}) NOT NULL,
    sentences BYTEA
);
CREATE TABLE {s}.postings (term TEXT NOT NULL, row INTEGER NOT NULL, weight REAL NOT NULL);
CREATE TABLE {s}.terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL);
CREATE TABLE {s}.words (word TEXT NOT NULL);
CREATE TABLE {s}.files (path TEXT PRIMARY KEY, data BYTEA NOT NULL);
"""


def vector_digest(vectors: np.ndarray) -> str:
    """An order-independent checksum of vectors as pgvector sends them (``vector_send``): per row the
    first 60 bits of its MD5, summed. The database computes the same over what it stored."""
    header = struct.pack(">HH", vectors.shape[1], 0)
    total = 0
    for vector in np.asarray(vectors, dtype=">f4"):
        total += int(hashlib.md5(header + vector.tobytes()).hexdigest()[:15], 16)
    return str(total)


def text_digest(texts: Sequence[str]) -> str:
    """The same for texts (the passages' records)."""
    return str(sum(int(hashlib.md5(t.encode("utf-8")).hexdigest()[:15], 16) for t in texts))


_DIGEST_SQL = "coalesce(sum(('x' || substr(md5({column}), 1, 15))::bit(60)::bigint), 0)::text"


def write_release(
    conn: psycopg.Connection[Any],
    schema: str,
    staging: Path,
    passages: list[Passage],
    records: list[str],
    vectors: np.ndarray,
    model_dir: str | None,
    files: dict[str, Path],
    lexical: LexicalIndex,
) -> int:
    """Create the release's schema and fill its tables; returns how many BM25 postings it wrote."""
    s = sql.Identifier(schema)
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(s))
        conn.execute(sql.SQL(_RELEASE_TABLES.replace("{d}", str(int(vectors.shape[1])))).format(s=s))
    sentences = stored_sentences(staging, len(passages))
    with conn.cursor() as cursor:
        with cursor.copy(
            sql.SQL(
                "COPY {}.passages (row, id, record, embedding, sentences) FROM STDIN (FORMAT BINARY)"
            ).format(s)
        ) as copy:
            copy.set_types(["integer", "text", "text", "vector", "bytea"])
            for row, (passage, record) in enumerate(zip(passages, records, strict=True)):
                copy.write_row((row, passage.id, record, vectors[row], sentences(row)))
        terms, rows, weights, df = lexical.postings()
        with cursor.copy(
            sql.SQL("COPY {}.postings (term, row, weight) FROM STDIN (FORMAT BINARY)").format(s)
        ) as copy:
            copy.set_types(["text", "integer", "float4"])
            for term, row, weight in zip(terms, rows.tolist(), weights.tolist(), strict=True):
                copy.write_row((term, row, weight))
        with cursor.copy(sql.SQL("COPY {}.terms (term, df) FROM STDIN (FORMAT BINARY)").format(s)) as copy:
            copy.set_types(["text", "integer"])
            for term, count in df.items():
                copy.write_row((term, count))
        with cursor.copy(sql.SQL("COPY {}.words (word) FROM STDIN (FORMAT BINARY)").format(s)) as copy:
            copy.set_types(["text"])
            for word in sorted(lexical.analyzer.vocabulary):
                copy.write_row((word,))
        stored: list[tuple[str, Path]] = [(f"sources/{key}", path) for key, path in sorted(files.items())]
        if model_dir:
            folder = staging / model_dir
            stored += [
                (f"{model_dir}/{f.relative_to(folder).as_posix()}", f)
                for f in sorted(folder.rglob("*"))
                if f.is_file()
            ]
        with cursor.copy(sql.SQL("COPY {}.files (path, data) FROM STDIN (FORMAT BINARY)").format(s)) as copy:
            copy.set_types(["text", "bytea"])
            for name, path in stored:
                try:
                    copy.write_row((name, path.read_bytes()))
                except OSError:  # a source gone since it was read: the view says so later
                    log.warning("source %s not stored: unreadable", path)
    # Covering: a query's postings are read from the index alone, without visiting the table.
    conn.execute(sql.SQL("CREATE INDEX ON {}.postings (term) INCLUDE (row, weight)").format(s))
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}.passages").format(s))
    # VACUUM also writes the visibility map that index-only scans of the postings need.
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}.postings").format(s))
    return len(terms)


def vector_index(conn: psycopg.Connection[Any], schema: str, vectors: np.ndarray) -> IndexPlan:
    """An HNSW index, and the smallest ef_search that reaches the target Recall@10 on probe queries."""
    s = sql.Identifier(schema)
    # pgvector builds fast only while the graph fits into maintenance_work_mem (64 MB by default: some
    # 40,000 vectors of 384 dimensions); this session may take what the graph needs, up to 2 GB.
    graph_mb = int(vectors.shape[0] * (vectors.shape[1] * 4 + _HNSW_M * 2 * 8 + 64) / 2**20 * 1.3) + 64
    with conn.transaction():
        conn.execute(
            sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(f"{min(graph_mb, 2048)}MB"))
        )
        conn.execute(
            sql.SQL(
                "CREATE INDEX ON {}.passages USING hnsw (embedding vector_ip_ops) "
                "WITH (m = {}, ef_construction = {})"
            ).format(s, sql.Literal(_HNSW_M), sql.Literal(_EF_CONSTRUCTION))
        )
    queries = probe_queries(vectors, seed=0)
    k = min(10, len(vectors))  # Recall@10, or over all passages of a release smaller than that
    exact = exact_top(vectors, queries, k)
    query = sql.SQL("SELECT row FROM {}.passages ORDER BY embedding <#> %s LIMIT %s").format(s)
    recall = 0.0
    ef = _EF_STEPS[0]
    for ef in _EF_STEPS:
        found = np.full((len(queries), k), -1, dtype=np.int64)
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef)))
            for i, q in enumerate(queries):
                rows = [r for (r,) in conn.execute(query, (q, k)).fetchall()]
                found[i, : len(rows)] = rows
        recall = recall_at_k(found, exact)
        if recall >= _TARGET_RECALL:
            break
    return IndexPlan("hnsw", ef_search=ef, recall_at_10=round(recall, 4))


def verify_release(
    where: str,
    conn: psycopg.Connection[Any],
    schema: str,
    count: int,
    checks: dict[str, str],
    vectors: np.ndarray,
) -> None:
    s = sql.Identifier(schema)
    found = conn.execute(
        sql.SQL(
            "SELECT count(*), "
            + _DIGEST_SQL.format(column="record")
            + ", "
            + _DIGEST_SQL.format(column="vector_send(embedding)")
            + " FROM {}.passages"
        ).format(s)
    ).fetchone()
    postings = conn.execute(sql.SQL("SELECT count(*) FROM {}.postings").format(s)).fetchone()
    assert found is not None and postings is not None
    problems = []
    if found[0] != count:
        problems.append(f"{found[0]} statt {count} Passagen")
    if found[1] != checks["passages"]:
        problems.append("Prüfsumme der Passagen stimmt nicht")
    if found[2] != checks["vectors"]:
        problems.append("Prüfsumme der Vektoren stimmt nicht")
    if str(postings[0]) != checks["postings"]:
        problems.append("Zahl der Einträge des BM25-Index stimmt nicht")
    if count:  # a probe search: a passage's own vector finds it first
        probe = conn.execute(
            sql.SQL("SELECT row FROM {}.passages ORDER BY embedding <#> %s LIMIT 1").format(s),
            (vectors[0],),
        ).fetchone()
        own = conn.execute(
            sql.SQL("SELECT -(embedding <#> %s) FROM {}.passages WHERE row = %s").format(s),
            (vectors[0], probe[0] if probe else -1),
        ).fetchone()
        if own is None or own[0] < float(vectors[0] @ vectors[0]) - 1e-3:
            problems.append("Probesuche findet die Passage nicht")
    if problems:
        raise ReleaseError(f"Index-Stand in {where} nicht veröffentlicht: " + "; ".join(problems))


def stored_sentences(staging: Path, count: int) -> Any:
    """Per passage row, its sentence vectors as float16 bytes (None when the build stored none)."""
    path = staging / "sentences.npy"
    if not path.is_file():
        return lambda row: None
    vectors = np.load(path, mmap_mode="r")
    offsets = np.load(staging / "sentences.offsets.npy")

    def of(row: int) -> bytes | None:
        if row >= count:
            return None
        return np.ascontiguousarray(
            vectors[int(offsets[row]) : int(offsets[row + 1])], dtype=np.float16
        ).tobytes()

    return of
