"""Whether the best hits answer a question: the fitted no-match rule and its calibration.

The build measures the calibration (``calibrate``: how questions far from the corpus score with the
model) and stores it in the release; the server reads it back and judges each question with the rule
for its kind of model. Both sides import this module, so the build does not depend on the query side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..embed.models import Embedder
from .adapter import QueryAdapter, fit_adapter, shipped_fitting_items
from .bank import QuestionBank, build_bank

log = logging.getLogger(__name__)

__all__ = [
    "FEATURES",
    "GAP_RANK",
    "NO_MATCH_RULES",
    "OFF_TOPIC_PROBES",
    "Calibration",
    "NoMatchRule",
    "calibrate",
    "fit_scope",
    "rule_for",
    "scope_examples",
]

# Questions far from the guide's subject. Their best scores against a corpus show how high an
# unrelated question scores with a given model: the scale the no-match features are measured on.
OFF_TOPIC_PROBES = (
    "Wie wird das Wetter morgen?",
    "Rezept für Apfelkuchen",
    "Wer hat das Fußballspiel gestern gewonnen?",
    "Wie installiere ich einen Drucker unter Linux?",
    "Was kostet ein Flug nach Mallorca?",
    "Welche Symptome hat eine Grippe?",
    "Wie lange muss ein Ei kochen?",
    "Wann beginnt die nächste Sonnenfinsternis?",
    "Wie pflege ich eine Orchidee richtig?",
    "Was ist die Hauptstadt von Australien?",
    "Wie wechsle ich einen Fahrradreifen?",
    "Welcher Film läuft heute im Kino?",
    "Wie funktioniert ein Verbrennungsmotor?",
    "Welche Aktien soll ich kaufen?",
    "Wie viele Kalorien hat eine Banane?",
    "Wie lerne ich schnell Gitarre spielen?",
    "Was frisst ein Hamster?",
    "Wie hoch ist der Mount Everest?",
    "Wie backe ich Brot ohne Hefe?",
    "Welche Farbe passt zu einem blauen Sofa?",
)


@dataclass(frozen=True)
class Calibration:
    """How questions far from the corpus score with this model against these passages: the mean and
    spread of the off-topic probes' best cosine, and their mean gap between the best and the tenth-best
    cosine. The no-match features are measured against it, so one fitted rule reads the same on any
    corpus and (within a model family) any model.

    ``scope`` and ``scope_bias`` are a linear model over a question's vector: positive for questions of
    the kind the sources answer, negative for near-domain ones they do not (see ``fit_scope``). Empty
    in releases built before it existed; their questions then score 0 on that feature.

    ``adapter`` maps the model's question vectors before anything else uses them (``adapter``
    module); None where the corpus lacks the sections the shipped fitting sets name, and in releases
    built before it existed. The probes' statistics and the scope model are measured on mapped
    vectors, as questions are searched with them.

    ``bank``: the question bank's questions for the corpus's sentences, mapped like questions (``bank``
    module); None where the corpus holds none of its sentences, and in releases built before it."""

    dense_mean: float
    dense_std: float
    dense_gap: float
    scope: tuple[float, ...] = ()
    scope_bias: float = 0.0
    adapter: QueryAdapter | None = None
    bank: QuestionBank | None = None

    def questions(self, vectors: np.ndarray) -> np.ndarray:
        """The model's question vectors as this release searches with them."""
        return vectors if self.adapter is None else self.adapter.apply(vectors)

    def scope_score(self, vector: np.ndarray | None) -> float:
        if not self.scope or vector is None or np.asarray(vector).size != len(self.scope):
            return 0.0
        return float(np.dot(np.asarray(vector, dtype=np.float64).reshape(-1), self.scope) + self.scope_bias)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dense_mean": self.dense_mean,
            "dense_std": self.dense_std,
            "dense_gap": self.dense_gap,
        }
        if self.scope:
            out["scope"] = [round(w, 6) for w in self.scope]
            out["scope_bias"] = round(self.scope_bias, 6)
        if self.adapter is not None:
            out["adapter"] = self.adapter.to_dict()
        if self.bank is not None:
            out["bank"] = self.bank.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            float(data["dense_mean"]),
            float(data["dense_std"]),
            float(data["dense_gap"]),
            tuple(float(w) for w in data.get("scope", ())),
            float(data.get("scope_bias", 0.0)),
            QueryAdapter.from_dict(data["adapter"]) if data.get("adapter") else None,
            _bank(data.get("bank")),
        )


