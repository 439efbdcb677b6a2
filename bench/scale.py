"""Build, load and search at 10 k, 100 k and 1 M passages: time, disk, memory and Recall@10.

Run: .venv/bin/python bench/scale.py [--sizes 10000 100000 1000000] [--queries 500] [--clean]
     .venv/bin/python bench/scale.py --backend postgres --database-url postgresql://… [--sizes …]

For each size a deterministic synthetic corpus (bench/synthetic_corpus.py) is written under
.cache/bench/scale/<size>/ and built with the real `build_index` and the static fallback model (the
static model the build trains from the corpus; HF_HUB_OFFLINE=1, ASSISTANT_OFFLINE_MODEL=false), in a
child process whose peak memory
is read from the kernel. A second child process loads the release like `assistant serve` does
(`open_assistant`: checksums, memory-mapped FAISS and BM25, passages decoded on access) and times
`Searcher.rank` (dense + BM25 + fusion; the queries are encoded before the clock starts). Recall@10 is
the dense index's top 10 against exact search over the same vectors. Prints a Markdown table.

With ``--backend postgres`` each size is built into the PostgreSQL engine at ``--database-url`` (or
ASSISTANT_SEARCH_DATABASE_URL; pgvector installed) instead; "on disk" is then the release schema's
size in the database (tables and indexes), and Recall@10 compares pgvector's answer (HNSW above
5,000 passages, ef_search chosen by the build) with exact search over the vectors read back.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic_corpus import queries, write_corpus  # noqa: E402


def _memory() -> dict[str, float]:
    """This process's resident memory in MiB: total, private (anonymous) and file-backed (shared)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def _settings(folder: Path):  # type: ignore[no-untyped-def]
    from assistant.config import Settings

    url = os.environ.get("BENCH_SEARCH_DATABASE_URL")
    return Settings(
        corpus_dir=folder / "corpus",
        index_dir=folder / "index",
        database=folder / "assistant.sqlite3",
        network_probe_timeout=0.5,
        offline_model=False,
        search_backend="postgres" if url else "faiss",
        search_database_url=url,
    )


def _schema_size(schema: str) -> dict[str, float]:
    """A release schema's size in the database, in MiB: all, passages (with vectors and the HNSW
    index), BM25 postings (with their index)."""
    import psycopg

    sizes = {"total": 0.0, "index.faiss": 0.0, "passages": 0.0, "lexical": 0.0}
    with psycopg.connect(os.environ["BENCH_SEARCH_DATABASE_URL"]) as db:
        for table, size in db.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ):
            mib = size / 2**20
            sizes["total"] += mib
            if table == "passages":
                sizes["passages"] += mib
            elif table in ("postings", "terms"):
                sizes["lexical"] += mib
    return sizes


def child_build(folder: Path) -> None:
    from assistant.build import build_index

    started = time.perf_counter()
    report = build_index(_settings(folder), warn=lambda _: None, full=True)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {"seconds": seconds, "passages": report.passages, "path": str(report.path), "where": report.where}
        )
    )


def child_search(folder: Path, count: int) -> None:
    import bm25s  # noqa: F401 (imports are start-up cost, measured by bench/startup.py, not load)
    import faiss
    import sentence_transformers  # noqa: F401

    from assistant.service import open_assistant

    texts = queries(int(folder.name), count)
    before = _memory()
    started = time.perf_counter()
    assistant = open_assistant(_settings(folder))
    load = time.perf_counter() - started
    searcher = assistant.searcher
    engine = assistant.release.engine
    vectors = searcher.embedder.encode_queries(texts)  # query encoding is not part of the timing
    for i in range(min(20, count)):  # warm-up
        searcher.rank(texts[i], vectors[i : i + 1], 5)
    total, dense, lexical = [], [], []
    for i, text in enumerate(texts):
        vector = vectors[i : i + 1]
        t0 = time.perf_counter()
        searcher.rank(text, vector, 5)
        t1 = time.perf_counter()
        engine.dense(vector[0], searcher.candidates)
        t2 = time.perf_counter()
        if engine.has_lexical:
            engine.lexical(searcher.lexical_weights(text), searcher.candidates, np.zeros(0, dtype=np.int64))
        t3 = time.perf_counter()
        total.append(t1 - t0)
        dense.append(t2 - t1)
        lexical.append(t3 - t2)
    after = _memory()
    # Recall@10 of the served index against exact search over the same (stored) vectors.
    if hasattr(engine, "index"):
        index = engine.index
        _, found = index.search(vectors, 10)
        stored = index.reconstruct_n(0, index.ntotal)
    else:  # PostgreSQL: pgvector's answers, and the vectors read back for the exact search
        found = np.stack([np.pad(engine.dense(v, 10)[0], (0, 10))[:10] for v in vectors])
        stored = _stored_vectors(assistant.release)
    _, exact = faiss.knn(vectors, stored, 10, metric=faiss.METRIC_INNER_PRODUCT)
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact, strict=True))

    def ms(values: list[float], q: float) -> float:
        return float(np.percentile(np.array(values) * 1000, q))

    print(
        json.dumps(
            {
                "load_s": load,
                "rss_before": before["VmRSS"],
                "rss": after["VmRSS"],
                "anon": after["RssAnon"],
                "file": after["RssFile"],
                "p50": ms(total, 50),
                "p95": ms(total, 95),
                "p99": ms(total, 99),
                "dense_p95": ms(dense, 95),
                "lexical_p95": ms(lexical, 95),
                "recall": hits / exact.size,
                "plan": dataclasses.asdict(assistant.release.manifest.vector_index),
            }
        )
    )


