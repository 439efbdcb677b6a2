"""Releases of the index on disk: build into a temporary folder, verify, then switch atomically.

Layout of ``index_dir``::

    CURRENT                 the build id of the served release (replaced atomically)
    releases/<build_id>/    index.faiss, passages.jsonl (+ passages.offsets.npy), manifest.json,
                            sources.json, lexical/, model/ (static fallback only)
    releases/.tmp-<id>/     a build in progress; never served, removed by the next build

A build that dies at any point leaves ``CURRENT`` and the release it names untouched.

Loading is cheap at any size: the FAISS index and the BM25 arrays are memory-mapped, and passages are
decoded from the memory-mapped ``passages.jsonl`` only when a hit needs them (``PassageFile``), so
start-up does not grow with the corpus beyond reading the files once for their checksums.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import numpy as np

from ...errors import ReleaseError
from ...records import Passage
from ..lexical import LexicalIndex
from ..manifest import Manifest, ReleaseNames
from ..staging import MODEL_DIR, RELEASES
from ..store import NewRelease, Published
from ..vectors import DEFAULT_EXACT_LIMIT, IndexKind, SentenceVectors, build_vector_index, read_vector_index
from .engine import FolderEngine

__all__ = [
    "current_bundled_model",
    "FolderReleases",
    "PassageFile",
    "Release",
    "current_build_id",
    "load_release",
    "open_release",
    "publish_release",
]

log = logging.getLogger(__name__)

_CURRENT = "CURRENT"


class PassageFile(Sequence[Passage]):
    """The passages of a release, read from the memory-mapped ``passages.jsonl`` one at a time.

    ``offsets`` holds the byte offset of every line and the file's length (n + 1 values). Decoding a
    hit costs microseconds; keeping a million passages as objects would cost gigabytes and seconds.
    """

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self._offsets = offsets
        if len(offsets) < 1 or int(offsets[-1]) != size:
            raise ValueError("line offsets do not match the passages file")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> Passage: ...
    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...
    def __getitem__(self, i: int | slice) -> Passage | list[Passage]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        i = int(i)
        if not -n <= i < n:
            raise IndexError(i)
        i %= n
        line = self._map[int(self._offsets[i]) : int(self._offsets[i + 1])]
        return Passage.from_record(json.loads(line))


def _line_offsets(lines: list[bytes]) -> np.ndarray:
    offsets = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum([len(line) for line in lines], out=offsets[1:])
    return offsets


def _scan_offsets(path: Path) -> np.ndarray:
    """Line offsets of a release written before offsets were stored (read in blocks, not all at once)."""
    ends: list[np.ndarray] = []
    position = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            ends.append(np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + position + 1)
            position += len(block)
    found = np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)
    if position and (not len(found) or found[-1] != position):
        found = np.append(found, position)  # a last line without its newline
    return np.concatenate([[0], found]).astype(np.int64)


@dataclass(frozen=True)
class Release(ReleaseNames):
    """A loaded, immutable release: the FAISS index, its passages (row i ↔ vector i) and the manifest."""

    path: Path
    manifest: Manifest
    passages: Sequence[Passage]  # a PassageFile: decoded on access
    index: Any  # faiss.Index
    sources: dict[str, Path]  # citation source → the file it was read from
    lexical: LexicalIndex | None = None
    sentences: SentenceVectors | None = None

    @cached_property
    def engine(self) -> FolderEngine:
        """What search reads: the FAISS index, the passages, the BM25 index, the sentence vectors."""
        return FolderEngine(self.index, self.passages, self.lexical, self.sentences)

    def passage_vectors(self) -> np.ndarray:
        return np.asarray(self.index.reconstruct_n(0, self.index.ntotal))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def publish_release(
    index_dir: Path,
    staging: Path,
    build_id: str,
    release: NewRelease,
    *,
    keep: int = 3,
    index_kind: IndexKind = "auto",
    exact_limit: int = DEFAULT_EXACT_LIMIT,
) -> Path:
    """Write, verify and publish a release from a staging folder; returns the release's path."""
    import faiss

    passages, vectors, files = release.passages, release.vectors, release.files
    started = time.perf_counter()
    index, plan = build_vector_index(vectors, kind=index_kind, exact_limit=exact_limit)
    faiss.write_index(index, str(staging / "index.faiss"))
    del index
    lines = [(json.dumps(p.to_record(), ensure_ascii=False) + "\n").encode("utf-8") for p in passages]
    _write_file(staging / "passages.jsonl", b"".join(lines))
    offsets = _line_offsets(lines)
    del lines
    with open(staging / "passages.offsets.npy", "wb") as handle:
        np.save(handle, offsets)
        handle.flush()
        os.fsync(handle.fileno())
    # The source files a citation may link to: the app serves these and nothing else.
    sources = {key: str(path) for key, path in sorted(files.items())}
    _write_file(staging / "sources.json", json.dumps(sources, ensure_ascii=False, indent=1).encode("utf-8"))
    release.lexical.save(staging / "lexical")
    manifest = Manifest.new(
        build_id,
        model=release.model,
        model_dir=release.model_dir,
        vectors=vectors,
        passages=passages,
        vector_index=plan,
        # Every file of the release is checksummed: index, passages, sources, BM25 index, bundled model.
        files={
            file.relative_to(staging).as_posix(): _sha256(file)
            for file in sorted(staging.rglob("*"))
            if file.is_file() and file.name != "manifest.json"
        },
        facts=release.facts,
    )
    _write_file(staging / "manifest.json", manifest.to_json())

    open_release(staging)  # refuse to publish anything that would not load
    final = staging.parent / build_id
    os.replace(staging, final)
    _fsync_dir(final.parent)
    _switch_current(index_dir, build_id)
    _prune(index_dir, keep=keep, current=build_id)
    log.info(
        "published release %s (%d passages) in %.1fs", build_id, len(passages), time.perf_counter() - started
    )
    return final


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _switch_current(index_dir: Path, build_id: str) -> None:
    # os.replace is atomic on POSIX: readers see the old or the new id, never a half-written file.
    tmp = index_dir / f".{_CURRENT}.{uuid.uuid4().hex}"
    _write_file(tmp, (build_id + "\n").encode())
    os.replace(tmp, index_dir / _CURRENT)
    _fsync_dir(index_dir)


