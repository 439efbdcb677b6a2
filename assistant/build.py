"""The build pipeline: source files → passages → vectors → a published release."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Settings
from .embed.cache import EmbeddingCache, cached_vectors, query_key, text_key
from .embed.choice import embedder_for_corpus
from .embed.models import Embedder
from .errors import BuildError, DocumentError, ModelUnavailable, ReleaseError, SearchUnavailable
from .index.lexical import LexicalIndex
from .index.manifest import BuildFacts
from .index.releases import releases_for
from .index.staging import MODEL_DIR, build_lock, new_staging_dir, write_sentence_vectors
from .index.store import NewRelease
from .ingest.chunking import chunk_document
from .ingest.readers import discover, ocr, read_document
from .progress import Progress, no_progress
from .records import Passage
from .retrieval.adapter import adapter_examples
from .retrieval.bank import bank_examples
from .retrieval.nomatch import Calibration, calibrate
from .text import split_sentences

__all__ = [
    "BuildReport",
    "Collection",
    "build_index",
    "build_sources",
    "collect_passages",
    "sentences_of",
]

log = logging.getLogger(__name__)

#: Releases of up to this many passages store their sentences' vectors (about 8 sentences a passage,
#: 768 bytes each with 384 dimensions: some 300 MB a release at the limit, plus their float32 copies in
#: the embedding cache; the build encodes every text twice over, as passage and as sentences).
SENTENCE_VECTOR_LIMIT = 50_000


@dataclass(frozen=True)
class BuildReport:
    build_id: str
    path: Path  # the release folder; with PostgreSQL, where its model and source files were staged
    where: str  # where it was published: the folder, or the database and schema
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


def collect_passages(
    sources: list[Path], warn: Callable[[str], None], progress: Progress = no_progress
) -> Collection:
    """Read and chunk every supported file; unreadable files are reported and skipped."""
    passages: list[Passage] = []
    files: dict[str, Path] = {}
    skipped: list[str] = []

    def left_out(reason: str) -> None:
        warn(f"übersprungen: {reason}")
        skipped.append(reason)

    try:
        found = list(discover(sources, left_out))
    except DocumentError as exc:
        raise BuildError(str(exc)) from exc
    for done, (file, root) in enumerate(found):
        progress("reading", done, len(found))
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
    progress("reading", len(found), len(found))
    return Collection(passages=passages, files=files, skipped=skipped)


def build_index(
    settings: Settings,
    *,
    warn: Callable[[str], None] = log.warning,
    say: Callable[[str], None] = log.info,
    progress: Progress = no_progress,
    full: bool = False,
) -> BuildReport:
    """Build and publish a new release; the served release changes only once the new one is verified.

    It reads the corpus, the further sources and the operators' upload folder (when there is one).
    Vectors of unchanged passages come from the embedding cache; ``full=True`` ignores the cache and,
    for the fallback model, trains it anew. ``say`` receives news such as a first offline conversion
    of the model; ``progress`` hears how far each phase has come (``progress.PHASES``).
    """
    started = time.perf_counter()
    sources = build_sources(settings)
    with ocr.options(settings.ocr_cache_dir):  # scanned pages' recognised copies kept for the source view
        collection = collect_passages(sources, warn, progress)
    if not collection.passages:
        raise BuildError("keine Passagen gefunden: alle Quellen leer oder unlesbar; nichts veröffentlicht")
    texts = [p.embedding_text for p in collection.passages]

    try:
        with build_lock(settings.index_dir):
            return _build(
                settings, collection, texts, started, progress=progress, full=full, warn=warn, say=say
            )
    except (ReleaseError, SearchUnavailable) as exc:  # locked, or not publishable: nothing published
        raise BuildError(str(exc)) from exc


def _build(
    settings: Settings,
    collection: Collection,
    texts: list[str],
    started: float,
    *,
    progress: Progress,
    full: bool,
    warn: Callable[[str], None],
    say: Callable[[str], None],
) -> BuildReport:
    passages, documents, skipped = collection.passages, len(collection.files), collection.skipped
    build_id, staging = new_staging_dir(settings.index_dir)
    try:
        store = releases_for(settings)
        previous = None if full else store.bundled_model()
        try:
            embedder, fallback = embedder_for_corpus(
                settings, texts, staging / MODEL_DIR, warn, reuse=previous, say=say
            )
        except ModelUnavailable as exc:
            raise BuildError(f"Modell nicht verfügbar: {exc}") from exc
        model_dir = MODEL_DIR if fallback else None
        with EmbeddingCache(settings.index_dir / "cache" / "embeddings.sqlite") as cache:
            vectors, reused = cached_vectors(
                embedder, texts, cache, use_cache=not full, progress=lambda d, t: progress("embedding", d, t)
            )
            sentences = _store_sentence_vectors(
                embedder, passages, cache, staging, full=full, progress=progress
            )
            examples: list[str] = []  # the scope model's example questions, cached like the passages
            calibration = _calibrate(
                embedder, vectors, passages, cache, examples, full=full, adapt=settings.query_adapter
            )
            progress("publishing", 0, 1)
            lexical = LexicalIndex.build(texts)
            facts = BuildFacts(
                documents=documents,
                fallback_model=fallback,
                model_fingerprint=embedder.fingerprint,
                no_match=calibration.to_dict(),
                reused_vectors=reused,
                build_seconds=round(time.perf_counter() - started, 3),
                sources=source_facts(passages, collection.files, settings.upload_dir),
            )
            release = NewRelease(
                passages=passages,
                vectors=vectors,
                model=embedder.name,
                model_dir=model_dir,
                files=collection.files,
                lexical=lexical,
                facts=facts,
            )
            published = store.publish(
                build_id, staging, release, keep=settings.keep_releases, index_kind=settings.index_kind
            )
            kept = [*(text_key(t) for t in [*texts, *sentences]), *(query_key(q) for q in examples)]
            cache.keep_only(embedder.fingerprint, kept)
            progress("publishing", 1, 1)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(
        build_id=build_id,
        path=published.path,
        where=published.where,
        passages=len(passages),
        documents=documents,
        model=embedder.name,
        fallback=fallback,
        skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
        embedded=len(passages) - reused,
    )


def _store_sentence_vectors(
    embedder: Embedder,
    passages: list[Passage],
    cache: EmbeddingCache,
    staging: Path,
    *,
    full: bool,
    progress: Progress,
) -> list[str]:
    """Encode every passage's sentences into the release; returns the sentences (for the cache).

    The short answer ranks each top passage's sentences by meaning; encoded here, not per question
    (up to a size: beyond it they take more disk than the index, and are encoded when asked for)."""
    if len(passages) > SENTENCE_VECTOR_LIMIT:
        return []
    sentences, offsets = sentences_of(passages)
    vectors, _ = cached_vectors(
        embedder, sentences, cache, use_cache=not full, progress=lambda d, t: progress("sentences", d, t)
    )
    write_sentence_vectors(staging, vectors, offsets)
    return sentences


def _calibrate(
    embedder: Embedder,
    vectors: np.ndarray,
    passages: list[Passage],
    cache: EmbeddingCache,
    examples: list[str],
    *,
    full: bool,
    adapt: bool = True,
) -> Calibration:
    """The no-match judgement's calibration and, with ``adapt``, the query adapter; the example
    questions they encode go through the cache like the passages and are added to ``examples``."""

    def encode_examples(questions: list[str]) -> np.ndarray:
        examples.extend(questions)
        return cached_vectors(embedder, questions, cache, use_cache=not full, queries=True)[0]

    return calibrate(
        embedder,
        vectors,
        headings=[p.citation.section for p in passages],
        encode_examples=encode_examples,
        labelled=adapter_examples(passages) if adapt else None,
        asked=bank_examples(passages),
    )


def build_sources(settings: Settings) -> list[Path]:
    """What a build reads: the corpus, the further sources, and the upload folder when it exists."""
    sources = [settings.corpus_dir, *settings.extra_sources]
    if settings.upload_dir.is_dir():
        sources.append(settings.upload_dir)
    return sources


def source_facts(
    passages: list[Passage], files: dict[str, Path], upload_dir: Path | None = None
) -> list[dict[str, object]]:
    """Per source file: its format, title, pages with text, passages, pages read by text recognition,
    and whether it came from the operators' upload folder."""
    uploads = upload_dir.resolve() if upload_dir is not None else None
    facts: dict[str, dict[str, object]] = {}
    pages: dict[str, set[int]] = {}
    ocr: dict[str, set[int]] = {}
    for passage in passages:
        citation = passage.citation
        entry = facts.setdefault(
            citation.source,
            {
                "source": citation.source,
                "format": files[citation.source].suffix.lower().lstrip(".")
                if citation.source in files
                else "",
                "title": citation.document,
                "passages": 0,
                "uploaded": bool(
                    uploads and citation.source in files and files[citation.source].is_relative_to(uploads)
                ),
            },
        )
        entry["passages"] = int(entry["passages"]) + 1  # type: ignore[call-overload]
        if citation.page is not None:
            pages.setdefault(citation.source, set()).add(citation.page)
            if getattr(citation, "ocr", False):
                ocr.setdefault(citation.source, set()).add(citation.page)
    for source, entry in facts.items():
        entry["pages"] = len(pages[source]) if source in pages else None  # pages with text
        entry["ocr_pages"] = len(ocr.get(source, ()))
    return sorted(facts.values(), key=lambda e: str(e["source"]))


def sentences_of(passages: list[Passage]) -> tuple[list[str], np.ndarray]:
    """Every passage's sentences in order, as the short answer's model reads them
    (``Passage.sentence_in_context``: after the section heading), and where each passage's run of them
    starts and ends."""
    sentences: list[str] = []
    offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    for i, passage in enumerate(passages):
        sentences.extend(passage.sentence_in_context(s) for s in split_sentences(passage.text))
        offsets[i + 1] = len(sentences)
    return sentences, offsets
