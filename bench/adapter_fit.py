"""What fitting the query adapter costs a build, by corpus size (retrieval/adapter.py).

Synthetic worst case: random unit vectors, so the 247 example questions share no neighbours and each
brings its own 200 candidate passages (real questions about one corpus share most of theirs). The
shipped corpus (160 passages) is the first row.

    .venv/bin/python bench/adapter_fit.py [--sizes 160 10000 50000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.retrieval.adapter import fit_adapter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[160, 10_000, 50_000])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| passages | fit (s) |")
    print("| ---: | ---: |")
    for size in args.sizes:
        passages = rng.standard_normal((size, 384)).astype(np.float32)
        passages /= np.linalg.norm(passages, axis=1, keepdims=True)
        questions = rng.standard_normal((247, 384))
        questions /= np.linalg.norm(questions, axis=1, keepdims=True)
        answers = [[int(i)] for i in rng.integers(0, min(size, 160), len(questions))]
        started = time.perf_counter()
        fit_adapter(questions, answers, passages)
        print(f"| {size:,} | {time.perf_counter() - started:.1f} |")


if __name__ == "__main__":
    main()
