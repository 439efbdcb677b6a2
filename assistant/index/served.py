"""Where the releases of this configuration live: folders under ``index_dir`` or a PostgreSQL database.

``releases_for(settings)`` gives one object with ``current_build_id()`` and ``open(build_id)`` for
either engine, so serving, hot reload and the command line do not ask which one it is. A PostgreSQL
store is made once per process and URL (its connection pool is shared by all requests).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from ..config import Settings
from ..errors import ReleaseError
from .engine import Engine
from .manifest import Manifest
from .releases import current_build_id, load_release

__all__ = ["FolderReleases", "ReleaseStore", "ServedRelease", "releases_for"]


class ServedRelease(Protocol):
    """What serving needs of a loaded release, folder or database."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def path(self) -> Path:
        """The release folder, or the local copy of a database release's files."""
        ...

    @property
    def sources(self) -> Mapping[str, Path]:
        """Citation source → the file to show."""
        ...

    @property
    def build_id(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @property
    def model_display_name(self) -> str: ...

    @property
    def model_path(self) -> str: ...

    @property
    def engine(self) -> Engine: ...


class ReleaseStore(Protocol):
    @property
    def where(self) -> str: ...

    def current_build_id(self) -> str | None: ...

    def open(self, build_id: str | None = None) -> ServedRelease: ...


class FolderReleases:
    """Release folders under ``index_dir`` (``index.releases``)."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    @property
    def where(self) -> str:
        return str(self.index_dir)

    def current_build_id(self) -> str | None:
        return current_build_id(self.index_dir)

    def open(self, build_id: str | None = None) -> ServedRelease:
        return load_release(self.index_dir, build_id)


_stores: dict[str, ReleaseStore] = {}
_lock = threading.Lock()


def releases_for(settings: Settings) -> ReleaseStore:
    if not settings.uses_postgres_search:
        return FolderReleases(settings.index_dir)
    if settings.search_database_url is None:
        raise ReleaseError("ASSISTANT_SEARCH_BACKEND=postgres braucht ASSISTANT_SEARCH_DATABASE_URL")
    try:
        from .postgres import PostgresReleases  # psycopg and pgvector only when configured
    except ImportError as exc:
        raise ReleaseError(
            "die Suche in PostgreSQL braucht psycopg und pgvector: pip install 'qm-assistent[postgres]'"
        ) from exc
    key = f"{settings.search_database_url.get_secret_value()}|{settings.index_dir.resolve()}"
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = PostgresReleases(
                settings.search_database_url,
                cache_dir=settings.index_dir / "cache" / "postgres",
                max_size=settings.threads + 1,
                timeout=settings.database_timeout,
            )
            _stores[key] = store
    return store
