"""Retrieval evaluation (``assistant eval``): Recall@k and MRR@10 for dense, lexical and hybrid search on
XQuAD German and the project's question sets, the no-match judgement's errors on answerable and
unanswerable questions, and how often the short answer starts with a sentence that answers.

The team's sets (Praxisfragen, Folgefragen, Alltagsfragen, Fremdfragen, Fremdfragen nah) are what
weights and the no-match rule are fitted on; the blind sets in ``eval/blind/`` (written from a topic
list without the corpus in view, labelled afterwards) are only ever reported.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .answer import SentenceScorer, make_answer
from .build import collect_passages, sentences_of
from .config import Settings
from .embed.choice import embedder_for_corpus, static_embedder
from .embed.models import Embedder
from .index.lexical import LexicalIndex
from .index.releases import releases_for
from .index.store import NewRelease
from .index.vectors import SentenceVectors
from .records import Citation, Hit, Passage
from .retrieval.adapter import adapter_examples
from .retrieval.bank import bank_examples
from .retrieval.followup import SearchQuery, contextual_query
from .retrieval.nomatch import (
    FEATURES,
    NO_MATCH_RULES,
    NoMatchRule,
    calibrate,
    fit_scope,
    scope_examples,
)
from .retrieval.search import Found, Searcher

__all__ = [
    "EvalQuery",
    "Metrics",
    "evaluate",
    "fit_rule",
    "load_followups",
    "load_practitioner",
    "load_xquad",
    "searcher_for",
    "sentence_scorer",
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


def _items(path: Path, split: str | None = None) -> list[dict[str, Any]]:
    """The JSON lines of a set; with ``split``, only those of that half ("fit" or "test")."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [item for item in items if split is None or item.get("split") == split]


def load_practitioner(path: Path, passages: Sequence[Passage], split: str | None = None) -> list[EvalQuery]:
    """Labelled questions (of one half with ``split``); those labelled with no section (the corpus does
    not answer them) are left out."""
    sections = _section_ids(passages)
    queries = []
    for item in _items(path, split):
        if item["relevant"]:
            queries.append(EvalQuery(item["question"], _relevant(item["relevant"], sections, item["id"])))
    return queries


def load_followups(path: Path, passages: Sequence[Passage], split: str | None = None) -> list[EvalQuery]:
    """The later turns of each dialogue (of one half with ``split``), each with the questions before it
    as history."""
    sections = _section_ids(passages)
    queries = []
    for item in _items(path, split):
        turns = item["turns"]
        for i, turn in enumerate(turns[1:], start=1):
            if not turn["relevant"]:  # a turn the corpus does not answer: history only, not scored
                continue
            history = tuple(t["question"] for t in turns[:i])
            relevant = _relevant(turn["relevant"], sections, f"{item['id']} turn {i + 1}")
            queries.append(EvalQuery(turn["question"], relevant, history))
    return queries


def load_questions(path: Path, split: str | None = None) -> list[str]:
    return [item["question"] for item in _items(path, split)]


