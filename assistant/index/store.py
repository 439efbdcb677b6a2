"""The interface of a release store, whichever backend holds the releases.

A ``ReleaseStore`` publishes a build, says which release is current, opens one as a
``ServedRelease`` (manifest, source files, search engine) and gives an engine that is never served
for a one-off evaluation. Building, serving, hot reload, evaluation and the command line talk to this
interface only; ``index.releases.releases_for`` picks the backend (``index.folder``: folders under
``index_dir``, the default; ``index.postgres``: a PostgreSQL database with pgvector).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..records import Passage
from .engine import Engine
from .manifest import BuildFacts, Manifest
from .vectors import IndexKind

if TYPE_CHECKING:
    import numpy as np

    from .lexical import LexicalIndex

__all__ = ["NewRelease", "Published", "ReleaseStore", "ServedRelease"]


class ServedRelease(Protocol):
    """What serving needs of a loaded release, folder or database."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def path(self) -> Path:
        """The release folder, or the local copy of a database release's files."""
        ...

    @property
    def sources(self) -> Mapping[str, Path]:
        """Citation source → the file to show."""
        ...

    @property
    def build_id(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @property
    def model_display_name(self) -> str: ...

    @property
    def model_path(self) -> str: ...

    @property
    def engine(self) -> Engine: ...

    def passage_vectors(self) -> np.ndarray | None:
        """Every passage's vector, where the release keeps them at hand (a folder's FAISS index), for
        measuring what an older release's manifest lacks; None where reading them all would be a
        query of its own (PostgreSQL)."""
        ...


@dataclass(frozen=True)
class NewRelease:
    """What a build hands a store to publish: passages with their vectors (row i ↔ vector i), the
    model that made them (``model_dir``: the folder of a bundled model inside the staging folder),
    the source files by citation source, the BM25 index and what the build knows about itself."""

    passages: list[Passage]
    vectors: np.ndarray
    model: str
    lexical: LexicalIndex
    model_dir: str | None = None
    files: dict[str, Path] = field(default_factory=dict)
    facts: BuildFacts = field(default_factory=BuildFacts)

    def __post_init__(self) -> None:
        if len(self.passages) != len(self.vectors):
            raise ValueError("one vector per passage expected")


@dataclass(frozen=True)
class Published:
    """Where ``ReleaseStore.publish`` put a release."""

    build_id: str
    path: Path  # the release folder; with PostgreSQL, the staging folder its files were copied from
    where: str  # for people: the folder, or the database and schema


class ReleaseStore(Protocol):
    @property
    def where(self) -> str:
        """The store named for messages (a folder, or a database without its password)."""
        ...

    def current_build_id(self) -> str | None: ...

    def open(self, build_id: str | None = None) -> ServedRelease: ...

    def bundled_model(self) -> Path | None:
        """The folder of the model the current release bundles (the corpus-built fallback), for the
        next build to reuse instead of training it anew; None when there is none at hand."""
        ...

    def publish(
        self,
        build_id: str,
        staging: Path,
        release: NewRelease,
        *,
        keep: int = 3,
        index_kind: IndexKind = "auto",
    ) -> Published:
        """Write, verify and switch to a new release built in ``staging`` (a folder from
        ``index.staging.new_staging_dir``, which holds the bundled model and the sentence
        vectors); the served release changes only once the new one has passed its checks, and all but
        the newest ``keep`` releases are removed. Raises ``ReleaseError`` (nothing switched)."""
        ...

    def trial_engine(self, workdir: Path, release: NewRelease, *, index_kind: IndexKind = "flat") -> Engine:
        """An engine over these passages that is never served, for an evaluation run: the same search
        code as a published release of this backend, removed again when the process ends."""
        ...
