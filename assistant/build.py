"""The build pipeline: source files → passages → vectors → a published release."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .chunking import chunk_document
from .config import DEFAULT_MODEL, Settings
from .documents import DocumentError, discover, read_document
from .embedding import Embedder, ModelUnavailable, load_embedder
from .records import Passage
from .search import calibrate_threshold
from .static_model import build_static_model
from .store import new_staging_dir, publish_release

__all__ = ["BuildError", "BuildReport", "build_index", "collect_passages"]

log = logging.getLogger(__name__)

STATIC_MODEL_NAME = "qm-static (aus dem Korpus gebaut)"


class BuildError(Exception):
    """The build published nothing; the message says why."""


@dataclass(frozen=True)
class BuildReport:
    build_id: str
    path: Path
    passages: int
    documents: int
    model: str
    fallback: bool
    skipped: tuple[str, ...]
    seconds: float


def collect_passages(
    sources: list[Path], warn: Callable[[str], None]
) -> tuple[list[Passage], int, list[str]]:
    """Read and chunk every supported file; unreadable files are reported and skipped."""
    passages: list[Passage] = []
    skipped: list[str] = []
    documents = 0
    try:
        found = list(discover(sources))
    except DocumentError as exc:
        raise BuildError(str(exc)) from exc
    for file, root in found:
        try:
            document = read_document(file, root)
        except DocumentError as exc:
            warn(f"übersprungen: {exc}")
            skipped.append(str(exc))
            continue
        documents += 1
        passages.extend(chunk_document(document))
    return passages, documents, skipped


def build_index(
    settings: Settings, *, warn: Callable[[str], None] = log.warning, progress: bool = False
) -> BuildReport:
    """Build and publish a new release; the served release changes only once the new one is verified."""
    started = time.perf_counter()
    sources = [settings.corpus_dir, *settings.extra_sources]
    passages, documents, skipped = collect_passages(sources, warn)
    if not passages:
        raise BuildError("keine Passagen gefunden: alle Quellen leer oder unlesbar; nichts veröffentlicht")

    build_id, staging = new_staging_dir(settings.index_dir)
    try:
        embedder, model_dir, fallback = _embedder_for_build(settings, passages, staging, warn)
        vectors = embedder.encode_documents([p.embedding_text for p in passages], progress=progress)
        threshold = calibrate_threshold(embedder, vectors)
        path = publish_release(
            settings.index_dir,
            staging,
            build_id,
            passages=passages,
            vectors=vectors,
            model=embedder.name,
            model_dir=model_dir,
            extra={
                "documents": documents,
                "fallback_model": fallback,
                "no_match_threshold": threshold,
                "build_seconds": round(time.perf_counter() - started, 3),
            },
            keep=settings.keep_releases,
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(
        build_id=build_id,
        path=path,
        passages=len(passages),
        documents=documents,
        model=embedder.name,
        fallback=fallback,
        skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
    )


def _embedder_for_build(
    settings: Settings, passages: list[Passage], staging: Path, warn: Callable[[str], None]
) -> tuple[Embedder, str | None, bool]:
    """The configured model, or (only when none was configured) the static model built from the corpus."""
    try:
        return load_embedder(settings.model_name, probe_timeout=settings.network_probe_timeout), None, False
    except ModelUnavailable as exc:
        if settings.model_is_explicit:
            raise BuildError(f"Modell nicht verfügbar: {exc}") from exc
        warn(
            f"Standardmodell {DEFAULT_MODEL} nicht verfügbar ({exc}); "
            "verwende ein aus dem Korpus gebautes statisches Modell"
        )
    model_dir = build_static_model([p.embedding_text for p in passages], staging / "model")
    embedder = load_embedder(str(model_dir), display_name=STATIC_MODEL_NAME)
    return embedder, "model", True
