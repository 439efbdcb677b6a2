"""Which release store this configuration uses: folders under ``index_dir`` or a PostgreSQL database
(``search_backend``). The one place that asks which backend it is; everything else talks to
``index.store.ReleaseStore``. A PostgreSQL store is made once per process and URL (its connection
pool is shared by all requests)."""

from __future__ import annotations

import threading

from ..config import Settings
from ..errors import ReleaseError
from .store import ReleaseStore

__all__ = ["releases_for"]

_stores: dict[str, ReleaseStore] = {}
_lock = threading.Lock()


def releases_for(settings: Settings) -> ReleaseStore:
    """The release store of this configuration (``search_backend``)."""
    if not settings.uses_postgres_search:
        from .folder.releases import FolderReleases

        return FolderReleases(settings.index_dir, exact_limit=settings.exact_search_limit)
    if settings.search_database_url is None:
        raise ReleaseError("ASSISTANT_SEARCH_BACKEND=postgres braucht ASSISTANT_SEARCH_DATABASE_URL")
    try:
        from .postgres.store import PostgresReleases  # psycopg and pgvector only when configured
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