def _bank(data: Any) -> QuestionBank | None:
    """A release's question bank; a damaged one is left out (logged): the short answer is then chosen
    without it, and the release still serves."""
    if not data:
        return None
    try:
        return QuestionBank.from_dict(data)
    except ValueError as error:
        log.warning("the release's question bank is left out, short answers go without it: %s", error)
        return None


def calibrate(
    embedder: Embedder,
    passage_vectors: np.ndarray,
    probes: Iterable[str] = OFF_TOPIC_PROBES,
    *,
    headings: Sequence[str] = (),
    encode_examples: Callable[[list[str]], np.ndarray] | None = None,
    labelled: tuple[Sequence[str], Sequence[Sequence[int]]] | None = None,
    asked: tuple[Sequence[str], Sequence[str]] | None = None,
) -> Calibration:
    """The query adapter fitted on ``labelled`` questions (each with the rows of ``passage_vectors``
    that answer it; see ``adapter.adapter_examples``), the off-topic probes' statistics for
    ``passage_vectors``, and the scope model fitted with this model on the shipped question sets and
    the corpus's own ``headings`` (see ``Calibration``); ``encode_examples`` encodes the example
    questions (the build's cached encoder; by default the model's ``encode_queries``). The question
    bank holds ``asked``: questions, each with the corpus sentence it was written for (see
    ``bank.bank_examples``)."""
    encode = encode_examples or embedder.encode_queries
    adapter = None
    if labelled is not None and len(labelled[0]):
        adapter = fit_adapter(encode(list(labelled[0])), labelled[1], passage_vectors)

    def mapped(vectors: np.ndarray) -> np.ndarray:
        return vectors if adapter is None else adapter.apply(vectors)

    probes = list(probes)
    scores = mapped(embedder.encode_queries(probes)) @ passage_vectors.T
    depth = min(GAP_RANK, scores.shape[1]) - 1
    ranked = -np.sort(-scores, axis=1)
    best = ranked[:, 0]
    texts, labels = scope_examples(headings, probes)
    weights, bias = fit_scope(mapped(encode(texts)), labels) if len(texts) else ((), 0.0)
    bank = None
    if asked is not None and len(asked[0]):
        bank = build_bank(mapped(encode(list(asked[0]))), asked[1])
    return Calibration(
        dense_mean=float(best.mean()),
        dense_std=max(float(best.std()), 1e-3),
        dense_gap=max(float((best - ranked[:, depth]).mean()), 1e-4),
        scope=tuple(float(w) for w in weights),
        scope_bias=float(bias),
        adapter=adapter,
        bank=bank,
    )


#: At most this many of a corpus's section headings join the scope model's examples of answerable
#: questions (spread evenly over the corpus).
SCOPE_HEADINGS = 300
#: L2 penalty of the scope model (chosen by cross-validation on the fitting sets, docs/evaluation.md).
SCOPE_L2 = 0.1
# The shipped sets the scope model learns from: (file in eval/, answerable). Only fitting sets and
# fitting halves: the held-out sets stay unseen.
SCOPE_SETS = (
    ("praxisfragen.jsonl", True),
    ("alltagsfragen.jsonl", True),
    ("blind2/fragen.jsonl", True),
    ("fremdfragen.jsonl", False),
    ("fremdfragen_nah.jsonl", False),
    ("blind2/fremdfragen.jsonl", False),
)


