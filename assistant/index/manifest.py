"""A release's ``manifest.json``: what was built, from what, with which model, and every file's checksum.

One type, written by ``publish_release`` and read by ``open_release``, so a field is named once::

    manifest = Manifest.read(release_dir)        # raises ReleaseError when missing or damaged
    manifest.model_fingerprint, manifest.vector_index.kind

The JSON stays flat (version 3), so releases published before this type existed still load.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ReleaseError
from ..records import Passage
from .vectors import IndexPlan

__all__ = ["MANIFEST_VERSION", "BuildFacts", "Manifest", "ReleaseNames", "corpus_hash", "display_model_name"]

#: Version of the manifest's format; a release with another one is refused, not guessed at.
MANIFEST_VERSION = 3
_FILE = "manifest.json"


@dataclass(frozen=True, slots=True)
class BuildFacts:
    """What the build knows about a release beyond its files. Only ``no_match`` is read when the release
    is loaded (the calibration: no-match statistics, scope model, query adapter and question bank; a
    release without it is calibrated on loading); the rest is recorded for people and tools."""

    documents: int = 0
    fallback_model: bool = False
    model_fingerprint: str = ""  # the embedder's weights and backend; vectors are comparable only within one
    no_match: dict[str, Any] | None = None  # the calibration (retrieval.nomatch.Calibration.to_dict)
    reused_vectors: int = 0  # passages whose vectors came from the embedding cache
    build_seconds: float = 0.0
    # Per source file: {"source", "format", "title", "pages", "passages", "ocr_pages"} (the operator
    # area's list of documents); empty for releases built before it was recorded.
    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Manifest:
    build_id: str
    built_at: str  # ISO 8601, UTC
    model: str  # as the build loaded it: a hub id, the fallback's name, or a local path
    model_dir: str | None  # the model's folder inside the release, when it travels with it
    dimension: int
    passage_count: int
    vector_index: IndexPlan
    corpus_hash: str
    files: dict[str, str]  # every file of the release → its SHA-256
    facts: BuildFacts = field(default_factory=BuildFacts)

    def to_json(self) -> bytes:
        plan = self.vector_index
        record: dict[str, Any] = {
            "manifest_version": MANIFEST_VERSION,
            "build_id": self.build_id,
            "built_at": self.built_at,
            "model": self.model,
            "model_dir": self.model_dir,
            "dimension": self.dimension,
            "passage_count": self.passage_count,
            "vector_index": {
                "kind": plan.kind,
                "ef_search": plan.ef_search,
                "k_factor": plan.k_factor,
                "recall_at_10": plan.recall_at_10,
            },
            "corpus_hash": self.corpus_hash,
            "files": self.files,
            **asdict(self.facts),
        }
        return json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")

    def write(self, folder: Path) -> Path:
        path = folder / _FILE
        path.write_bytes(self.to_json())
        return path

    @classmethod
    def new(
        cls,
        build_id: str,
        *,
        model: str,
        model_dir: str | None,
        vectors: np.ndarray,
        passages: Sequence[Passage],
        vector_index: IndexPlan,
        files: dict[str, str],
        facts: BuildFacts,
    ) -> Manifest:
        """The manifest of a release being published now, from what the build made."""
        return cls(
            build_id=build_id,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model=model,
            model_dir=model_dir,
            dimension=int(vectors.shape[1]),
            passage_count=len(passages),
            vector_index=vector_index,
            corpus_hash=corpus_hash(passages),
            files=files,
            facts=facts,
        )

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of the release in ``folder``; ReleaseError (German) when it cannot be trusted."""
        name = folder.name
        try:
            record = json.loads((folder / _FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReleaseError(f"Index-Stand {name}: manifest.json fehlt oder ist nicht lesbar") from exc
        manifest = cls.parse(record, name)
        # Without its checksums a release could not be verified at all: a damaged manifest, not an empty one.
        if not {"index.faiss", "passages.jsonl"} <= manifest.files.keys():
            raise ReleaseError(
                f"Index-Stand {name}: manifest.json beschädigt (Prüfsummen der Indexdateien fehlen)"
            )
        return manifest

    @classmethod
    def parse(cls, record: object, name: str) -> Manifest:
        """A manifest from its JSON object (a file's or a database row's); ``name`` for messages."""
        if not isinstance(record, dict):
            raise ReleaseError(f"Index-Stand {name}: manifest.json beschädigt (kein JSON-Objekt)")
        if record.get("manifest_version") != MANIFEST_VERSION:
            raise ReleaseError(f"Index-Stand {name}: Version von manifest.json wird nicht unterstützt")
        files = record.get("files")
        if not isinstance(files, dict):
            raise ReleaseError(
                f"Index-Stand {name}: manifest.json beschädigt (Prüfsummen der Indexdateien fehlen)"
            )
        try:
            plan = record.get("vector_index") or {"kind": "flat"}
            facts = {f.name: record[f.name] for f in fields(BuildFacts) if record.get(f.name) is not None}
            return cls(
                build_id=str(record["build_id"]),
                built_at=str(record.get("built_at", "")),
                model=str(record["model"]),
                model_dir=str(record["model_dir"]) if record.get("model_dir") else None,
                dimension=int(record["dimension"]),
                passage_count=int(record["passage_count"]),
                vector_index=IndexPlan(
                    kind=str(plan["kind"]),
                    ef_search=plan.get("ef_search"),
                    recall_at_10=plan.get("recall_at_10"),
                    k_factor=plan.get("k_factor"),
                ),
                corpus_hash=str(record.get("corpus_hash", "")),
                files={str(k): str(v) for k, v in files.items()},
                facts=BuildFacts(**facts),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReleaseError(
                f"Index-Stand {name}: manifest.json beschädigt ({type(exc).__name__}: {exc})"
            ) from exc


def corpus_hash(passages: Sequence[Passage]) -> str:
    """Which passages a release holds, in order: SHA-256 over their ids."""
    digest = hashlib.sha256()
    for passage in passages:
        digest.update(passage.id.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class ReleaseNames:
    """What a loaded release (a folder, or one in PostgreSQL) says about itself through its manifest,
    and where its bundled model lies under ``path``."""

    manifest: Manifest
    path: Path

    @property
    def build_id(self) -> str:
        return self.manifest.build_id

    @property
    def model_name(self) -> str:
        """The model as recorded by the build: a hub id, the fallback's name, or a local path."""
        return self.manifest.model

    @cached_property
    def model_display_name(self) -> str:
        """The model as shown in responses (see ``display_model_name``): never a path on the server."""
        return display_model_name(self.model_name)

    @property
    def model_path(self) -> str:
        """What to load the model from: a folder inside the release, or the model's own name or path."""
        bundled = self.manifest.model_dir
        return str(self.path / bundled) if bundled else self.model_name


def display_model_name(name: str) -> str:
    """A model name fit to show to anyone: a local folder by its last component, anything else as is.

    ``/srv/models/e5-small`` → ``e5-small``; ``intfloat/multilingual-e5-small`` (a hub id: one slash,
    no leading one) and the fallback's name stay unchanged. A name that is a folder here counts as a
    path whatever its form, so a relative ``models/e5`` shows as ``e5`` too.
    """
    parts = [part for part in re.split(r"[\\/]", name) if part]
    if not parts:
        return name
    is_path = (
        name.startswith(("/", "\\", ".", "~"))
        or "\\" in name
        or re.match(r"[A-Za-z]:", name) is not None  # C:\models\e5
        or len(parts) > 2
        or Path(name).is_dir()
    )
    return parts[-1] if is_path else name
