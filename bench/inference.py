"""CPU inference backends side by side: torch, ONNX Runtime fp32, ONNX Runtime int8, OpenVINO.

Run: .venv/bin/python bench/inference.py [--model PATH] [--queries 200] [--repeats 1]
                                         [--backends torch onnx onnx-int8 openvino]

Default model: the random-weight transformer of multilingual-e5-small's shape (bench/e5_shaped_model.py,
built into .cache/models/e5-shaped when missing). Every backend is loaded through the assistant's own
``load_embedder``, exporting into a fresh temporary folder first (so "first load" includes the export
and "load" is the cached case). Measures, per backend:

- query latency: ``encode_queries`` of one practitioner question at a time (eval/praxisfragen.jsonl,
  round-robin), p50 and p95 over --queries calls;
- document throughput: passages per second of ``encode_documents`` (batches of 32) over the shipped
  corpus's passages, --repeats passes;
- agreement with torch on those vectors: largest difference of one component, smallest cosine, and
  the mean overlap of the top 10 passages per question, both with the backend's own passage vectors
  and with torch's (queries of one backend against an index built with another).

The backends take turns (20 questions or one batch each), so that other work on the machine slows
them alike; absolute figures still move with it, so run it on a quiet machine. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]

from e5_shaped_model import build as build_e5_shaped  # noqa: E402

from assistant.build import collect_passages  # noqa: E402
from assistant.config import bundled_dir  # noqa: E402
from assistant.embed.models import Embedder, load_embedder  # noqa: E402
from assistant.embed.onnx import BACKENDS, int8_scheme  # noqa: E402
from assistant.evaluation import load_questions  # noqa: E402

ROUND = 20  # questions per backend and round
BATCH = 32  # passages per batch, as the build encodes them


@dataclass
class Result:
    backend: str
    embedder: Embedder
    first_load: float
    load: float
    latencies: list[float] = field(default_factory=list)
    seconds_on_passages: float = 0.0
    queries: list[np.ndarray] = field(default_factory=list)
    documents: list[np.ndarray] = field(default_factory=list)


def load(model: str, backend: str, export_dir: Path) -> Result:
    """Load twice: first into an empty export folder (the export included), then reusing it."""
    started = time.perf_counter()
    load_embedder(model, backend=backend, export_dir=export_dir)
    first_load = time.perf_counter() - started
    started = time.perf_counter()
    embedder = load_embedder(model, backend=backend, export_dir=export_dir)
    return Result(backend, embedder, first_load, time.perf_counter() - started)


def measure(
    results: list[Result], questions: list[str], passages: list[str], args: argparse.Namespace
) -> None:
    """Time the backends in short alternating rounds, so that other work on the machine slows them
    alike instead of whichever ran at that moment."""
    for r in results:
        for question in questions[:5]:  # warm-up: first calls allocate and pick kernels
            r.embedder.encode_queries([question])
    for start in range(0, args.queries, ROUND):
        for r in results:
            for i in range(start, min(start + ROUND, args.queries)):
                started = time.perf_counter()
                vector = r.embedder.encode_queries([questions[i % len(questions)]])
                r.latencies.append(time.perf_counter() - started)
                if i < len(questions):
                    r.queries.append(vector[0])
        results.append(results.pop(0))  # the next round starts with another backend
    for repeat in range(args.repeats):
        for start in range(0, len(passages), BATCH):
            batch = passages[start : start + BATCH]
            for r in results:
                started = time.perf_counter()
                vectors = r.embedder.encode_documents(batch, batch_size=BATCH)
                r.seconds_on_passages += time.perf_counter() - started
                if repeat == 0:
                    r.documents.append(vectors)
            results.append(results.pop(0))
    results.sort(key=lambda r: BACKENDS.index(r.backend))


def top10_overlap(
    queries: np.ndarray, documents: np.ndarray, ref_queries: np.ndarray, ref: np.ndarray
) -> float:
    ours = np.argsort(-(queries @ documents.T), axis=1)[:, :10]
    theirs = np.argsort(-(ref_queries @ ref.T), axis=1)[:, :10]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ours, theirs, strict=True)]))


def torch_noise(embedder: Embedder, passages: list[str], batched: np.ndarray) -> float:
    """How far torch's own vectors move when the same passages are encoded one by one."""
    alone = np.vstack([embedder.encode_documents([p]) for p in passages])
    return float(np.abs(alone - batched).max())


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("torch", "sentence-transformers", "onnxruntime", "openvino"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the e5-shaped random-weight model)")
    parser.add_argument("--queries", type=int, default=200, help="single-question calls timed per backend")
    parser.add_argument("--repeats", type=int, default=1, help="timed passes over the passages")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="(%(name)s: %(message)s)")

    model = args.model or str(build_e5_shaped(ROOT / ".cache" / "models" / "e5-shaped"))
    questions = load_questions(ROOT / "eval" / "praxisfragen.jsonl")
    passages = [p.embedding_text for p in collect_passages([bundled_dir("corpus")], lambda _: None).passages]
    backends = ["torch", *[b for b in args.backends if b != "torch"]]  # torch is the reference
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="qm-bench-onnx-") as export_dir:
        reference = load_embedder(model)  # imports and file caches warm before anything is timed
        results = []
        for backend in backends:
            print(f"loading {backend} ...", file=sys.stderr, flush=True)
            results.append(load(model, backend, Path(export_dir) / backend))
        print("measuring ...", file=sys.stderr, flush=True)
        measure(results, questions, passages, args)
    base = results[0]
    base_queries, base_documents = np.array(base.queries), np.vstack(base.documents)
    noise = torch_noise(reference, passages[:BATCH], base_documents[:BATCH])

    print(f"\nModel: {model} (random weights of e5-small's shape unless --model was given)")
    print(
        f"Machine: {platform.platform()}, {cpu_name()}, {os.cpu_count()} CPUs; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(f"Versions: {versions()}; int8 scheme {int8_scheme()}")
    print(
        f"{args.queries} single questions, {len(passages)} passages (batches of {BATCH}, "
        f"{args.repeats} pass(es)); agreement over {len(base.queries)} questions\n"
    )
    print(
        "| backend | first load s (export) | load s | query p50 ms | query p95 ms | passages/s "
        "| max abs diff | min cosine | top-10 overlap | top-10 vs torch index |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base50 = float(np.percentile(base.latencies, 50))
    base_rate = len(passages) * args.repeats / base.seconds_on_passages
    for r in results:
        p50, p95 = np.percentile(r.latencies, [50, 95])
        rate = len(passages) * args.repeats / r.seconds_on_passages
        queries, documents = np.array(r.queries), np.vstack(r.documents)
        vectors = np.vstack([queries, documents])
        ref = np.vstack([base_queries, base_documents])
        used = r.embedder.backend
        name = r.backend if used == r.backend else f"{r.backend} (fell back to {used})"
        print(
            f"| {name} | {r.first_load:.1f} | {r.load:.1f} | {p50 * 1000:.1f} ({base50 / p50:.1f}×) "
            f"| {p95 * 1000:.1f} | {rate:.1f} ({rate / base_rate:.1f}×) "
            f"| {np.abs(vectors - ref).max():.1e} | {np.min(np.sum(vectors * ref, axis=1)):.5f} "
            f"| {top10_overlap(queries, documents, base_queries, base_documents):.3f} "
            f"| {top10_overlap(queries, base_documents, base_queries, base_documents):.3f} |"
        )
    print(
        f"\nTorch's own noise: the first 32 passages encoded one by one differ from the batched vectors "
        f"by up to {noise:.1e}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
