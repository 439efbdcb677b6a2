"""Packets for the blind grounding set: questions with the passages the model would be given.

Run: .venv/bin/python bench/grounding_packets.py [--count 72] [--second | --third]

Takes every other answerable question of the blind set (eval/blind/fragen.jsonl; with --second the
others, for a second test set written later; with --third the answerable questions of the second blind
set, eval/blind2/fragen.jsonl, for a third), asks the assistant as
the chat does (shipped corpus, offline default model, built once into .cache/bench/default/) and writes
each question with its first ``MAX_PASSAGES`` passages, numbered as the model sees them, to
eval/grounding/pakete.jsonl. Writers who do not see the check's code then write faithful and false
sentences against these packets (eval/grounding/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from latency import release_for  # noqa: E402

from assistant.generation.grounding import MAX_PASSAGES  # noqa: E402
from assistant.service import open_assistant  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=72)
    parser.add_argument(
        "--second",
        action="store_true",
        help="the other half of the answerable questions (a second, later test set), numbered from P101",
    )
    parser.add_argument(
        "--third",
        action="store_true",
        help="the answerable questions of the second blind set (a third test set), numbered from P201",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "grounding" / "pakete.jsonl")
    args = parser.parse_args()
    assistant = open_assistant(release_for(None))
    questions = ROOT / "eval" / ("blind2" if args.third else "blind") / "fragen.jsonl"
    rows = [json.loads(line) for line in questions.open(encoding="utf-8")]
    answerable = [row for row in rows if row["relevant"]]
    if not args.third:
        answerable = answerable[1 if args.second else 0 :: 2]
    first_number = 201 if args.third else 101 if args.second else 1
    packets = []
    for row in answerable:
        answer = assistant.ask(row["question"], generate=False)
        if answer.no_match or len(answer.hits) < 2:
            continue
        packets.append(
            {
                "packet": f"P{len(packets) + first_number:03d}",
                "question_id": row["id"],
                "question": row["question"],
                "passages": [
                    {
                        "n": n,
                        "id": hit.passage.id,
                        "label": hit.passage.citation.label,
                        "text": hit.passage.text,
                    }
                    for n, hit in enumerate(answer.hits[:MAX_PASSAGES], start=1)
                ],
            }
        )
        if len(packets) == args.count:
            break
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for packet in packets:
            out.write(json.dumps(packet, ensure_ascii=False) + "\n")
    print(f"{len(packets)} packets written to {args.out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
