"""Are the Kurzantwort's labelled answering sentences a fair measure? Two judges per pair, who saw only
question–sentence pairs (never the corpus, the code or which sentence is which), judged 352 pairs:
every first sentence the Kurzantwort chose that no label names ("miss"), a labelled answering sentence
("positive") and another sentence of the same three passages ("decoy") for 120 questions each.
``eval/urteile/`` holds the pairs, their kinds and the verdicts; this prints the table.

    .venv/bin/python bench/kurzantwort_judged.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = {
    "miss": "first sentence chosen, not labelled",
    "positive": "labelled answering sentence",
    "decoy": "other sentence of the same passages",
}


def main() -> int:
    lines = (ROOT / "eval/urteile/urteile.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line]
    counts: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    agree = 0
    for row in rows:
        verdicts = [v["verdict"] for v in row["verdicts"]]
        c = counts[row["kind"]]
        c["n"] += 1
        c["both ja"] += verdicts.count("ja") == len(verdicts)
        c["one ja"] += "ja" in verdicts
        c["no nein"] += "nein" not in verdicts
        agree += len(set(verdicts)) == 1
    print("| pairs | n | both judges 'ja' | at least one 'ja' | neither 'nein' |")
    print("| --- | --- | --- | --- | --- |")
    for kind, title in KINDS.items():
        c = counts[kind]
        n = max(c["n"], 1)
        shares = " | ".join(f"{c[key]} ({c[key] / n:.2f})" for key in ("both ja", "one ja", "no nein"))
        print(f"| {title} | {c['n']} | {shares} |")
    print(f"\nThe two judges gave the same verdict on {agree} of {len(rows)} pairs.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