def scope_examples(
    headings: Sequence[str] = (), probes: Sequence[str] = OFF_TOPIC_PROBES
) -> tuple[list[str], np.ndarray]:
    """Questions labelled answerable (1) or not (0) for the scope model: the shipped fitting sets, the
    off-topic probes, and up to ``SCOPE_HEADINGS`` of the corpus's section headings (answerable: they
    name what the sources cover, so the model also learns the scope of documents added later)."""
    texts: list[str] = []
    labels: list[float] = []
    for name, answerable in SCOPE_SETS:
        for item in shipped_fitting_items(name):
            if answerable and not item.get("relevant"):
                continue
            texts.append(item["question"])
            labels.append(1.0 if answerable else 0.0)
    texts += probes
    labels += [0.0] * len(probes)
    unique = list(dict.fromkeys(h.strip() for h in headings if h.strip()))
    step = max(1, len(unique) // SCOPE_HEADINGS)
    chosen = unique[::step][:SCOPE_HEADINGS]
    texts += chosen
    labels += [1.0] * len(chosen)
    return texts, np.asarray(labels, dtype=np.float64)


def fit_scope(vectors: np.ndarray, labels: np.ndarray, l2: float = SCOPE_L2) -> tuple[np.ndarray, float]:
    """A logistic regression of the labels on the vectors (both classes weighted equally, L2 penalty):
    its weights and bias. Without both classes, no model (empty weights)."""
    from scipy.optimize import minimize

    x = np.asarray(vectors, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(y) == 0 or y.min() == y.max():
        return np.zeros(0), 0.0
    w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ beta[:-1] + beta[-1]
        p = 1 / (1 + np.exp(-z))
        g = w * (p - y)
        value = float(np.sum(w * (np.logaddexp(0, z) - y * z)) + l2 * np.sum(beta[:-1] ** 2))
        return value, np.concatenate([x.T @ g + 2 * l2 * beta[:-1], [g.sum()]])

    beta = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return beta[:-1], float(beta[-1])


#: The dense gap is measured between the best and this rank's cosine.
GAP_RANK = 10
FEATURES = ("dense", "dense_gap", "coverage", "known_words", "scope")


@dataclass(frozen=True)
class NoMatchRule:
    """Whether the best hits answer a question: a logistic score over five features, fitted on labelled
    answerable and unanswerable questions (``assistant eval --fit-no-match``), and a cut-off chosen on
    the same questions (3 × false "no match" + false answers, smallest).

    Features, for a question and its hits:
    - ``dense``: the best cosine over all passages, in standard deviations above the off-topic probes';
    - ``dense_gap``: best minus tenth-best cosine, relative to the probes' gap (a clear winner or a
      plateau of equally vague passages);
    - ``coverage``: the idf-weighted share of the question's terms found in the top three passages;
    - ``known_words``: the idf-weighted share of the question's words the corpus uses at all, or
      through a synonym (a question about "Wohngeld" in a corpus that never says it is about
      something else);
    - ``scope``: the calibration's scope model on the question's vector (near-domain questions such as
      benefits, tenancy or labour law score low, even where they share the domain's words).
    """

    weights: tuple[float, float, float, float, float]
    bias: float
    cutoff: float

    def score(self, features: Sequence[float]) -> float:
        return float(np.dot(self.weights, features) + self.bias)

    def matches(self, features: Sequence[float]) -> bool:
        return self.score(features) > self.cutoff


# Fitted by ``assistant eval --fit-no-match`` on the team's sets and the fitting halves of the second
# blind set (answerable: Praxisfragen, Alltagsfragen, Folgefragen and both halves' fitting parts;
# unanswerable: Fremdfragen, Fremdfragen (nah), Fremdfragen 2 (fitting half)); checked on the held-out
# sets (docs/evaluation.md).
NO_MATCH_RULES = {
    "transformer": NoMatchRule(weights=(-0.018, 1.794, -1.494, 5.196, 2.396), bias=-4.623, cutoff=-0.5),
    "static": NoMatchRule(weights=(0.213, -0.252, 3.644, 4.224, 1.191), bias=-3.684, cutoff=-1.0),
}


def rule_for(embedder: Embedder) -> NoMatchRule:
    """The fitted rule for the embedder's kind of model: static token vectors (the corpus-built fallback
    or another ``StaticEmbedding`` model) or a transformer."""
    model = embedder.model
    first = next(iter(model), None) if hasattr(model, "__iter__") else None
    static = type(model).__name__ == "StaticEncoder" or type(first).__name__ == "StaticEmbedding"
    return NO_MATCH_RULES["static" if static else "transformer"]
