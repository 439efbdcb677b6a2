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

import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from pydantic import SecretStr

from ...errors import BuildLocked, ReleaseError, SearchUnavailable
from ..engine import Engine
from ..manifest import Manifest
from ..store import NewRelease, Published
from ..vectors import IndexKind, IndexPlan
from .search import Connections, PostgresRelease
from .write import text_digest, vector_digest, vector_index, verify_release, write_release

__all__ = ["EXACT_LIMIT", "PostgresReleases", "schema_for"]

log = logging.getLogger(__name__)

#: Up to this many passages dense search scans exactly; above, an HNSW index answers (an exact scan of
#: 10,000 passages took 23 ms at p95 on 2 cores, HNSW about 2–6 ms: bench/scale.py --backend postgres).
EXACT_LIMIT = 5_000
# Advisory locks, each keyed by (program constant, hash of the catalogue's schema): deployments that keep
# their catalogues in different schemas of one database do not wait for each other.
_CATALOG_LOCK = 0x514D_5345  # "QMSE": creating the catalogue tables
_BUILD_LOCK = 0x514D_4255  # "QMBU": one publishing build at a time
_KEY = "%s, hashtext(current_schema())"

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


def schema_for(build_id: str) -> str:
    """The schema of a release: ``qm_r_`` and the build id in lower case, safe as an identifier."""
    return "qm_r_" + re.sub(r"[^a-z0-9_]", "_", build_id.lower())[:58]


class PostgresReleases:
    """The releases in one PostgreSQL database: publish (on the primary), find and open (anywhere)."""

    def __init__(
        self, url: SecretStr | str, *, cache_dir: Path, max_size: int = 8, timeout: float = 5.0
    ) -> None:
        self.url = url if isinstance(url, SecretStr) else SecretStr(url)
        self.cache_dir = cache_dir
        self._connections = Connections(self.url, max_size=max_size, timeout=timeout)

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
        return PostgresRelease(self._connections, manifest, schema, self.cache_dir / build_id, keys)

    # -- writing (on the primary) -----------------------------------------------------------------

    def bundled_model(self) -> None:
        """None: the current release's model lives in the database (and in a server's local copy),
        so a build trains the fallback model anew."""
        return None

    def ensure_catalog(self) -> None:
        """The extension and the catalogue tables, created once even when several processes start
        together; a missing extension is reported with what the administrator must run."""
        with self._session() as conn, conn.transaction():
            conn.execute(f"SELECT pg_advisory_xact_lock({_KEY})", (_CATALOG_LOCK,))
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
        release: NewRelease,
        *,
        keep: int = 3,
        index_kind: IndexKind = "auto",
    ) -> Published:
        """``ReleaseStore.publish``: into a schema of its own, then ``qm_current`` switched; the
        staging folder is removed once its files are in the database."""
        schema = self._publish(build_id, staging, release, keep=keep, index_kind=index_kind)
        shutil.rmtree(staging, ignore_errors=True)
        return Published(build_id=build_id, path=staging, where=f"{self.where}, Schema {schema}")

    def trial_engine(self, workdir: Path, release: NewRelease, *, index_kind: IndexKind = "flat") -> Engine:
        """A release that is never switched to (for ``assistant eval``), removed when the process ends."""
        import atexit
        import os

        stamp = time.strftime("%Y%m%dT%H%M%S")
        build_id = f"eval-{stamp}-{len(release.passages)}-{os.getpid()}-{id(release) % 10_000}"
        staging = workdir / build_id
        staging.mkdir(parents=True)
        self._publish(build_id, staging, release, switch=False, index_kind=index_kind)
        atexit.register(self._discard_at_exit, build_id)
        return self.open(build_id).engine

    def _publish(
        self,
        build_id: str,
        staging: Path,
        release: NewRelease,
        *,
        keep: int = 3,
        index_kind: IndexKind = "auto",
        exact_limit: int = EXACT_LIMIT,
        switch: bool = True,
    ) -> str:
        """Write, verify and (with ``switch``) switch to a new release; returns its schema. ``staging``
        holds what the build made on disk (the bundled model, the sentence vectors). ``index_kind``
        "auto" scans exactly up to ``exact_limit`` passages and uses HNSW above; "flat" always scans,
        any other kind is HNSW (pgvector has no sq8)."""
        passages, vectors = release.passages, release.vectors
        self.ensure_catalog()
        started = time.perf_counter()
        schema = schema_for(build_id)
        with self._session() as conn:
            if not conn.execute(f"SELECT pg_try_advisory_lock({_KEY})", (_BUILD_LOCK,)).fetchone()[0]:  # type: ignore[index]
                raise BuildLocked(f"auf {self.where} veröffentlicht gerade ein anderer Build")
            try:
                self._remove_unready(conn)
                conn.execute(
                    "INSERT INTO qm_releases (build_id, schema_name) VALUES (%s, %s)", (build_id, schema)
                )
                records = [json.dumps(p.to_record(), ensure_ascii=False) for p in passages]
                postings = write_release(
                    conn,
                    schema,
                    staging,
                    passages,
                    records,
                    vectors,
                    release.model_dir,
                    release.files,
                    release.lexical,
                )
                use_hnsw = len(passages) > exact_limit if index_kind == "auto" else index_kind != "flat"
                plan = vector_index(conn, schema, vectors) if use_hnsw else IndexPlan("flat")
                checks = {
                    "passages": text_digest(records),
                    "vectors": vector_digest(vectors),
                    "postings": str(postings),
                }
                self._verify(conn, schema, len(passages), checks, vectors)
                manifest = Manifest.new(
                    build_id,
                    model=release.model,
                    model_dir=release.model_dir,
                    vectors=vectors,
                    passages=passages,
                    vector_index=plan,
                    files=checks,
                    facts=release.facts,
                )
                self._mark_ready(conn, build_id, manifest, switch=switch)
                if switch:
                    self._prune(conn, keep=keep, current=build_id)
            finally:
                conn.execute(f"SELECT pg_advisory_unlock({_KEY})", (_BUILD_LOCK,))
        log.info(
            "published release %s (%d passages) to %s in %.1fs",
            build_id,
            len(passages),
            self.where,
            time.perf_counter() - started,
        )
        return schema

    @staticmethod
    def _mark_ready(
        conn: psycopg.Connection[Any], build_id: str, manifest: Manifest, *, switch: bool
    ) -> None:
        """In one transaction: the release is ready, and (with ``switch``) the one served."""
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

    def _verify(
        self,
        conn: psycopg.Connection[Any],
        schema: str,
        count: int,
        checks: dict[str, str],
        vectors: np.ndarray,
    ) -> None:
        verify_release(self.where, conn, schema, count, checks, vectors)

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

    def _discard_at_exit(self, build_id: str) -> None:
        """``discard`` when the process ends: a database gone by then leaves nothing to remove."""
        try:
            self.discard(build_id)
        except (psycopg.Error, ReleaseError, SearchUnavailable) as exc:
            log.debug("trial release %s not removed: %s", build_id, exc)

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
