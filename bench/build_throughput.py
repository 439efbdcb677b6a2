"""Passages per second of a full build against raw ``encode_document`` on the same texts, and where the
build's remaining time goes.

Run: .venv/bin/python bench/build_throughput.py [--model PATH] [--copies N] [--repeat R]

The shipped corpus is copied ``--copies`` times into a temporary folder, every heading and paragraph of
copy n marked with "Kopie n", so no embedded text repeats and nothing could come from a cache. Each run
builds a release with ``full=True`` (the embedding cache is ignored; the fallback model is trained anew)
and then encodes exactly the texts the build embeds with ``SentenceTransformer(path).encode_document``
(batch size 32, normalised), the model loaded beforehand and not timed. Without ``--model`` the build
uses the static fallback (ASSISTANT_OFFLINE_MODEL=false): its time includes training the static model
from the corpus, and "raw" is that freshly trained model. Imports and a short warm-up encode happen
before any timing, as a long build would amortise them. The real index/ is not touched; prints a
Markdown table (medians of --repeat runs).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

import assistant.build as build_module  # noqa: E402
import assistant.embed.cache as cache_module  # noqa: E402
import assistant.embed.choice as choice_module  # noqa: E402
import assistant.index.folder.releases as store_module  # noqa: E402
from assistant.build import build_index, collect_passages  # noqa: E402
from assistant.config import Settings, bundled_dir  # noqa: E402
from assistant.embed.cache import EmbeddingCache  # noqa: E402
from assistant.embed.models import Embedder  # noqa: E402
from assistant.index.lexical import LexicalIndex  # noqa: E402

_HEADING = re.compile(r"^(#{1,6} .*?)\s*$")

# Build phases, in the order they are printed; each is the time spent in the wrapped functions minus
# the time of wrapped functions they call (so the phases add up to the build's wall time).
PHASES = (
    "read + chunk",
    "train static model",
    "load model",
    "encode",
    "embedding cache (hash, SQLite)",
    "calibrate the no-match judgement",
    "BM25 index",
    "write release (FAISS, passages, BM25, fsync)",
    "checksums (write + verify)",
    "verify (reload release)",
)


def copy_corpus(source: Path, target: Path, copies: int) -> None:
    """``copies`` marked copies of every corpus file, side by side in ``target``."""
    target.mkdir(parents=True)
    for n in range(1, copies + 1):
        for file in sorted(source.glob("*.md")):
            lines = file.read_text(encoding="utf-8").splitlines()
            out: list[str] = []
            in_front_matter = bool(lines) and lines[0] == "---"
            for i, line in enumerate(lines):
                if in_front_matter:
                    if i > 0 and line == "---":
                        in_front_matter = False
                    elif line.startswith("title:"):
                        line = f"{line} (Kopie {n})"
                    out.append(line)
                elif not line.strip():
                    out.append(line)
                elif heading := _HEADING.match(line):
                    out.append(f"{heading.group(1)} (Kopie {n})")
                else:
                    out.append(f"{line} Kopie {n}.")
            (target / f"k{n:03d}-{file.name}").write_text("\n".join(out) + "\n", encoding="utf-8")


class PhaseTimer:
    """Wraps functions for the duration of a build and adds up each phase's own (exclusive) time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []  # time spent in nested wrapped calls, per open call

    def wrap(self, phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            self._stack.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                nested = self._stack.pop()
                self.seconds[phase] += elapsed - nested
                if self._stack:
                    self._stack[-1] += elapsed

        return timed

    @contextmanager
    def patched(self) -> Iterator[None]:
        targets: list[tuple[Any, str, str, bool]] = [
            (build_module, "collect_passages", "read + chunk", False),
            (choice_module, "build_static_model", "train static model", False),
            (choice_module, "load_embedder", "load model", False),
            (choice_module, "load_offline_embedder", "load model", False),
            (choice_module, "load_static_embedder", "load model", False),
            (Embedder, "encode_documents", "encode", False),
            (build_module, "text_key", "embedding cache (hash, SQLite)", False),
            (cache_module, "text_key", "embedding cache (hash, SQLite)", False),
            (EmbeddingCache, "__init__", "embedding cache (hash, SQLite)", False),
            (EmbeddingCache, "get", "embedding cache (hash, SQLite)", False),
            (EmbeddingCache, "put", "embedding cache (hash, SQLite)", False),
            (EmbeddingCache, "keep_only", "embedding cache (hash, SQLite)", False),
            (EmbeddingCache, "close", "embedding cache (hash, SQLite)", False),
            (build_module, "calibrate", "calibrate the no-match judgement", False),
            (LexicalIndex, "build", "BM25 index", True),
            (store_module, "publish_release", "write release (FAISS, passages, BM25, fsync)", False),
            (store_module, "_sha256", "checksums (write + verify)", False),
            (store_module, "open_release", "verify (reload release)", False),
        ]
        targets = [t for t in targets if t[1] in t[0].__dict__]  # older trees lack some of these
        saved = [(owner, name, owner.__dict__[name]) for owner, name, _, _ in targets]
        try:
            for owner, name, phase, is_classmethod in targets:
                original = getattr(owner, name)  # bound to the class for a classmethod
                wrapped = self.wrap(phase, original)
                setattr(owner, name, staticmethod(wrapped) if is_classmethod else wrapped)
            yield
        finally:
            for owner, name, original in saved:
                setattr(owner, name, original)


def raw_encode(model_path: str, texts: list[str]) -> float:
    """Seconds ``encode_document`` takes for ``texts`` (model loading not included)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
    model.encode_document(texts[:64], batch_size=32, normalize_embeddings=True)  # warm-up
    started = time.perf_counter()
    vectors = model.encode_document(texts, batch_size=32, normalize_embeddings=True)
    elapsed = time.perf_counter() - started
    assert np.asarray(vectors).shape[0] == len(texts)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model folder (default: none set, the static fallback)")
    parser.add_argument("--copies", type=int, default=20, help="copies of the shipped corpus (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are shown (default 3)")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer  # noqa: F401  (imported before any timing)

    warn: Callable[[str], None] = lambda message: None  # noqa: E731
    builds: list[float] = []
    raws: list[float] = []
    phases: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        copy_corpus(bundled_dir("corpus"), corpus, args.copies)
        texts = [p.embedding_text for p in collect_passages([corpus], warn).passages]
        distinct = len(set(texts))
        model_name = args.model or "static fallback (trained in the build)"
        if args.model:  # warm-up so the first timed run does not pay for first-use costs
            raw_encode(args.model, texts[:64])
        for run in range(args.repeat):
            # With a given model, every other run encodes raw first, so a slow spell of the machine
            # does not always hit the same side; the fallback's raw run needs the model the build made.
            raw_first = bool(args.model) and run % 2 == 1
            if raw_first:
                raws.append(raw_encode(args.model, texts))
            settings = Settings(
                corpus_dir=corpus,
                index_dir=Path(tmp) / f"index-{run}",
                model=args.model,
                offline_model=bool(args.model),  # no model named: the static fallback, trained anew
            )
            timer = PhaseTimer()
            with timer.patched():
                started = time.perf_counter()
                report = build_index(settings, warn=warn, full=True)
                builds.append(time.perf_counter() - started)
            assert report.passages == len(texts) and report.embedded == len(texts)
            other = builds[-1] - sum(timer.seconds.values())
            for phase in PHASES:
                phases[phase].append(timer.seconds.get(phase, 0.0))
            phases["other"].append(other)
            if not raw_first:
                raws.append(raw_encode(args.model or str(report.path / "model"), texts))
            print(f"run {run + 1}: build {builds[-1]:.2f} s, raw encode {raws[-1]:.2f} s", file=sys.stderr)

    n = len(texts)
    build_s, raw_s = statistics.median(builds), statistics.median(raws)
    encode_s = statistics.median(phases["encode"])
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"Python {platform.python_version()}"
    )
    print(
        f"Model: {model_name}; {args.copies} copies of the shipped corpus = {n} passages "
        f"({distinct} distinct texts); batch size 32; median of {args.repeat} runs\n"
    )
    print("| measurement | seconds | passages/s | share of raw |")
    print("| --- | --- | --- | --- |")
    print(f"| raw `encode_document` | {raw_s:.2f} | {n / raw_s:.1f} | 100% |")
    print(f"| full `assistant build` | {build_s:.2f} | {n / build_s:.1f} | {raw_s / build_s:.0%} |")
    print(f"| encode step inside the build | {encode_s:.2f} | {n / encode_s:.1f} | {raw_s / encode_s:.0%} |")
    print()
    print("| build phase | seconds | share of the build |")
    print("| --- | --- | --- |")
    for phase in (*PHASES, "other"):
        seconds = statistics.median(phases[phase])
        if phase in {"train static model"} and not any(phases[phase]):
            continue
        print(f"| {phase} | {seconds:.2f} | {seconds / build_s:.1%} |")


if __name__ == "__main__":
    main()