class _CachedEmbedder(Embedder):
    """Query vectors kept for the run: every variant and every table asks the same questions again."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(
            model=inner.model, name=inner.name, fingerprint=inner.fingerprint, backend=inner.backend
        )
        self.inner = inner
        self.known: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.inner.encode_queries(missing), strict=True))
        return np.stack([self.known[t] for t in texts])

    def encode_documents(
        self, texts: list[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        return self.inner.encode_documents(texts, batch_size=batch_size, progress=progress)


def searcher_for(
    passages: list[Passage], settings: Settings, workdir: Path, *, static: bool = False
) -> Searcher:
    """An in-memory index of the passages with the configured model (the offline default included), or,
    with ``static``, the static model built from them."""
    texts = [p.embedding_text for p in passages]
    if static:
        embedder = static_embedder(settings, texts, workdir / "model")
    else:
        embedder, _ = embedder_for_corpus(settings, texts, workdir / "model", warn=lambda _: None)
    vectors = embedder.encode_documents(texts)
    lexical = LexicalIndex.build(texts)
    # The configured backend's search code over these passages, exact as a build makes it at this size.
    release = NewRelease(passages=passages, vectors=vectors, model=embedder.name, lexical=lexical)
    engine = releases_for(settings).trial_engine(workdir, release, index_kind=settings.index_kind)
    # Calibrated through the cache, so that fitting the no-match rule (``_out_of_fold_scope``) does not
    # encode the scope model's example questions a second time.
    cached = _CachedEmbedder(embedder)
    calibration = calibrate(
        cached,
        vectors,
        headings=[p.citation.section for p in passages],
        labelled=adapter_examples(passages) if settings.query_adapter else None,
        asked=bank_examples(passages),
    )
    return Searcher.configured(settings, cached, engine, calibration)


def _query(searcher: Searcher, q: EvalQuery, use_history: bool = True) -> SearchQuery:
    return contextual_query(q.question, q.history if use_history else (), searcher.analyzer)


def rankings(
    searcher: Searcher, queries: Sequence[EvalQuery], *, use_history: bool = True
) -> list[list[str]]:
    return [[hit.passage.id for hit in _search(searcher, _query(searcher, q, use_history))] for q in queries]


VARIANTS: dict[str, dict[str, Any]] = {
    "dense": {"mode": "dense"},
    "lexical (BM25)": {"mode": "lexical"},
    "hybrid, RRF": {"mode": "hybrid", "fusion": "rrf", "dense_weight": 0.5},
    "hybrid, score 0.4": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.4},
    "hybrid, score 0.5": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.5},
    "hybrid, score 0.6": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.6},
    "hybrid, score 0.65": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.65},
    "hybrid, score 0.7": {"mode": "hybrid", "fusion": "score", "dense_weight": 0.7},
}

#: Labelled question sets in ``eval/``: (file, title, written blind, used for fitting, half or None).
ANSWERABLE = (
    ("praxisfragen.jsonl", "Praxisfragen", False, True, None),
    ("alltagsfragen.jsonl", "Alltagsfragen", True, True, None),
    ("blind2/fragen.jsonl", "Alltagsfragen 2 (fitting half)", True, True, "fit"),
    ("blind/fragen.jsonl", "Blindfragen", True, False, None),
    ("blind2/fragen.jsonl", "Alltagsfragen 2 (held-out half)", True, False, "test"),
    ("blind3/fragen.jsonl", "Alltagsfragen 3 (fitting half)", True, True, "fit"),
    ("blind3/fragen.jsonl", "Alltagsfragen 3 (held-out half)", True, False, "test"),
)
FOLLOWUPS = (
    ("folgefragen.jsonl", "Folgefragen", False, True, None),
    ("blind2/dialoge.jsonl", "Folgefragen 2 (fitting half)", True, True, "fit"),
    ("blind2/dialoge.jsonl", "Folgefragen 2 (held-out half)", True, False, "test"),
)
UNANSWERABLE = (
    ("fremdfragen.jsonl", "Fremdfragen", False, True, None),
    ("fremdfragen_nah.jsonl", "Fremdfragen (nah)", True, True, None),
    ("blind2/fremdfragen.jsonl", "Fremdfragen 2 (fitting half)", True, True, "fit"),
    ("blind/fremdfragen.jsonl", "Blind-Fremdfragen", True, False, None),
    ("blind2/fremdfragen.jsonl", "Fremdfragen 2 (held-out half)", True, False, "test"),
)
#: Labelled answering sentences: (file, title, half or None). The fitting halves are in the question
#: bank (``bank.LABELLED_SETS``), which chose the short answer's weights (answer.py), so their figures
#: measure nothing; the others are only reported.
SHORT_ANSWERS = (
    ("blind/antwortsaetze.jsonl", "Blindfragen", None),
    ("blind2/fragen.jsonl", "Alltagsfragen 2 (fitting half, in the question bank)", "fit"),
    ("blind2/fragen.jsonl", "Alltagsfragen 2 (held-out half)", "test"),
    ("blind3/fragen.jsonl", "Alltagsfragen 3 (fitting half, in the question bank)", "fit"),
    ("blind3/fragen.jsonl", "Alltagsfragen 3 (held-out half)", "test"),
)


def evaluate(
    settings: Settings,
    *,
    xquad: Path | None,
    sets: Path | None,
    workdir: Path,
    report: Callable[[str], None] = print,
    static: bool = False,
    fit: bool = False,
) -> dict[str, dict[str, Metrics]]:
    """Run every available data set through every variant and print Markdown tables; ``static``
    evaluates the static model built from each corpus instead of the configured model; ``fit`` also
    fits the no-match rule on the team's sets and prints it."""
    results: dict[str, dict[str, Metrics]] = {}
    name: str | None = None
    if xquad is not None and xquad.is_file():
        passages, queries = load_xquad(xquad)
        searcher = searcher_for(passages, settings, workdir / "xquad", static=static)
        name = searcher.embedder.name
        _heading(name, settings, report)
        results["XQuAD German"] = _table(
            f"XQuAD German ({len(passages)} paragraphs, {len(queries)} questions)", searcher, queries, report
        )
    elif xquad is not None:
        report(f"XQuAD skipped: {xquad} not found\n")
    if sets is None or not sets.is_dir():
        return results
    passages = collect_passages([settings.corpus_dir], warn=lambda _: None).passages
    searcher = searcher_for(passages, settings, workdir / "corpus", static=static)
    if name is None:
        _heading(searcher.embedder.name, settings, report)
    answerable: dict[str, list[EvalQuery]] = {}
    fitting: list[EvalQuery] = []
    for file, title, blind, fitted, split in ANSWERABLE:
        if (sets / file).is_file():
            answerable[title] = load_practitioner(sets / file, passages, split)
            note = "written blind, " if blind else ""
            note += "fitted on" if fitted else "held out: never fitted on"
            results[title] = _table(
                f"{title} ({len(answerable[title])} questions; {note})", searcher, answerable[title], report
            )
            fitting += answerable[title] if fitted else []
    followups: list[EvalQuery] = []
    for file, title, blind, fitted, split in FOLLOWUPS:
        if not (sets / file).is_file():
            continue
        turns = load_followups(sets / file, passages, split)
        note = ("written blind, " if blind else "") + ("fitted on" if fitted else "held out: never fitted on")
        results[title] = _table(
            f"{title} ({len(turns)} later turns, with history; {note})", searcher, turns, report
        )
        if file == "folgefragen.jsonl":
            followups = turns
            results[f"{title} ohne Verlauf"] = _table(
                f"{title}, history ignored", searcher, turns, report, use_history=False
            )
        answerable[title] = turns
        fitting += turns if fitted else []
    unanswerable = {
        title: load_questions(sets / file, split)
        for file, title, _, _, split in UNANSWERABLE
        if (sets / file).is_file()
    }
    _no_match_rates(searcher, answerable, unanswerable, report)
    if fit:
        negatives = [
            q for _, title, _, fitted, _ in UNANSWERABLE if fitted for q in unanswerable.get(title, [])
        ]
        rule = fit_rule(searcher, fitting, negatives)
        kind = "static" if searcher.rule is NO_MATCH_RULES["static"] else "transformer"
        report(f"Fitted no-match rule ({kind}): {rule!r}\n")
        _no_match_rates(replace(searcher, rule=rule), answerable, unanswerable, report)
    scorer = sentence_scorer(searcher)
    for file, title, split in SHORT_ANSWERS:
        if (sets / file).is_file():
            _short_answers(searcher, scorer, title, _items(sets / file, split), report)
    _latency(searcher, scorer, [*answerable.get("Praxisfragen", []), *followups], report)
    return results