def _prune(index_dir: Path, *, keep: int, current: str) -> None:
    releases = sorted(
        (p for p in (index_dir / RELEASES).iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
        reverse=True,
    )
    # The served release always stays and counts towards ``keep``; the newest others fill the rest.
    others = [p for p in releases if p.name != current]
    for old in others[max(keep - 1, 0) :]:
        shutil.rmtree(old, ignore_errors=True)


def current_build_id(index_dir: Path) -> str | None:
    try:
        value = (index_dir / _CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def current_bundled_model(index_dir: Path) -> Path | None:
    """The model folder the current release bundles, if it bundles one."""
    build_id = current_build_id(index_dir)
    if build_id is None:
        return None
    folder = index_dir / RELEASES / build_id / MODEL_DIR
    return folder if folder.is_dir() else None


def verify_release(path: Path) -> Manifest:
    """Check a release folder's manifest and checksums; returns the manifest or raises ReleaseError."""
    manifest = Manifest.read(path)
    for name, expected in manifest.files.items():
        file = path / name
        if not file.is_file() or _sha256(file) != expected:
            raise ReleaseError(
                f"Index-Stand {path.name}: {name} fehlt oder ist beschädigt (Prüfsumme stimmt nicht)"
            )
    return manifest


def load_release(index_dir: Path, build_id: str | None = None) -> Release:
    """Load the release named by ``CURRENT`` (or the published release ``build_id``)."""
    build_id = build_id or current_build_id(index_dir)
    if build_id is None:
        raise ReleaseError(f"kein Index in {index_dir}: zuerst 'assistant build' ausführen")
    path = index_dir / RELEASES / build_id
    if not path.is_dir():
        raise ReleaseError(f"der in {index_dir / _CURRENT} genannte Index-Stand {build_id} existiert nicht")
    return open_release(path)


def open_release(path: Path) -> Release:
    """Load a release folder after checking its checksums and that index and passages agree."""
    manifest = verify_release(path)
    try:
        index = read_vector_index(path / "index.faiss", manifest.vector_index)
        stored_offsets = path / "passages.offsets.npy"
        offsets = (
            np.load(stored_offsets, mmap_mode="r")
            if stored_offsets.is_file()
            else _scan_offsets(path / "passages.jsonl")
        )
        passages = PassageFile(path / "passages.jsonl", offsets)
        if len(passages):
            _ = (passages[0], passages[-1])  # the first and last lines must decode
        recorded = json.loads((path / "sources.json").read_text("utf-8"))
        sources = {key: Path(value) for key, value in recorded.items()}
        lexical = LexicalIndex.load(path / "lexical") if (path / "lexical").is_dir() else None
        sentences = None
        if (path / "sentences.npy").is_file():
            sentences = SentenceVectors(
                np.load(path / "sentences.npy", mmap_mode="r"), np.load(path / "sentences.offsets.npy")
            )
    except (RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ReleaseError(f"Index-Stand {path.name}: nicht lesbar ({exc})") from exc
    if index.ntotal != len(passages) or index.d != manifest.dimension:
        raise ReleaseError(f"Index-Stand {path.name}: Vektorindex und Passagen passen nicht zusammen")
    if sentences is not None and (
        len(sentences.offsets) != len(passages) + 1
        or int(sentences.offsets[-1]) != len(sentences.vectors)
        or sentences.vectors.shape[1] != index.d
    ):
        raise ReleaseError(f"Index-Stand {path.name}: Satzvektoren und Passagen passen nicht zusammen")
    return Release(
        path=path,
        manifest=manifest,
        passages=passages,
        index=index,
        sources=sources,
        lexical=lexical,
        sentences=sentences,
    )


class FolderReleases:
    """Release folders under ``index_dir``: the ``ReleaseStore`` of the default backend."""

    def __init__(self, index_dir: Path, *, exact_limit: int = DEFAULT_EXACT_LIMIT) -> None:
        self.index_dir = index_dir
        self.exact_limit = exact_limit

    @property
    def where(self) -> str:
        return str(self.index_dir)

    def current_build_id(self) -> str | None:
        return current_build_id(self.index_dir)

    def open(self, build_id: str | None = None) -> Release:
        return load_release(self.index_dir, build_id)

    def bundled_model(self) -> Path | None:
        return current_bundled_model(self.index_dir)

    def publish(
        self,
        build_id: str,
        staging: Path,
        release: NewRelease,
        *,
        keep: int = 3,
        index_kind: IndexKind = "auto",
    ) -> Published:
        path = publish_release(
            self.index_dir,
            staging,
            build_id,
            release,
            keep=keep,
            index_kind=index_kind,
            exact_limit=self.exact_limit,
        )
        return Published(build_id=build_id, path=path, where=str(path))

    def trial_engine(
        self, workdir: Path, release: NewRelease, *, index_kind: IndexKind = "flat"
    ) -> FolderEngine:
        """In memory: nothing is written (``workdir`` is not needed)."""
        index, _ = build_vector_index(release.vectors, kind=index_kind, exact_limit=self.exact_limit)
        return FolderEngine(index, tuple(release.passages), release.lexical)
