"""Full versus incremental build time on the shipped corpus, and PDF reading speed.

Run: .venv/bin/python bench/build_times.py [--model NAME_OR_PATH] [--pdf FILE] [--repeat N]
Builds into a temporary folder (the real index/ is not touched) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.build import build_index  # noqa: E402
from assistant.config import Settings, bundled_dir  # noqa: E402
from assistant.ingest.readers import read_document  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed_build(settings: Settings):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    report = build_index(settings, warn=lambda _: None)
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="model name or path (default: the configured default / fallback)")
    parser.add_argument("--pdf", type=Path, default=ROOT / ".cache" / "testdata" / "debian-faq.de.pdf")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(bundled_dir("corpus"), corpus)
        edited = sorted(corpus.glob("*.md"))[3]
        original = edited.read_text(encoding="utf-8")
        full, unchanged, incremental = [], [], []
        for run in range(args.repeat):
            index = Path(tmp) / f"index-{run}"
            settings = Settings(corpus_dir=corpus, index_dir=index, model=args.model)
            edited.write_text(original, encoding="utf-8")
            seconds, report = timed_build(settings)
            full.append(seconds)
            seconds, again = timed_build(settings)
            unchanged.append(seconds)
            # An edit to one section of one file: one sentence appended.
            edited.write_text(
                original.replace("\n\n## ", "\n\nDieser Satz wurde für die Messung ergänzt.\n\n## ", 2),
                encoding="utf-8",
            )
            seconds, changed = timed_build(settings)
            incremental.append(seconds)
        rows.append(("model", report.model, ""))
        rows.append(("passages / documents", f"{report.passages} / {report.documents}", ""))
        rows.append(("full build", f"{statistics.median(full):.2f} s", f"{report.embedded} embedded"))
        rows.append(
            (
                "rebuild, nothing changed",
                f"{statistics.median(unchanged):.2f} s",
                f"{again.embedded} embedded",
            )
        )
        rows.append(
            (
                "rebuild after editing one file",
                f"{statistics.median(incremental):.2f} s",
                f"{changed.embedded} embedded",
            )
        )

    if args.pdf.is_file():
        read_document(args.pdf, args.pdf.parent)  # warm-up: imports and the PDFium library load
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            document = read_document(args.pdf, args.pdf.parent)
            times.append(time.perf_counter() - started)
        pages = max(b.page or 0 for b in document.blocks)
        best = statistics.median(times)
        rows.append(
            (f"read {args.pdf.name}", f"{pages / best:.0f} pages/s", f"{pages} pages in {best:.2f} s")
        )

    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; median of {args.repeat} runs"
    )
    print()
    print("| measurement | result | note |")
    print("| --- | --- | --- |")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")


if __name__ == "__main__":
    main()