def _heading(model: str, settings: Settings, report: Callable[[str], None]) -> None:
    report(f"Model: {model}; configured fusion: {settings.fusion}, dense weight {settings.dense_weight}\n")


def _table(
    title: str,
    searcher: Searcher,
    queries: Sequence[EvalQuery],
    report: Callable[[str], None],
    *,
    use_history: bool = True,
) -> dict[str, Metrics]:
    report(f"#### {title}\n")
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


def _search(searcher: Searcher, query: SearchQuery) -> list[Hit]:
    """The top 10 as the assistant searches (see ``_find``), without the no-match judgement."""
    return searcher.search(query.text, 10, dense_text=query.dense_text, question=query.question)


def _find(searcher: Searcher, query: SearchQuery, k: int) -> Found:
    """As the assistant searches: BM25 over the question with borrowed words, the model over the
    question with its context."""
    return searcher.find(query.text, k, dense_text=query.dense_text, question=query.question)


def _judged(
    searcher: Searcher, questions: Sequence[str | SearchQuery]
) -> list[tuple[bool, tuple[float, ...]]]:
    out = []
    for question in questions:
        query = question if isinstance(question, SearchQuery) else SearchQuery(question)
        found = _find(searcher, query, 5)
        out.append((found.matched, found.features))
    return out


