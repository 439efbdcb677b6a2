"""The Kurzantwort's question bank, measured two ways (docs/evaluation.md):

- ``--weights``: how the short answer's weights were chosen. Each labelled everyday question the bank
  learns from (``bank.LABELLED_SETS``) is asked with itself taken out of the bank, and with it every bank
  question within cosine 0.9 of it (its near twins; ``--own-only`` takes out the question alone), for a
  grid of bank weight, meaning weight and softness: how many first sentences answer.
- ``--twins``: the held-out sets as served, and with every bank question within a cosine of 0.9, 0.85
  and 0.8 of the asked one taken out of the bank: how much of the figure is memory of near-identical
  questions.

Both build the shipped corpus's calibration in a temporary folder (offline default model, about a
minute), then take a few minutes on 2 cores.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/kurzantwort_bank.py --twins
    HF_HUB_OFFLINE=1 .venv/bin/python bench/kurzantwort_bank.py --weights [--own-only]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import assistant.answer as answer  # noqa: E402
import assistant.retrieval.bank as bank_module  # noqa: E402
from assistant import evaluation  # noqa: E402
from assistant.build import collect_passages  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.retrieval.adapter import shipped_fitting_items, shipped_items  # noqa: E402
from assistant.retrieval.bank import QuestionBank  # noqa: E402

BANK_WEIGHTS = (0.65, 0.8, 0.9, 1.0)
MEANING_WEIGHTS = (0.9, 1.0)
SOFTNESSES = (5.0, 7.0, 10.0, 20.0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--weights", action="store_true", help="the grid, each labelled question left out")
    what.add_argument("--twins", action="store_true", help="held-out sets without near twins in the bank")
    parser.add_argument("--own-only", action="store_true", help="--weights: take out the question alone")
    args = parser.parse_args()
    settings = Settings()
    passages = collect_passages([settings.corpus_dir], warn=lambda _: None).passages
    searcher = evaluation.searcher_for(passages, settings, Path(tempfile.mkdtemp()) / "calibration")
    scorer = evaluation.sentence_scorer(searcher)
    full = searcher.calibration.bank
    if full is None:
        print("The release has no question bank.")
        return 1
    vectors = full.vectors.astype(np.float32)

    def first_answers(item: dict[str, Any], found: Any, bank: QuestionBank) -> bool:
        made = answer.make_answer(
            item["question"],
            found.hits,
            matched=True,
            model="",
            build_id="",
            terms=searcher.analyzer.terms,
            query_vector=found.question_vector,
            scorer=scorer,
            bank=bank,
            bank_vector=found.mapped_vector,
        )
        return bool(made.sentences) and made.sentences[0].text in item["answers"]

    def without(found: Any, cut: float, question: str | None = None) -> QuestionBank:
        mapped = np.asarray(found.mapped_vector, dtype=np.float32).reshape(-1)
        keep = (vectors @ mapped) < cut
        if question is not None:
            keep &= np.array([q != question for q in questions])
        return QuestionBank(full.vectors[keep], full.owners[keep], full.sentences)

    questions, _ = bank_module.bank_examples(passages)
    if args.twins:
        sets = [(file, title, split) for file, title, split in evaluation.SHORT_ANSWERS if split != "fit"]
        print("| taken out of the bank | " + " | ".join(title for _, title, _ in sets) + " |")
        print("| --- |" + " --- |" * len(sets))
        rows: dict[str, list[str]] = {}
        for file, _, split in sets:
            half = (item for item in shipped_items(file) if split is None or item.get("split") == split)
            items = _labelled(half)
            found = [searcher.find(item["question"], 5) for item in items]
            served = sum(first_answers(i, f, full) for i, f in zip(items, found, strict=True))
            rows.setdefault("nothing (as served)", []).append(f"{served} of {len(items)}")
            for cut in (0.9, 0.85, 0.8):
                n = sum(first_answers(i, f, without(f, cut)) for i, f in zip(items, found, strict=True))
                rows.setdefault(f"bank questions within cosine {cut}", []).append(f"{n} of {len(items)}")
        for label, cells in rows.items():
            print(f"| {label} | " + " | ".join(cells) + " |")
        return 0
    # The labelled questions the bank holds (not those worded like a held-out question).
    held = set(questions)
    items = _labelled(
        item
        for name in bank_module.LABELLED_SETS
        for item in shipped_fitting_items(name)
        if item["question"] in held
    )
    found = [searcher.find(item["question"], 5) for item in items]
    cut = 2.0 if args.own_only else 0.9  # a cosine never reaches 2: the question alone
    banks = [without(f, cut, item["question"]) for item, f in zip(items, found, strict=True)]
    left_out = "alone" if args.own_only else "with its near twins"
    print(f"{len(items)} labelled questions, each left out of the bank {left_out}")
    print("| bank weight | meaning weight | softness | first sentence answers |")
    print("| --- | --- | --- | --- |")
    for weight, meaning, softness in itertools.product(BANK_WEIGHTS, MEANING_WEIGHTS, SOFTNESSES):
        answer._BANK_WEIGHT, answer._BANKED_MEANING_WEIGHT, bank_module.SOFTNESS = weight, meaning, softness
        n = sum(first_answers(i, f, b) for i, f, b in zip(items, found, banks, strict=True))
        print(f"| {weight} | {meaning} | {softness} | {n} of {len(items)} |", flush=True)
    return 0


def _labelled(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in items if item.get("answers")]


if __name__ == "__main__":
    raise SystemExit(main())
