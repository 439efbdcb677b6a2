"""Time from starting `assistant serve` to its first answer, with a built release and the offline model.

Run: .venv/bin/python bench/startup.py [--runs 5] [--question "Was ist ein Verfügungsfonds?"]

Builds a release of the shipped corpus once with `assistant build` into a temporary folder (offline and
with ASSISTANT_OFFLINE_MODEL=false, so the build trains the static fallback model and bundles it; the
offline default, multilingual-e5-small, loads like any transformer, see bench/latency.py), then starts
`assistant serve` --runs times as its own process on a free loopback port, tries to connect every 20 ms,
and once the server accepts connections posts the question to /api/ask until the first answer (HTTP 200)
comes back. The server runs without HF_HUB_OFFLINE, so a network probe for a model would show; its
conversations go to a temporary SQLite file. A last run does the same steps inside one process under
`python -X importtime` for the breakdown: import cost of the heavy packages, loading the release, the
model, the first answer, and how often the network probe ran. Prints Markdown tables; nothing in the
repository is written.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from latency import free_port  # bench/latency.py

QUESTION = "Was ist ein Verfügungsfonds?"
POLL_SECONDS = 0.02
# Packages whose import time the breakdown reports (cumulative, so nested ones overlap their parents).
HEAVY = (
    "fastapi",
    "uvicorn",
    "faiss",
    "bm25s",
    "scipy",
    "tokenizers",
    "torch",
    "transformers",
    "sentence_transformers",
)

# The serve path of `assistant serve` step by step, in one process: what create_app does, then one
# question. Prints one JSON line of timings.
_STEPS = r"""
import json, sys, time
t0 = time.perf_counter()
import uvicorn
import assistant.cli
from assistant.web.app import create_app
from assistant.config import Settings
import assistant.embed.models, assistant.service
t1 = time.perf_counter()
probes = []
original_probe = assistant.embedding.hub_reachable
def counting_probe(timeout):
    probes.append(timeout)
    return original_probe(timeout)
assistant.embedding.hub_reachable = counting_probe
load_release = assistant.service.load_release
spent = {}
def timed_load_release(index_dir):
    started = time.perf_counter()
    try:
        return load_release(index_dir)
    finally:
        spent["release"] = time.perf_counter() - started
assistant.service.load_release = timed_load_release
app = create_app(Settings())
t2 = time.perf_counter()
answer = app.state.assistant.ask(sys.argv[1])
t3 = time.perf_counter()
assert answer.hits
print(json.dumps({
    "imports": t1 - t0, "release": spent["release"], "rest_of_app": t2 - t1 - spent["release"],
    "first_answer": t3 - t2, "probes": len(probes),
    "torch_loaded": "torch" in sys.modules,
    "sentence_transformers_loaded": "sentence_transformers" in sys.modules,
}))
"""


def build_release(index_dir: Path) -> str:
    env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(index_dir),
        "HF_HUB_OFFLINE": "1",
        "ASSISTANT_OFFLINE_MODEL": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "build"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def serve_env(index_dir: Path, tmp: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    env.update(
        ASSISTANT_INDEX_DIR=str(index_dir),
        ASSISTANT_DATABASE=str(tmp / "startup.sqlite3"),
        ASSISTANT_ACCESS_LOG="false",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def time_to_first_answer(env: dict[str, str], question: str) -> tuple[float, float]:
    """Seconds from starting the server to it accepting connections, and to its first answer."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:  # uvicorn listens once the app (release and model included) is loaded
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("the server stopped before listening") from None
                time.sleep(POLL_SECONDS)
        listening = time.perf_counter() - started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while client.post("/api/ask", json={"question": question}).status_code != 200:
                time.sleep(POLL_SECONDS)
        return listening, time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)


def interpreter_start() -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def breakdown(env: dict[str, str], question: str) -> tuple[dict[str, float], dict[str, float]]:
    """In-process timings of the serve path, and cumulative import seconds of the heavy packages."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _STEPS, question],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    imports: dict[str, float] = {}
    for line in done.stderr.splitlines():
        # "import time:       self [us] |  cumulative | imported package"
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if name in HEAVY and name not in imports:
            imports[name] = int(cumulative) / 1e6
    return steps, imports


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="server starts to time (default 5)")
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        index_dir = tmp / "index"
        built = build_release(index_dir)
        env = serve_env(index_dir, tmp)
        listens, answers = [], []
        for run in range(args.runs):
            listening, answered = time_to_first_answer(env, args.question)
            listens.append(listening)
            answers.append(answered)
            print(f"run {run + 1}: first answer after {answered:.2f} s", file=sys.stderr, flush=True)
        steps, imports = breakdown(env, args.question)
        python = interpreter_start()

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.runs} starts; {built}"
    )
    print(f'Question: "{args.question}"; polled every {POLL_SECONDS * 1000:.0f} ms\n')
    print("| measurement | median s | max s |")
    print("| --- | --- | --- |")
    print(f"| start → server accepts connections | {statistics.median(listens):.2f} | {max(listens):.2f} |")
    print(
        f"| start → first answer to POST /api/ask | {statistics.median(answers):.2f} | {max(answers):.2f} |"
    )
    print()
    print("| step of the serve path (one in-process run) | seconds |")
    print("| --- | --- |")
    rows = (
        ("Python interpreter start (`python -c pass`)", python),
        ("imports: uvicorn, assistant.cli, assistant.app", steps["imports"]),
        ("load release: checksums, FAISS, passages, BM25", steps["release"]),
        ("rest of create_app: model, searcher, user store, routes", steps["rest_of_app"]),
        ("first answer in process", steps["first_answer"]),
    )
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} |")
    print()
    loaded = ", ".join(
        f"{name} {'loaded' if steps[f'{name}_loaded'] else 'not loaded'}"
        for name in ("torch", "sentence_transformers")
    )
    print(f"Network probes during start-up: {steps['probes']}; {loaded}.")
    print()
    print("| package (-X importtime, cumulative; what was imported before is not counted) | seconds |")
    print("| --- | --- |")
    for name in HEAVY:
        shown = f"{imports[name]:.3f}" if name in imports else "not imported"
        print(f"| {name} | {shown} |")


if __name__ == "__main__":
    main()
