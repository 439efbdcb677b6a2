"""Releases in PostgreSQL with pgvector: one engine shared by several stateless app servers.

A release is a schema of its own, ``qm_r_<build id>``, holding

    passages  (row, id, record, embedding vector(d), sentences bytea)  one row per passage
    postings  (term, row, weight)     each term's BM25 contribution per passage, as bm25s computes it
    terms     (term, df)              document frequencies (idf, and which words the corpus knows)
    words     (word)                  the analyser's vocabulary, which splits compounds as the build did
    files     (path, data)            the bundled fallback model and the source files, for every server

and two catalogue tables in the database's default schema say which releases exist and which one is
served: ``qm_releases`` (build id, schema, ready, manifest) and ``qm_current`` (one row). A build
writes a new schema, verifies it (counts, checksums, a probe search), then marks it ready and switches
``qm_current`` in one transaction; a build that dies leaves only an unready schema, which the next
build removes. Servers poll ``qm_current`` (``current_build_id``) and swap releases like folders.

BM25 is summed in SQL from the stored contributions, so the lexical ranking equals the folder
engine's (within float32 rounding); idf and the vocabulary are read once into memory when a release
is opened. Dense search is exact up to ``EXACT_LIMIT`` passages (a sequential scan) and HNSW above,
with ``ef_search`` chosen at build time by measuring Recall@10 against exact search.

Reads go to ``search_database_url``, which may be a streaming replica; a server that cannot reach it,
or finds its release missing there, raises ``SearchUnavailable`` (the web layer answers 503).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import struct
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import SecretStr

from ..errors import BuildLocked, ReleaseError, SearchUnavailable
from ..records import Passage
from .lexical import GermanAnalyzer, LexicalIndex
from .manifest import BuildFacts, Manifest
from .releases import corpus_hash, display_model_name
from .vectors import IndexPlan, exact_top, probe_queries, recall_at_k

__all__ = ["EXACT_LIMIT", "PostgresEngine", "PostgresRelease", "PostgresReleases"]

log = logging.getLogger(__name__)

#: Up to this many passages dense search scans exactly; above, an HNSW index answers.
EXACT_LIMIT = 20_000
_HNSW_M = 16
_EF_CONSTRUCTION = 64
_EF_STEPS = (40, 64, 100, 160, 250, 400, 640, 1000)
_TARGET_RECALL = 0.97
_CATALOG_LOCK = 0x514D_5345_4152_4348  # "QMSEARCH": creating the catalogue tables
_BUILD_LOCK = 0x514D_4255_494C_44  # "QMBUILD": one publishing build at a time

_CATALOG = """
CREATE TABLE IF NOT EXISTS qm_releases (
    build_id TEXT PRIMARY KEY,
    schema_name TEXT NOT NULL UNIQUE,
    created TIMESTAMPTZ NOT NULL DEFAULT now(),
    ready BOOLEAN NOT NULL DEFAULT FALSE,
    manifest JSONB
);
CREATE TABLE IF NOT EXISTS qm_current (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    build_id TEXT NOT NULL REFERENCES qm_releases(build_id),
    switched TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

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


def schema_for(build_id: str) -> str:
    """The schema of a release: ``qm_r_`` and the build id in lower case, safe as an identifier."""
    return "qm_r_" + re.sub(r"[^a-z0-9_]", "_", build_id.lower())[:58]


def _where(url: SecretStr) -> str:
    """A database server named for messages, without its password."""
    try:
        parts = conninfo_to_dict(url.get_secret_value())
    except psycopg.ProgrammingError:
        return "PostgreSQL (URL nicht lesbar)"
    host, port, name = parts.get("host", "localhost"), parts.get("port", "5432"), parts.get("dbname", "")
    return f"PostgreSQL {host}:{port}/{name}"


def _vector_digest(vectors: np.ndarray) -> str:
    """An order-independent checksum of vectors as pgvector sends them (``vector_send``): per row the
    first 60 bits of its MD5, summed. The database computes the same over what it stored."""
    header = struct.pack(">HH", vectors.shape[1], 0)
    total = 0
    for vector in np.asarray(vectors, dtype=">f4"):
        total += int(hashlib.md5(header + vector.tobytes()).hexdigest()[:15], 16)
    return str(total)


def _text_digest(texts: Sequence[str]) -> str:
    """The same for texts (the passages' records)."""
    return str(sum(int(hashlib.md5(t.encode("utf-8")).hexdigest()[:15], 16) for t in texts))


_DIGEST_SQL = "coalesce(sum(('x' || substr(md5({column}), 1, 15))::bit(60)::bigint), 0)::text"


class _Connections:
    """A pool of connections to one server, opened on first use; failures become SearchUnavailable."""

    def __init__(self, url: SecretStr, *, max_size: int, timeout: float) -> None:
        self.url = url
        self.where = _where(url)
        self._max_size = max(1, max_size)
        self._timeout = timeout
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _open(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
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
        connections: _Connections,
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
            with conn.transaction():
                if self._plan.kind == "hnsw":
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
        self, terms: Sequence[str], n: int, also: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts: dict[str, int] = {}
        for term in terms:
            if term in self._df:
                counts[term] = counts.get(term, 0) + 1  # a repeated term counts again, as in bm25s
        empty = np.zeros(0, dtype=np.int64)
        if not counts:
            return empty, np.zeros(0, dtype=np.float32), np.zeros(len(also), dtype=np.float32)
        scored = sql.SQL(
            "WITH q(term, times) AS (SELECT * FROM unnest(%(t)s::text[], %(c)s::int[])) "
            "SELECT p.row, sum(p.weight::float8 * q.times) AS score FROM {s}.postings p JOIN q USING (term) "
        ).format(s=self._schema)
        top_query = scored + sql.SQL("GROUP BY p.row ORDER BY score DESC, p.row LIMIT %(n)s")
        also_query = scored + sql.SQL("WHERE p.row = ANY(%(also)s) GROUP BY p.row")
        values = {"t": list(counts), "c": list(counts.values()), "n": n, "also": also.tolist()}
        with self._connections.connection() as conn:
            top = conn.execute(top_query, values).fetchall()
            known = dict(conn.execute(also_query, values).fetchall()) if len(also) else {}
        top = [(row, score) for row, score in top if score > 0]
        return (
            np.array([r for r, _ in top], dtype=np.int64),
            np.array([s for _, s in top], dtype=np.float32),
            np.array([known.get(int(r), 0.0) for r in also], dtype=np.float32),
        )

    def idf(self, term: str) -> float:
        import math

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


class _ExtractedFiles(Mapping[str, Path]):
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


class PostgresRelease:
    """A release loaded from PostgreSQL: what serving needs, like a release folder's ``Release``."""

    def __init__(
        self, connections: _Connections, manifest: Manifest, schema: str, cache: Path, source_keys: list[str]
    ) -> None:
        self._connections = connections
        self.manifest = manifest
        self.schema = schema
        self.path = cache  # local copies of the bundled model and of the source files
        self.sources: Mapping[str, Path] = _ExtractedFiles(self, source_keys)
        self._engine: PostgresEngine | None = None
        if manifest.model_dir:
            self.extract_folder(manifest.model_dir)

    @property
    def build_id(self) -> str:
        return self.manifest.build_id

    @property
    def model_name(self) -> str:
        return self.manifest.model

    @cached_property
    def model_display_name(self) -> str:
        return display_model_name(self.model_name)

    @property
    def model_path(self) -> str:
        return str(self.path / self.manifest.model_dir) if self.manifest.model_dir else self.model_name

    @property
    def engine(self) -> PostgresEngine:
        if self._engine is None:
            raise ReleaseError(f"Index-Stand {self.build_id}: nicht geladen")
        return self._engine

    def load_engine(self) -> None:
        schema = sql.Identifier(self.schema)
        with self._connections.connection() as conn:
            df = dict(conn.execute(sql.SQL("SELECT term, df FROM {}.terms").format(schema)).fetchall())
            words = [w for (w,) in conn.execute(sql.SQL("SELECT word FROM {}.words").format(schema))]
            with_sentences = conn.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.passages WHERE sentences IS NOT NULL)").format(
                    schema
                )
            ).fetchone()
        self._engine = PostgresEngine(
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


class PostgresReleases:
    """The releases in one PostgreSQL database: publish (on the primary), find and open (anywhere)."""

    def __init__(
        self, url: SecretStr | str, *, cache_dir: Path, max_size: int = 8, timeout: float = 5.0
    ) -> None:
        self.url = url if isinstance(url, SecretStr) else SecretStr(url)
        self.cache_dir = cache_dir
        self._connections = _Connections(self.url, max_size=max_size, timeout=timeout)

    @property
    def where(self) -> str:
        return self._connections.where

    def close(self) -> None:
        self._connections.close()

    # -- reading ----------------------------------------------------------------------------------

    def current_build_id(self) -> str | None:
        """The served release's id, or None before the first build (or without the catalogue)."""
        try:
            with self._connections.connection() as conn:
                row = conn.execute("SELECT build_id FROM qm_current").fetchone()
        except SearchUnavailable as exc:
            if isinstance(exc.__cause__, psycopg.errors.UndefinedTable):
                return None
            raise
        return row[0] if row else None

    def open(self, build_id: str | None = None) -> PostgresRelease:
        """The current release (or ``build_id``), checked and ready to search."""
        build_id = build_id or self.current_build_id()
        if build_id is None:
            raise ReleaseError(f"kein Index in {self.where}: zuerst 'assistant build' ausführen")
        with self._connections.connection() as conn:
            row = conn.execute(
                "SELECT schema_name, manifest FROM qm_releases WHERE build_id = %s AND ready", (build_id,)
            ).fetchone()
            if row is None:
                raise ReleaseError(f"Index-Stand {build_id} gibt es in {self.where} nicht")
            schema, record = row
            keys = [
                name.removeprefix("sources/")
                for (name,) in conn.execute(
                    sql.SQL("SELECT path FROM {}.files WHERE path LIKE 'sources/%%'").format(
                        sql.Identifier(schema)
                    )
                )
            ]
        manifest = Manifest.parse(record, build_id)
        release = PostgresRelease(self._connections, manifest, schema, self.cache_dir / build_id, keys)
        release.load_engine()
        if release.engine.size != manifest.passage_count:
            raise ReleaseError(f"Index-Stand {build_id}: Passagenzahl passt nicht zum Manifest")
        return release

    # -- writing (on the primary) -----------------------------------------------------------------

    def ensure_catalog(self) -> None:
        """The extension and the catalogue tables, created once even when several processes start
        together; a missing extension is reported with what the administrator must run."""
        with self._session() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CATALOG_LOCK,))
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
                try:
                    with conn.transaction():
                        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFile) as exc:
                    raise ReleaseError(
                        f"{self.where}: die Erweiterung pgvector fehlt oder darf hier nicht angelegt werden. "
                        "Ein Administrator muss sie installieren (Debian: postgresql-NN-pgvector) und in "
                        "dieser Datenbank 'CREATE EXTENSION vector;' ausführen"
                    ) from exc
            conn.execute(_CATALOG)

    def publish(
        self,
        build_id: str,
        staging: Path,
        *,
        passages: list[Passage],
        vectors: np.ndarray,
        model: str,
        model_dir: str | None,
        files: dict[str, Path],
        lexical: LexicalIndex,
        facts: BuildFacts,
        keep: int = 3,
        exact_limit: int = EXACT_LIMIT,
        hnsw: bool | None = None,
        switch: bool = True,
    ) -> str:
        """Write, verify and switch to a new release; returns its schema. ``staging`` holds what the
        build made on disk (the bundled model, the sentence vectors). ``switch=False`` publishes a
        release that is never served (for ``assistant eval``); ``discard`` removes it."""
        self.ensure_catalog()
        started = time.perf_counter()
        schema = schema_for(build_id)
        with self._session() as conn:
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (_BUILD_LOCK,)).fetchone()[0]:  # type: ignore[index]
                raise BuildLocked(f"auf {self.where} veröffentlicht gerade ein anderer Build")
            try:
                self._remove_unready(conn)
                conn.execute(
                    "INSERT INTO qm_releases (build_id, schema_name) VALUES (%s, %s)", (build_id, schema)
                )
                records = [json.dumps(p.to_record(), ensure_ascii=False) for p in passages]
                self._write(conn, schema, staging, passages, records, vectors, model_dir, files, lexical)
                use_hnsw = len(passages) > exact_limit if hnsw is None else hnsw
                plan = self._vector_index(conn, schema, vectors) if use_hnsw else IndexPlan("flat")
                checks = {
                    "passages": _text_digest(records),
                    "vectors": _vector_digest(vectors),
                    "postings": str(int(len(lexical.postings()[0]))),
                }
                self._verify(conn, schema, len(passages), checks, vectors)
                manifest = Manifest(
                    build_id=build_id,
                    built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    model=model,
                    model_dir=model_dir,
                    dimension=int(vectors.shape[1]),
                    passage_count=len(passages),
                    vector_index=plan,
                    corpus_hash=corpus_hash(passages),
                    files=checks,
                    facts=facts,
                )
                with conn.transaction():
                    conn.execute(
                        "UPDATE qm_releases SET ready = TRUE, manifest = %s::jsonb WHERE build_id = %s",
                        (manifest.to_json().decode("utf-8"), build_id),
                    )
                    if switch:
                        conn.execute(
                            "INSERT INTO qm_current (singleton, build_id) VALUES (TRUE, %s) "
                            "ON CONFLICT (singleton) DO UPDATE "
                            "SET build_id = EXCLUDED.build_id, switched = now()",
                            (build_id,),
                        )
                if switch:
                    self._prune(conn, keep=keep, current=build_id)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_BUILD_LOCK,))
        log.info(
            "published release %s (%d passages) to %s in %.1fs",
            build_id,
            len(passages),
            self.where,
            time.perf_counter() - started,
        )
        return schema

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """One connection of its own for a build (it holds the build lock), failures in German."""
        try:
            with psycopg.connect(self.url.get_secret_value(), autocommit=True, connect_timeout=10) as conn:
                if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
                    register_vector(conn)
                yield conn
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise ReleaseError(
                f"{self.where} ist ein Lesereplikat: 'assistant build' braucht den Primärserver"
            ) from exc
        except psycopg.errors.UndefinedFile:
            raise
        except psycopg.OperationalError as exc:
            raise ReleaseError(f"Suchdatenbank {self.where} nicht erreichbar: {type(exc).__name__}") from exc

    def _write(
        self,
        conn: psycopg.Connection[Any],
        schema: str,
        staging: Path,
        passages: list[Passage],
        records: list[str],
        vectors: np.ndarray,
        model_dir: str | None,
        files: dict[str, Path],
        lexical: LexicalIndex,
    ) -> None:
        s = sql.Identifier(schema)
        with conn.transaction():
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(s))
            conn.execute(sql.SQL(_RELEASE_TABLES.replace("{d}", str(int(vectors.shape[1])))).format(s=s))
        sentences = _stored_sentences(staging, len(passages))
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
            with cursor.copy(
                sql.SQL("COPY {}.terms (term, df) FROM STDIN (FORMAT BINARY)").format(s)
            ) as copy:
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
            with cursor.copy(
                sql.SQL("COPY {}.files (path, data) FROM STDIN (FORMAT BINARY)").format(s)
            ) as copy:
                copy.set_types(["text", "bytea"])
                for name, path in stored:
                    try:
                        copy.write_row((name, path.read_bytes()))
                    except OSError:  # a source gone since it was read: the view says so later
                        log.warning("source %s not stored: unreadable", path)
        conn.execute(sql.SQL("CREATE INDEX ON {}.postings (term)").format(s))
        conn.execute(sql.SQL("ANALYZE {}.passages").format(s))
        conn.execute(sql.SQL("ANALYZE {}.postings").format(s))

    def _vector_index(self, conn: psycopg.Connection[Any], schema: str, vectors: np.ndarray) -> IndexPlan:
        """An HNSW index, and the smallest ef_search that reaches the target Recall@10 on probe queries."""
        s = sql.Identifier(schema)
        conn.execute(
            sql.SQL(
                "CREATE INDEX ON {}.passages USING hnsw (embedding vector_ip_ops) "
                "WITH (m = {}, ef_construction = {})"
            ).format(s, sql.Literal(_HNSW_M), sql.Literal(_EF_CONSTRUCTION))
        )
        queries = probe_queries(vectors, seed=0)
        exact = exact_top(vectors, queries, 10)
        query = sql.SQL("SELECT row FROM {}.passages ORDER BY embedding <#> %s LIMIT 10").format(s)
        recall = 0.0
        ef = _EF_STEPS[0]
        for ef in _EF_STEPS:
            found = np.full((len(queries), 10), -1, dtype=np.int64)
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef)))
                for i, q in enumerate(queries):
                    rows = [r for (r,) in conn.execute(query, (q,)).fetchall()]
                    found[i, : len(rows)] = rows
            recall = recall_at_k(found, exact)
            if recall >= _TARGET_RECALL:
                break
        return IndexPlan("hnsw", ef_search=ef, recall_at_10=round(recall, 4))

    def _verify(
        self,
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
            raise ReleaseError(f"Index-Stand in {self.where} nicht veröffentlicht: " + "; ".join(problems))

    def _remove_unready(self, conn: psycopg.Connection[Any]) -> None:
        """Schemas of builds that died before they were switched to (their release rows unready). The
        row is written before its schema, so every schema a build made has one."""
        for build_id, schema in conn.execute(
            "SELECT build_id, schema_name FROM qm_releases WHERE NOT ready"
        ).fetchall():
            self._drop(conn, build_id, schema)

    def _prune(self, conn: psycopg.Connection[Any], *, keep: int, current: str) -> None:
        """Old releases beyond ``keep`` (the served one counts), and evaluations' releases left behind
        for more than a day by a process that died before removing them."""
        others = conn.execute(
            "SELECT build_id, schema_name FROM qm_releases "
            "WHERE ready AND build_id <> %s AND build_id NOT LIKE 'eval-%%' ORDER BY build_id DESC",
            (current,),
        ).fetchall()
        stale = conn.execute(
            "SELECT build_id, schema_name FROM qm_releases "
            "WHERE build_id LIKE 'eval-%%' AND created < now() - interval '1 day'"
        ).fetchall()
        for build_id, schema in [*others[max(keep - 1, 0) :], *stale]:
            self._drop(conn, build_id, schema)

    @staticmethod
    def _drop(conn: psycopg.Connection[Any], build_id: str, schema: str) -> None:
        with conn.transaction():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            conn.execute("DELETE FROM qm_releases WHERE build_id = %s", (build_id,))

    def discard(self, build_id: str) -> None:
        """Remove a release that is not served (an evaluation's); the served one is never removed."""
        with self._session() as conn:
            row = conn.execute(
                "SELECT schema_name FROM qm_releases r WHERE build_id = %s "
                "AND NOT EXISTS (SELECT 1 FROM qm_current c WHERE c.build_id = r.build_id)",
                (build_id,),
            ).fetchone()
            if row is not None:
                self._drop(conn, build_id, row[0])
        shutil.rmtree(self.cache_dir / build_id, ignore_errors=True)

    def remove_local_copies(self, keep: set[str]) -> None:
        """Local copies of releases no longer served (their model and source files)."""
        if not self.cache_dir.is_dir():
            return
        for folder in self.cache_dir.iterdir():
            if folder.is_dir() and folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)


def _stored_sentences(staging: Path, count: int) -> Any:
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
