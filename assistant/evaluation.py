"""Retrieval evaluation: Recall@k and MRR@10 for dense, lexical and hybrid search on XQuAD German,
the practitioner questions, the follow-up dialogues, plus no-match error rates (``assistant eval``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .answer import make_answer
from .build import collect_passages, embedder_for_corpus
from .config import DEFAULT_MODEL, Settings
from .followup import contextual_query
from .lexical import LexicalIndex
from .records import Citation, Passage
from .search import Searcher, calibrate_lexical_threshold, calibrate_threshold
from .service import reranker_for

__all__ = [
    "EvalQuery",
    "Metrics",
    "evaluate",
    "load_followups",
    "load_practitioner",
    "load_xquad",
    "searcher_for",
]

CUTOFFS = (1, 3, 5, 10)


@dataclass(frozen=True)
class EvalQuery:
    question: str
    relevant: frozenset[str]  # passage ids
    history: tuple[str, ...] = ()


@dataclass(frozen=True)
class Metrics:
    recall: dict[int, float]
    mrr10: float
    queries: int

    def row(self) -> list[str]:
        return [f"{self.recall[k]:.3f}" for k in CUTOFFS] + [f"{self.mrr10:.3f}"]


def score_rankings(rankings: Sequence[Sequence[str]], queries: Sequence[EvalQuery]) -> Metrics:
    """Recall@k (a relevant passage among the first k) and MRR@10 over the queries."""
    hits = {k: 0 for k in CUTOFFS}
    reciprocal = 0.0
    for ranking, query in zip(rankings, queries, strict=True):
        first = next((i for i, pid in enumerate(ranking[:10]) if pid in query.relevant), None)
        if first is not None:
            reciprocal += 1.0 / (first + 1)
            for k in CUTOFFS:
                hits[k] += first < k
    n = max(len(queries), 1)
    return Metrics({k: hits[k] / n for k in CUTOFFS}, reciprocal / n, len(queries))


def load_xquad(path: Path) -> tuple[list[Passage], list[EvalQuery]]:
    """All XQuAD paragraphs as the corpus, all questions with their paragraph as the answer."""
    data = json.loads(path.read_text(encoding="utf-8"))
    passages: list[Passage] = []
    queries: list[EvalQuery] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            pid = f"xquad-{len(passages):03d}"
            # The article title stays out of the citation: embedded with the text it would hint at the
            # answer in a way a real practitioner question cannot rely on.
            citation = Citation(document=f"XQuAD: {article.get('title', '')}", source="xquad.de.json")
            passages.append(Passage(id=pid, text=paragraph["context"], citation=citation))
            queries.extend(EvalQuery(qa["question"], frozenset({pid})) for qa in paragraph["qas"])
    return passages, queries


def _section_ids(passages: Sequence[Passage]) -> dict[tuple[str, str], set[str]]:
    by_section: dict[tuple[str, str], set[str]] = {}
    for p in passages:
        by_section.setdefault((p.citation.source, p.citation.section), set()).add(p.id)
    return by_section


def _relevant(
    labels: list[dict[str, str]], sections: dict[tuple[str, str], set[str]], where: str
) -> frozenset[str]:
    ids: set[str] = set()
    for label in labels:
        found = sections.get((label["source"], label["section"]))
        if not found:
            raise ValueError(f"{where}: no passage for {label['source']} › {label['section']!r}")
        ids |= found
    return frozenset(ids)


def load_practitioner(path: Path, passages: Sequence[Passage]) -> list[EvalQuery]:
    sections = _section_ids(passages)
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            queries.append(EvalQuery(item["question"], _relevant(item["relevant"], sections, item["id"])))
    return queries


def load_followups(path: Path, passages: Sequence[Passage]) -> list[EvalQuery]:
    """The later turns of each dialogue, each with the questions before it as history."""
    sections = _section_ids(passages)
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        turns = item["turns"]
        for i, turn in enumerate(turns[1:], start=1):
            history = tuple(t["question"] for t in turns[:i])
            relevant = _relevant(turn["relevant"], sections, f"{item['id']} turn {i + 1}")
            queries.append(EvalQuery(turn["question"], relevant, history))
    return queries


def load_questions(path: Path) -> list[str]:
    return [
        json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def searcher_for(passages: list[Passage], settings: Settings, workdir: Path) -> Searcher:
    """An in-memory index of the passages with the configured model, or the fallback built from them."""
    texts = [p.embedding_text for p in passages]
    embedder, _ = embedder_for_corpus(settings, texts, workdir / "model", warn=lambda _: None)
    vectors = embedder.encode_documents(texts)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    lexical = LexicalIndex.build(texts)
    return Searcher(
        embedder=embedder,
        index=index,
        passages=tuple(passages),
        threshold=calibrate_threshold(embedder, vectors),
        lexical=lexical,
        lexical_threshold=calibrate_lexical_threshold(lexical),
        fusion=settings.fusion,
        dense_weight=settings.dense_weight,
        reranker=reranker_for(settings),
    )


def rankings(
    searcher: Searcher, queries: Sequence[EvalQuery], *, use_history: bool = True
) -> list[list[str]]:
    out = []
    for q in queries:
        text = contextual_query(q.question, q.history, searcher.analyzer).text if use_history else q.question
        out.append([hit.passage.id for hit in searcher.search(text, 10)])
    return out


VARIANTS: dict[str, dict[str, Any]] = {
    "dense": {"mode": "dense"},
    "lexical (BM25)": {"mode": "lexical"},
    "hybrid, RRF": {"mode": "hybrid", "fusion": "rrf", "dense_weight": 0.5},
    "hybrid, score 0.3": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.3},
    "hybrid, score 0.5": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.5},
    "hybrid, score 0.7": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.7},
}


def evaluate(
    settings: Settings,
    *,
    xquad: Path | None,
    sets: Path | None,
    workdir: Path,
    report: Callable[[str], None] = print,
) -> dict[str, dict[str, Metrics]]:
    """Run every available data set through every variant and print Markdown tables."""
    results: dict[str, dict[str, Metrics]] = {}
    model_note = settings.model or f"{DEFAULT_MODEL} (offline fallback where unavailable)"
    report(
        f"Model: {model_note}; configured fusion: {settings.fusion}, dense weight {settings.dense_weight}\n"
    )
    if xquad is not None and xquad.is_file():
        passages, queries = load_xquad(xquad)
        searcher = searcher_for(passages, settings, workdir / "xquad")
        results["XQuAD German"] = _table(
            f"XQuAD German ({len(passages)} paragraphs, {len(queries)} questions)", searcher, queries, report
        )
    elif xquad is not None:
        report(f"XQuAD skipped: {xquad} not found\n")
    if sets is not None and sets.is_dir():
        passages = collect_passages([settings.corpus_dir], warn=lambda _: None).passages
        searcher = searcher_for(passages, settings, workdir / "corpus")
        practitioner: list[EvalQuery] = []
        if (sets / "praxisfragen.jsonl").is_file():
            practitioner = load_practitioner(sets / "praxisfragen.jsonl", passages)
            results["Praxisfragen"] = _table(
                f"Praxisfragen ({len(practitioner)} questions, shipped corpus)",
                searcher,
                practitioner,
                report,
            )
        followups = load_followups(sets / "folgefragen.jsonl", passages)
        results["Folgefragen"] = _table(
            f"Folgefragen ({len(followups)} later turns, with history)", searcher, followups, report
        )
        results["Folgefragen ohne Verlauf"] = _table(
            "Folgefragen, history ignored", searcher, followups, report, use_history=False
        )
        _no_match_rates(searcher, practitioner, load_questions(sets / "fremdfragen.jsonl"), report)
        _latency(searcher, [*practitioner, *followups], report)
    return results


def _table(
    title: str,
    searcher: Searcher,
    queries: Sequence[EvalQuery],
    report: Callable[[str], None],
    *,
    use_history: bool = True,
) -> dict[str, Metrics]:
    report(f"### {title}\n")
    report("| retrieval | R@1 | R@3 | R@5 | R@10 | MRR@10 |")
    report("| --- | --- | --- | --- | --- | --- |")
    out = {}
    variants = {name: {**change, "reranker": None} for name, change in VARIANTS.items()}
    if searcher.reranker is not None:
        variants[f"hybrid + reranker ({searcher.reranker.name})"] = {}
    for name, change in variants.items():
        metrics = score_rankings(
            rankings(replace(searcher, **change), queries, use_history=use_history), queries
        )
        out[name] = metrics
        report("| " + " | ".join([name, *metrics.row()]) + " |")
    report("")
    return out


def _no_match_rates(
    searcher: Searcher, answerable: Sequence[EvalQuery], off_topic: list[str], report: Callable[[str], None]
) -> None:
    def no_match(question: str) -> bool:
        return not searcher.is_match(question, searcher.search(question, 5))

    false_no_match = sum(no_match(q.question) for q in answerable)
    false_answer = sum(not no_match(q) for q in off_topic)
    report("### No match\n")
    report("| set | wrong | rate |")
    report("| --- | --- | --- |")
    report(
        f"| Praxisfragen judged 'no match' | {false_no_match} of {len(answerable)} | "
        f"{false_no_match / max(len(answerable), 1):.3f} |"
    )
    report(
        f"| Fremdfragen answered anyway | {false_answer} of {len(off_topic)} | "
        f"{false_answer / max(len(off_topic), 1):.3f} |"
    )
    report("")


def _latency(searcher: Searcher, queries: Sequence[EvalQuery], report: Callable[[str], None]) -> None:
    """Per-query cost of each stage (p50/p95 in milliseconds): dense search alone, hybrid search
    (adds BM25 and fusion), follow-up handling and the extractive answer; three rounds."""
    dense_only = replace(searcher, mode="dense", reranker=None)
    times: dict[str, list[float]] = {name: [] for name in ("dense", "hybrid", "followup", "answer", "total")}
    for query in list(queries) * 3:
        started = time.perf_counter()
        dense_only.search(query.question, 5)
        times["dense"].append(time.perf_counter() - started)

        started = time.perf_counter()
        contextual = contextual_query(query.question, query.history, searcher.analyzer)
        after_followup = time.perf_counter()
        hits = searcher.search(contextual.text, 5)
        after_search = time.perf_counter()
        make_answer(
            query.question,
            hits,
            matched=searcher.is_match(contextual.text, hits),
            model="",
            build_id="",
            searched=contextual.shown,
            terms=searcher.analyzer.terms,
        )
        done = time.perf_counter()
        times["followup"].append(after_followup - started)
        times["hybrid"].append(after_search - after_followup)
        times["answer"].append(done - after_search)
        times["total"].append(done - started)
    labels = {
        "dense": "dense search alone (encode + FAISS)",
        "hybrid": "hybrid search (+ BM25 + fusion)",
        "followup": "follow-up handling",
        "answer": "no-match check + extractive answer + highlights",
        "total": "whole answer (follow-up + hybrid + answer)",
    }
    report(f"### Latency per query in ms ({len(queries)} questions × 3)\n")
    report("| stage | p50 | p95 |")
    report("| --- | --- | --- |")
    for key, label in labels.items():
        ms = np.array(times[key]) * 1000
        report(f"| {label} | {np.percentile(ms, 50):.2f} | {np.percentile(ms, 95):.2f} |")
    report("")