def _run_child(*args: str) -> tuple[dict, float]:
    """Run this script as a child; returns its JSON result and its peak resident memory in MiB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    process = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if process.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{process.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far, so it is exact for a growing series.
    return json.loads(process.stdout.strip().splitlines()[-1]), max(peak, before) / 1024


def _stored_vectors(release) -> np.ndarray:  # type: ignore[no-untyped-def]
    import psycopg
    from pgvector.psycopg import register_vector

    rows = []
    with psycopg.connect(os.environ["BENCH_SEARCH_DATABASE_URL"]) as db:
        register_vector(db)
        with db.cursor(name="vectors") as cursor:
            cursor.execute(f"SELECT embedding FROM {release.schema}.passages ORDER BY row")
            for (vector,) in cursor:
                rows.append(vector.to_numpy() if hasattr(vector, "to_numpy") else vector)
    return np.asarray(np.stack(rows), dtype=np.float32)


def _disk(path: Path) -> dict[str, float]:
    sizes = {"total": 0.0, "index.faiss": 0.0, "passages": 0.0, "lexical": 0.0}
    for file in path.rglob("*"):
        if file.is_file():
            mib = file.stat().st_size / 2**20
            sizes["total"] += mib
            top = file.relative_to(path).parts[0]
            if top.startswith("passages"):
                sizes["passages"] += mib
            elif top in sizes:
                sizes[top] += mib
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--clean", action="store_true", help="remove each size's folder after measuring")
    parser.add_argument("--backend", choices=["faiss", "postgres"], default="faiss")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("ASSISTANT_SEARCH_DATABASE_URL"),
        help="for --backend postgres",
    )
    parser.add_argument("--child", choices=["build", "search"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend == "postgres":
        if not args.database_url:
            raise SystemExit("--backend postgres needs --database-url (or ASSISTANT_SEARCH_DATABASE_URL)")
        os.environ["BENCH_SEARCH_DATABASE_URL"] = args.database_url  # read by the child processes
    if args.child == "build":
        return child_build(args.folder)
    if args.child == "search":
        return child_search(args.folder, args.queries)

    rows = []
    for size in sorted(args.sizes):
        folder = ROOT / ".cache" / "bench" / "scale" / str(size)
        if folder.exists():
            shutil.rmtree(folder)
        write_corpus(folder / "corpus", size)
        print(f"[{size}] corpus written; building …", file=sys.stderr, flush=True)
        built, build_peak = _run_child("--child", "build", "--folder", str(folder))
        postgres = args.backend == "postgres"
        disk = (
            _schema_size(built["where"].rsplit("Schema ", 1)[1]) if postgres else _disk(Path(built["path"]))
        )
        print(f"[{size}] built in {built['seconds']:.0f} s; searching …", file=sys.stderr, flush=True)
        searched, _ = _run_child("--child", "search", "--folder", str(folder), "--queries", str(args.queries))
        rows.append((size, built, build_peak, disk, searched))
        print(f"[{size}] {json.dumps(searched)}", file=sys.stderr, flush=True)
        if args.clean:
            shutil.rmtree(folder)

    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"offline default model (static, built from each corpus); {args.queries} queries per size; "
        f"engine: {args.backend}.\n"
    )
    print(
        "| passages | build | build peak RSS | release on disk (index / passages / BM25) | load | "
        "RSS after load+search (private / shared file) | search p50 / p95 / p99 | dense p95 | BM25 p95 | "
        "index | Recall@10 |"
    )
    print("|" + " --- |" * 11)
    for _size, built, peak, disk, s in rows:
        plan = s["plan"] or {}
        kind = plan.get("kind", "flat") + (f" ({plan['ef_search']})" if plan.get("ef_search") else "")
        print(
            f"| {built['passages']:,} | {built['seconds']:.0f} s | {peak / 1024:.1f} GiB | "
            f"{disk['total'] / 1024:.2f} GiB ({disk['index.faiss']:.0f} / {disk['passages']:.0f} / "
            f"{disk['lexical']:.0f} MiB) | {s['load_s']:.1f} s | {s['rss'] / 1024:.2f} GiB "
            f"({s['anon'] / 1024:.2f} / {s['file'] / 1024:.2f}) | {s['p50']:.1f} / {s['p95']:.1f} / "
            f"{s['p99']:.1f} ms | {s['dense_p95']:.1f} ms | {s['lexical_p95']:.1f} ms | {kind} | "
            f"{s['recall']:.3f} |"
        )


if __name__ == "__main__":
    main()
