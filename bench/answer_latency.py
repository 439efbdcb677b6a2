"""Whole-answer latency of this checkout against another revision, in the same run (issue 25: "within
1.2× of today's").

Each side builds the shipped corpus with the offline default into its own folder under
.cache/bench/answer-latency/ (once), then times ``Assistant.ask`` in a fresh process: the Praxisfragen, the
Blind-Fremdfragen (refused) and every later turn of the Folgefragen with its history, three rounds after
a warm-up. The two sides alternate ``--rounds`` times, so drift on a noisy machine hits both alike; the
ratio of each pair is printed.

    .venv/bin/python bench/answer_latency.py --against a5d9360 [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench" / "answer-latency"

TIMER = r"""
import json, os, sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[1])
from assistant.build import build_index
from assistant.config import Settings
from assistant.service import open_assistant
root, index, sets = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
settings = Settings(corpus_dir=root / "corpus", index_dir=index)
if not (index / "CURRENT").exists():
    build_index(settings)
assistant = open_assistant(settings)
def questions(name):
    return [(json.loads(line)["question"], ()) for line in (sets / name).read_text().splitlines() if line]
asks = questions("praxisfragen.jsonl") + questions("blind/fremdfragen.jsonl")
for line in (sets / "folgefragen.jsonl").read_text().splitlines():
    turns = [t["question"] for t in json.loads(line)["turns"]]
    asks += [(turns[i], tuple(turns[:i])) for i in range(1, len(turns))]
for question, history in asks[:10]:
    assistant.ask(question, history=history)
times = []
for _ in range(3):
    for question, history in asks:
        started = time.perf_counter()
        assistant.ask(question, history=history)
        times.append(time.perf_counter() - started)
ms = np.array(times) * 1000
print(json.dumps({"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)), "n": len(ms)}))
"""


def _measure(code: Path, index: Path) -> dict[str, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(code), str(index), str(ROOT / "eval")],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, help="git revision to compare with (e.g. a5d9360)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.against],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    other = CACHE / f"tree-{revision}"
    if not other.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), revision], check=True
        )
    print(f"| round | {revision} p50 / p95 ms | this checkout p50 / p95 ms | ratio p50 / p95 |")
    print("| --- | --- | --- | --- |")
    for round_ in range(1, args.rounds + 1):
        started = time.perf_counter()
        before = _measure(other, CACHE / f"index-{revision}")
        now = _measure(ROOT, CACHE / "index-checkout")
        print(
            f"| {round_} | {before['p50']:.2f} / {before['p95']:.2f} | {now['p50']:.2f} / {now['p95']:.2f} "
            f"| {now['p50'] / before['p50']:.2f} / {now['p95'] / before['p95']:.2f} |",
            flush=True,
        )
        print(
            f"(round {round_}: {time.perf_counter() - started:.0f} s, {int(now['n'])} answers each)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
