"""Where a build stages what it makes, whichever store publishes it: a temporary folder under
``index_dir/releases/`` (the bundled model, the sentence vectors, the release's files), one build at a
time per index folder."""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..errors import BuildLocked

__all__ = ["MODEL_DIR", "RELEASES", "build_lock", "new_staging_dir", "write_sentence_vectors"]

#: The folder below ``index_dir`` that holds the release folders and the staging folders.
RELEASES = "releases"
#: The folder inside a release that holds the model it bundles (the corpus-built static fallback).
MODEL_DIR = "model"


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Held for a whole build: a second build of the same index fails at once instead of removing
    the first one's staging folder. The OS drops the lock when a build dies, even by SIGKILL."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildLocked(f"in {index_dir} läuft bereits ein anderer Build") from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def new_staging_dir(index_dir: Path) -> tuple[str, Path]:
    """A fresh temporary folder for a build; leftovers of dead builds are removed first."""
    releases = index_dir / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
    for leftover in releases.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    build_id = _new_build_id()
    staging = releases / f".tmp-{build_id}"
    staging.mkdir()
    return build_id, staging


def _new_build_id() -> str:
    # Microseconds keep ids in build order even for several builds within one second.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


def write_sentence_vectors(staging: Path, vectors: np.ndarray, offsets: np.ndarray) -> None:
    """Store sentence vectors (as float16: the short answer only ranks a passage's few sentences)."""
    for name, array in (("sentences.npy", vectors.astype(np.float16)), ("sentences.offsets.npy", offsets)):
        with open(staging / name, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array))
            handle.flush()
            os.fsync(handle.fileno())
