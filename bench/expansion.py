"""Does expanding questions with synonyms help? (issue 25: everyday words to the guide's words)

Builds the shipped corpus in memory with the configured model (the offline default), then compares,
with the synonym lists in ``bench/data`` (OpenThesaurus nouns and the project's domain file):

- retrieval (hybrid, the configured dense weight): R@3 and MRR@10 without expansion, and with the
  synonyms searched by BM25 at the weights chosen on the fitting sets;
- the no-match judgement, its rule refitted on the fitting sets for each variant: the question's
  words counted as known only as written, or also through a synonym.

Each on the fitting sets and on the held-out sets (never fitted on). About 4 minutes on 2 cores::

    .venv/bin/python bench/expansion.py
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.build import collect_passages  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.evaluation import (  # noqa: E402
    EvalQuery,
    _judged,
    _query,
    fit_rule,
    load_followups,
    load_practitioner,
    load_questions,
    rankings,
    score_rankings,
    searcher_for,
)
from assistant.retrieval.expansion import load_thesaurus  # noqa: E402
from assistant.retrieval.search import Searcher  # noqa: E402

DATA = ROOT / "bench" / "data"
EVAL = ROOT / "eval"


def _sets(passages: list) -> tuple[dict, dict, dict, dict]:
    fit = {
        "Praxisfragen": load_practitioner(EVAL / "praxisfragen.jsonl", passages),
        "Alltagsfragen": load_practitioner(EVAL / "alltagsfragen.jsonl", passages),
        "Alltagsfragen 2 (fit)": load_practitioner(EVAL / "blind2/fragen.jsonl", passages, "fit"),
        "Folgefragen": load_followups(EVAL / "folgefragen.jsonl", passages),
        "Folgefragen 2 (fit)": load_followups(EVAL / "blind2/dialoge.jsonl", passages, "fit"),
    }
    held_out = {
        "Blindfragen": load_practitioner(EVAL / "blind/fragen.jsonl", passages),
        "Alltagsfragen 2 (held out)": load_practitioner(EVAL / "blind2/fragen.jsonl", passages, "test"),
        "Folgefragen 2 (held out)": load_followups(EVAL / "blind2/dialoge.jsonl", passages, "test"),
    }
    fit_negative = {
        "Fremdfragen": load_questions(EVAL / "fremdfragen.jsonl"),
        "Fremdfragen (nah)": load_questions(EVAL / "fremdfragen_nah.jsonl"),
        "Fremdfragen 2 (fit)": load_questions(EVAL / "blind2/fremdfragen.jsonl", "fit"),
    }
    held_negative = {
        "Blind-Fremdfragen": load_questions(EVAL / "blind/fremdfragen.jsonl"),
        "Fremdfragen 2 (held out)": load_questions(EVAL / "blind2/fremdfragen.jsonl", "test"),
    }
    return fit, held_out, fit_negative, held_negative


def _retrieval(searcher: Searcher, sets: dict[str, list[EvalQuery]]) -> dict[str, str]:
    out = {}
    for name, queries in sets.items():
        metrics = score_rankings(rankings(searcher, queries), queries)
        out[name] = f"{metrics.recall[3]:.3f} / {metrics.mrr10:.3f}"
    return out


def _no_match(searcher: Searcher, answerable: dict, unanswerable: dict) -> dict[str, str]:
    out = {}
    for name, queries in answerable.items():
        wrong = sum(not m for m, _ in _judged(searcher, [_query(searcher, q) for q in queries]))
        out[f"{name} refused"] = f"{wrong}/{len(queries)}"
    for name, questions in unanswerable.items():
        wrong = sum(m for m, _ in _judged(searcher, questions))
        out[f"{name} answered"] = f"{wrong}/{len(questions)}"
    return out


def _table(title: str, rows: dict[str, dict[str, str]]) -> None:
    columns = list(next(iter(rows.values())))
    print(f"\n#### {title}\n")
    print("| variant | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for variant, cells in rows.items():
        print(f"| {variant} | " + " | ".join(cells[c] for c in columns) + " |")


def main() -> int:
    settings = Settings()
    passages = collect_passages([settings.corpus_dir], warn=lambda _: None).passages
    fit, held_out, fit_negative, held_negative = _sets(passages)
    with tempfile.TemporaryDirectory() as workdir:
        plain = searcher_for(passages, settings, Path(workdir))
        thesaurus = load_thesaurus(
            plain.analyzer, domain=DATA / "alltagswoerter.txt", general=DATA / "openthesaurus.txt.gz"
        )
        print(f"Synonym groups indexed by {len(thesaurus)} stems; model {plain.embedder.name}")
        searched = replace(plain, thesaurus=thesaurus, expand_known=False, expand_search=True)
        rows = {"none": plain, "synonyms searched (BM25)": searched}
        _table("R@3 / MRR@10, fitting sets", {k: _retrieval(s, fit) for k, s in rows.items()})
        _table("R@3 / MRR@10, held-out sets", {k: _retrieval(s, held_out) for k, s in rows.items()})
        fitting = [q for queries in fit.values() for q in queries]
        negatives = [q for questions in fit_negative.values() for q in questions]
        judged = {}
        for name, variant in {
            "words as written": plain,
            "words known through a synonym": replace(plain, thesaurus=thesaurus, expand_search=False),
        }.items():
            fitted = replace(variant, rule=fit_rule(variant, fitting, negatives))
            print(f"{name}: {fitted.rule!r}")
            judged[name] = _no_match(fitted, held_out, held_negative)
        _table("No match, each rule refitted on the fitting sets; held-out sets", judged)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
