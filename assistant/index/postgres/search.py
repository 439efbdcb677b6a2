"""Reading releases from PostgreSQL: the connection pool, the engine and the loaded release.

The engine implements ``index.engine.Engine`` over a release's schema (``index.postgres.store`` describes the
layout): dense search with pgvector, BM25 summed in SQL from the stored contributions, passages and
sentence vectors by row. Every database failure becomes ``SearchUnavailable`` (German, no password),
which the web layer answers with 503.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import SecretStr

from ...errors import SearchUnavailable
from ...records import Passage
from ...text import GermanAnalyzer
from ..manifest import Manifest, ReleaseNames
from ..vectors import IndexPlan

__all__ = ["Connections", "ExtractedFiles", "PostgresEngine", "PostgresRelease", "where_of"]


def where_of(url: SecretStr) -> str:
    """A database server named for messages, without its password."""
    try:
        parts = conninfo_to_dict(url.get_secret_value())
    except psycopg.ProgrammingError:
        return "PostgreSQL (URL nicht lesbar)"
    host, port, name = parts.get("host", "localhost"), parts.get("port", "5432"), parts.get("dbname", "")
    return f"PostgreSQL {host}:{port}/{name}"


class Connections:
    """A pool of connections to one server, opened on first use; failures become SearchUnavailable."""

    def __init__(self, url: SecretStr, *, max_size: int, timeout: float) -> None:
        self.url = url
        self.where = where_of(url)
        self._max_size = max(1, max_size)
        self._timeout = timeout
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _open(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                # The pool logs every failed attempt with libpq's multi-line text; callers get one
                # German line (SearchUnavailable) instead, and the server log names the failure once.
                logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
                pool = ConnectionPool(
                    self.url.get_secret_value(),
                    min_size=0,
                    max_size=self._max_size,
                    timeout=self._timeout,
                    open=False,
                    configure=register_vector,
                    check=ConnectionPool.check_connection,
                    kwargs={"connect_timeout": max(1, int(self._timeout)), "autocommit": True},
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._open().connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise SearchUnavailable(
                f"Suchdatenbank {self.where} nicht erreichbar (Zeitüberschreitung)"
            ) from exc
        except psycopg.errors.UndefinedTable as exc:
            raise SearchUnavailable(
                f"Suchdatenbank {self.where}: der Index-Stand fehlt dort (noch nicht repliziert oder "
                "schon gelöscht)"
            ) from exc
        except psycopg.OperationalError as exc:
            raise SearchUnavailable(f"Suchdatenbank {self.where} nicht erreichbar") from exc

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


class PostgresEngine:
    """The engine interface (``index.engine.Engine``) over one release's schema."""

    def __init__(
        self,
        connections: Connections,
        schema: str,
        *,
        size: int,
        dimension: int,
        plan: IndexPlan,
        analyzer: GermanAnalyzer,
        df: dict[str, int],
        has_sentences: bool,
    ) -> None:
        self._connections = connections
        self._schema = sql.Identifier(schema)
        self._size = size
        self._dimension = dimension
        self._plan = plan
        self._analyzer = analyzer
        self._df = df
        self._has_sentences = has_sentences

    @property
    def size(self) -> int:
        return self._size

    @property
    def analyzer(self) -> GermanAnalyzer:
        return self._analyzer

    @property
    def has_lexical(self) -> bool:
        return True

    @property
    def has_sentences(self) -> bool:
        return self._has_sentences

    def dense(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        query = sql.SQL(
            # Ordered by distance alone: a second sort key would keep PostgreSQL from the HNSW index.
            "SELECT row, -(embedding <#> %(v)s) FROM {s}.passages ORDER BY embedding <#> %(v)s LIMIT %(n)s"
        ).format(s=self._schema)
        vector = np.asarray(vector, dtype=np.float32)
        with self._connections.connection() as conn:
            if self._plan.kind != "hnsw":  # an exact scan: one statement, no transaction around it
                rows = conn.execute(query, {"v": vector, "n": n}).fetchall()
            else:
                with conn.transaction():
                    ef = max(int(self._plan.ef_search or 40), n)
                    conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(min(ef, 1000))))
                    rows = conn.execute(query, {"v": vector, "n": n}).fetchall()
        return (
            np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.float32),
        )

    def cosines(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        query = sql.SQL("SELECT row, -(embedding <#> %s) FROM {s}.passages WHERE row = ANY(%s)").format(
            s=self._schema
        )
        with self._connections.connection() as conn:
            found = dict(
                conn.execute(query, (np.asarray(vector, dtype=np.float32), rows.tolist())).fetchall()
            )
        return np.array([found.get(int(r), 0.0) for r in rows], dtype=np.float32)

    def lexical(
        self, terms: Mapping[str, float], n: int, also: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = {term: float(weight) for term, weight in terms.items() if term in self._df and weight}
        empty = np.zeros(0, dtype=np.int64)
        if not counts:
            return empty, np.zeros(0, dtype=np.float32), np.zeros(len(also), dtype=np.float32)
        # One aggregation over the terms' postings, read twice: the top n, and the rows asked about.
        query = sql.SQL(
            "WITH q(term, times) AS (SELECT * FROM unnest(%(t)s::text[], %(c)s::float8[])), "
            "scores AS MATERIALIZED (SELECT p.row, sum(p.weight::float8 * q.times) AS score "
            "FROM {s}.postings p JOIN q USING (term) GROUP BY p.row) "
            "(SELECT row, score, TRUE FROM scores ORDER BY score DESC, row LIMIT %(n)s) UNION ALL "
            "(SELECT row, score, FALSE FROM scores WHERE row = ANY(%(also)s))"
        ).format(s=self._schema)
        values = {"t": list(counts), "c": list(counts.values()), "n": n, "also": also.tolist()}
        with self._connections.connection() as conn:
            found = conn.execute(query, values).fetchall()
        top = [(row, score) for row, score, is_top in found if is_top]
        known = {row: score for row, score, is_top in found if not is_top}
        top = [(row, score) for row, score in top if score > 0]
        return (
            np.array([r for r, _ in top], dtype=np.int64),
            np.array([s for _, s in top], dtype=np.float32),
            np.array([known.get(int(r), 0.0) for r in also], dtype=np.float32),
        )

    def idf(self, term: str) -> float:
        return math.log(1 + (self._size + 1) / (self._df.get(term, 0) + 0.5))

    def knows(self, term: str) -> bool:
        return term in self._df

    def passages(self, rows: Sequence[int]) -> list[Passage]:
        if not rows:
            return []
        query = sql.SQL("SELECT row, record FROM {s}.passages WHERE row = ANY(%s)").format(s=self._schema)
        with self._connections.connection() as conn:
            found = dict(conn.execute(query, (list(rows),)).fetchall())
        missing = [row for row in rows if row not in found]
        if missing:
            raise SearchUnavailable(
                f"Suchdatenbank {self._connections.where}: Passagen fehlen ({missing[:3]})"
            )
        return [Passage.from_record(json.loads(found[row])) for row in rows]

    def sentence_vectors(self, row: int) -> np.ndarray | None:
        if not self._has_sentences:
            return None
        query = sql.SQL("SELECT sentences FROM {s}.passages WHERE row = %s").format(s=self._schema)
        with self._connections.connection() as conn:
            found = conn.execute(query, (row,)).fetchone()
        if found is None or found[0] is None:
            return None
        return np.frombuffer(found[0], dtype=np.float16).reshape(-1, self._dimension).astype(np.float32)


class ExtractedFiles(Mapping[str, Path]):
    """A release's source files (``sources/<key>`` in its ``files`` table), written to a local cache
    folder on first access, so that every app server can show them without a shared file system."""

    def __init__(self, release: PostgresRelease, keys: Sequence[str]) -> None:
        self._release = release
        self._keys = list(keys)

    def __getitem__(self, key: str) -> Path:
        if key not in self._keys:
            raise KeyError(key)
        return self._release.extract(f"sources/{key}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class PostgresRelease(ReleaseNames):
    """A release loaded from PostgreSQL: what serving needs, like a release folder's ``Release``."""

    def __init__(
        self, connections: Connections, manifest: Manifest, schema: str, cache: Path, source_keys: list[str]
    ) -> None:
        self._connections = connections
        self.manifest = manifest
        self.schema = schema
        self.path = cache  # local copies of the bundled model and of the source files
        self.sources: Mapping[str, Path] = ExtractedFiles(self, source_keys)
        if manifest.model_dir:
            self.extract_folder(manifest.model_dir)
        self.engine = self._load_engine()

    def passage_vectors(self) -> None:
        """Not read: all vectors of a release in the database would be a query of its own."""
        return None

    def _load_engine(self) -> PostgresEngine:
        schema = sql.Identifier(self.schema)
        with self._connections.connection() as conn:
            df = dict(conn.execute(sql.SQL("SELECT term, df FROM {}.terms").format(schema)).fetchall())
            words = [w for (w,) in conn.execute(sql.SQL("SELECT word FROM {}.words").format(schema))]
            with_sentences = conn.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.passages WHERE sentences IS NOT NULL)").format(
                    schema
                )
            ).fetchone()
        return PostgresEngine(
            self._connections,
            self.schema,
            size=self.manifest.passage_count,
            dimension=self.manifest.dimension,
            plan=self.manifest.vector_index,
            analyzer=GermanAnalyzer(frozenset(words)),
            df=df,
            has_sentences=bool(with_sentences and with_sentences[0]),
        )

    def extract(self, name: str) -> Path:
        """The stored file ``name`` as a local file (written once, atomically)."""
        target = self.path / name
        if not target.resolve().is_relative_to(self.path.resolve()):
            raise KeyError(name)
        if target.is_file():
            return target
        query = sql.SQL("SELECT data FROM {}.files WHERE path = %s").format(sql.Identifier(self.schema))
        with self._connections.connection() as conn:
            found = conn.execute(query, (name,)).fetchone()
        if found is None:
            raise KeyError(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        temporary.write_bytes(found[0])
        temporary.replace(target)
        return target

    def extract_folder(self, prefix: str) -> Path:
        query = sql.SQL("SELECT path FROM {}.files WHERE path LIKE %s").format(sql.Identifier(self.schema))
        with self._connections.connection() as conn:
            names = [n for (n,) in conn.execute(query, (prefix + "/%",))]
        for name in names:
            self.extract(name)
        return self.path / prefix