def _no_match_rates(
    searcher: Searcher,
    answerable: dict[str, list[EvalQuery]],
    unanswerable: dict[str, list[str]],
    report: Callable[[str], None],
) -> None:
    report("#### No match\n")
    report("| set | wrong | rate |")
    report("| --- | --- | --- |")
    for title, queries in answerable.items():
        wrong = sum(not matched for matched, _ in _judged(searcher, [_query(searcher, q) for q in queries]))
        report(
            f"| {title} judged 'no match' | {wrong} of {len(queries)} | {wrong / max(len(queries), 1):.3f} |"
        )
    for title, questions in unanswerable.items():
        wrong = sum(matched for matched, _ in _judged(searcher, questions))
        rate = wrong / max(len(questions), 1)
        report(f"| {title} answered anyway | {wrong} of {len(questions)} | {rate:.3f} |")
    report("")


def fit_rule(
    searcher: Searcher,
    answerable: Sequence[EvalQuery],
    unanswerable: Sequence[str],
    *,
    miss_cost: float = 3.0,
) -> NoMatchRule:
    """A logistic regression of answerable against unanswerable on the no-match features (classes
    weighted equally, a little L2), then the cut-off that minimises ``miss_cost`` × false "no match"
    rate + false answer rate on the same questions."""
    from scipy.optimize import minimize

    # The scope feature of a question the scope model learnt from is its out-of-fold score: in-sample
    # scores are overconfident, and the rule would lean on them more than new questions deserve.
    held_out = _out_of_fold_scope(searcher)
    scope = FEATURES.index("scope")

    def judged(queries: Sequence[SearchQuery]) -> np.ndarray:
        rows = np.array([f for _, f in _judged(searcher, list(queries))], dtype=np.float64)
        for row, query in zip(rows, queries, strict=True):
            if query.dense_text == query.question and query.question in held_out:
                row[scope] = held_out[query.question]
        return rows

    positives = judged([_query(searcher, q) for q in answerable])
    negatives = judged([SearchQuery(q) for q in unanswerable])
    x = np.vstack([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))

    def loss(beta: np.ndarray) -> float:
        z = x @ beta[:-1] + beta[-1]
        return float(np.sum(w * (np.logaddexp(0, z) - y * z)) + 0.01 * np.sum(beta[:-1] ** 2))

    beta = minimize(loss, np.zeros(x.shape[1] + 1), method="BFGS").x
    z = x @ beta[:-1] + beta[-1]
    cutoffs = np.arange(-3.0, 3.01, 0.25)
    costs = [miss_cost * np.mean(z[y == 1] <= c) + np.mean(z[y == 0] > c) for c in cutoffs]
    weights = tuple(round(float(b), 3) for b in beta[: len(FEATURES)])
    return NoMatchRule(
        weights=weights,  # type: ignore[arg-type]
        bias=round(float(beta[-1]), 3),
        cutoff=round(float(cutoffs[int(np.argmin(costs))]), 2),
    )


def _out_of_fold_scope(searcher: Searcher, folds: int = 5) -> dict[str, float]:
    """Each scope example's score by a scope model fitted without it (``folds``-fold)."""
    engine = searcher.engine
    headings = [p.citation.section for p in engine.passages(range(engine.size))]
    texts, labels = scope_examples(headings)
    if not texts or searcher.calibration.scope == ():
        return {}
    vectors = searcher.encode_questions(texts)
    fold = np.random.default_rng(0).permutation(len(texts)) % folds
    out: dict[str, float] = {}
    for f in range(folds):
        weights, bias = fit_scope(vectors[fold != f], labels[fold != f])
        if len(weights) == 0:
            continue
        for i in np.flatnonzero(fold == f):
            out[texts[i]] = float(vectors[i] @ weights + bias)
    return out


def sentence_scorer(searcher: Searcher) -> SentenceScorer:
    """The short answer's scorer with every passage's sentence vectors stored, as a build makes them."""
    inner = searcher.embedder.inner if isinstance(searcher.embedder, _CachedEmbedder) else searcher.embedder
    sentences, offsets = sentences_of(searcher.engine.passages(range(searcher.engine.size)))
    vectors = inner.encode_documents(sentences) if sentences else np.zeros((0, 1), dtype=np.float32)
    return SentenceScorer(inner, stored=SentenceVectors(vectors.astype(np.float16), offsets).of)


