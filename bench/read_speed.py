"""PDF reading speed of this checkout against another revision, in the same run (issue 27: "within
1.5× of today's").

Each side reads every PDF of the collection (``.cache/pdf-collection``, from
``tests/data/fetch-pdf-collection.sh``) in a fresh process; the sides alternate ``--rounds`` times, so
drift on a noisy machine hits both alike. Prints each round's seconds, the medians and their ratio.

    .venv/bin/python bench/read_speed.py --against 84955ed [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench" / "read-speed"
COLLECTION = ROOT / ".cache" / "pdf-collection"

TIMER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import assistant
assert assistant.__file__.startswith(sys.argv[1]), assistant.__file__
from assistant.ingest.readers import read_document
files = sorted(Path(sys.argv[2]).glob("*.pdf"))
started = time.perf_counter()
pages = 0
for file in files:
    document = read_document(file)
    pages += len({b.page for b in document.blocks})
print(time.perf_counter() - started, pages)
"""


def timed(tree: Path) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(tree), str(COLLECTION)],
        capture_output=True,
        text=True,
        check=True,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    ).stdout.split()
    return float(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", required=True, help="the revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not any(COLLECTION.glob("*.pdf")):
        sys.exit("no PDF collection: bash tests/data/fetch-pdf-collection.sh")
    other = CACHE / args.against
    if not other.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), args.against], check=True
        )
    times: dict[str, list[float]] = {"this checkout": [], args.against: []}
    for round_ in range(args.rounds):
        for name, tree in ((args.against, other), ("this checkout", ROOT)):
            seconds, pages = timed(tree)
            times[name].append(seconds)
            print(f"round {round_ + 1}: {name}: {seconds:.2f} s ({pages} pages with text)")
    here, there = statistics.median(times["this checkout"]), statistics.median(times[args.against])
    print(f"\nmedian: this checkout {here:.2f} s, {args.against} {there:.2f} s, ratio {here / there:.2f}")


if __name__ == "__main__":
    main()