def _short_answers(
    searcher: Searcher,
    scorer: SentenceScorer,
    title: str,
    items: Sequence[dict[str, Any]],
    report: Callable[[str], None],
) -> None:
    """How often the short answer's first sentence is one labelled as answering the question: by shared
    words alone, with the model's meaning, and with the question bank as well (as served). Questions
    without a labelled sentence are left out."""
    items = [item for item in items if item.get("answers")]
    variants = (
        ("shared words", False, False),
        ("meaning + shared words", True, False),
        ("meaning + question bank + shared words", True, True),
    )
    counts = {label: 0 for label, _, _ in variants}
    empty = dict.fromkeys(counts, 0)
    for item in items:
        found = searcher.find(item["question"], 5)
        for label, use_meaning, use_bank in variants:
            answer = make_answer(
                item["question"],
                found.hits,
                matched=True,  # the sentence choice is measured here, not the no-match judgement
                model="",
                build_id="",
                terms=searcher.analyzer.terms,
                query_vector=found.question_vector if use_meaning else None,
                scorer=scorer if use_meaning else None,
                bank=searcher.calibration.bank if use_bank else None,
                bank_vector=found.mapped_vector,
            )
            if not answer.sentences:
                empty[label] += 1
            elif answer.sentences[0].text in item["answers"]:
                counts[label] += 1
    n = max(len(items), 1)
    report(f"#### Kurzantwort, {title} ({len(items)} questions with labelled answering sentences)\n")
    report("| sentences chosen by | first sentence answers | no Kurzantwort |")
    report("| --- | --- | --- |")
    for label in counts:
        report(f"| {label} | {counts[label]} of {len(items)} ({counts[label] / n:.3f}) | {empty[label]} |")
    report("")


def _latency(
    searcher: Searcher, scorer: SentenceScorer, queries: Sequence[EvalQuery], report: Callable[[str], None]
) -> None:
    """Per-query cost of each stage (p50/p95 in milliseconds): dense search alone, hybrid search with
    the no-match features, follow-up handling and the extractive answer; three rounds. Query vectors
    are encoded anew (the evaluation's cache is bypassed)."""
    inner = searcher.embedder.inner if isinstance(searcher.embedder, _CachedEmbedder) else searcher.embedder
    searcher = replace(searcher, embedder=inner)
    dense_only = replace(searcher, mode="dense", reranker=None)
    times: dict[str, list[float]] = {name: [] for name in ("dense", "hybrid", "followup", "answer", "total")}
    for query in list(queries) * 3:
        started = time.perf_counter()
        dense_only.search(query.question, 5)
        times["dense"].append(time.perf_counter() - started)

        started = time.perf_counter()
        contextual = contextual_query(query.question, query.history, searcher.analyzer)
        after_followup = time.perf_counter()
        found = _find(searcher, contextual, 5)
        after_search = time.perf_counter()
        make_answer(
            query.question,
            found.hits,
            matched=found.matched,
            model="",
            build_id="",
            searched=contextual.shown,
            search_text=contextual.text,
            terms=searcher.analyzer.terms,
            query_vector=found.question_vector,
            scorer=scorer,
            bank=searcher.calibration.bank,
            bank_vector=found.mapped_vector,
        )
        done = time.perf_counter()
        times["followup"].append(after_followup - started)
        times["hybrid"].append(after_search - after_followup)
        times["answer"].append(done - after_search)
        times["total"].append(done - started)
    labels = {
        "dense": "dense search alone (encode + FAISS)",
        "hybrid": "hybrid search + no-match features",
        "followup": "follow-up handling",
        "answer": "Kurzantwort (stored sentence vectors) + highlights",
        "total": "whole answer (follow-up + hybrid + answer)",
    }
    report(f"#### Latency per query in ms ({len(queries)} questions × 3)\n")
    report("| stage | p50 | p95 |")
    report("| --- | --- | --- |")
    for key, label in labels.items():
        ms = np.array(times[key]) * 1000
        report(f"| {label} | {np.percentile(ms, 50):.2f} | {np.percentile(ms, 95):.2f} |")
    report("")
