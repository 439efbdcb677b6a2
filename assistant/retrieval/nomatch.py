"""Whether the best hits answer a question: the fitted no-match rule and its calibration.

The build measures the calibration (``calibrate``: how questions far from the corpus score with the
model) and stores it in the release; the server reads it back and judges each question with the rule
for its kind of model. Both sides import this module, so the build does not depend on the query side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..embed.models import Embedder

__all__ = [
    "FEATURES",
    "GAP_RANK",
    "NO_MATCH_RULES",
    "OFF_TOPIC_PROBES",
    "Calibration",
    "NoMatchRule",
    "calibrate",
    "rule_for",
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
    corpus and (within a model family) any model."""

    dense_mean: float
    dense_std: float
    dense_gap: float

    def to_dict(self) -> dict[str, float]:
        return {"dense_mean": self.dense_mean, "dense_std": self.dense_std, "dense_gap": self.dense_gap}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(float(data["dense_mean"]), float(data["dense_std"]), float(data["dense_gap"]))


def calibrate(
    embedder: Embedder, passage_vectors: np.ndarray, probes: Iterable[str] = OFF_TOPIC_PROBES
) -> Calibration:
    """The off-topic probes' statistics for ``passage_vectors`` (see ``Calibration``)."""
    scores = embedder.encode_queries(list(probes)) @ passage_vectors.T
    depth = min(GAP_RANK, scores.shape[1]) - 1
    ranked = -np.sort(-scores, axis=1)
    best = ranked[:, 0]
    return Calibration(
        dense_mean=float(best.mean()),
        dense_std=max(float(best.std()), 1e-3),
        dense_gap=max(float((best - ranked[:, depth]).mean()), 1e-4),
    )


#: The dense gap is measured between the best and this rank's cosine.
GAP_RANK = 10
FEATURES = ("dense", "dense_gap", "coverage", "known_words")


@dataclass(frozen=True)
class NoMatchRule:
    """Whether the best hits answer a question: a logistic score over four features, fitted on labelled
    answerable and unanswerable questions (``assistant eval --fit-no-match``), and a cut-off chosen on
    the same questions (3 × false "no match" + false answers, smallest).

    Features, for a question and its hits:
    - ``dense``: the best cosine over all passages, in standard deviations above the off-topic probes';
    - ``dense_gap``: best minus tenth-best cosine, relative to the probes' gap (a clear winner or a
      plateau of equally vague passages);
    - ``coverage``: the idf-weighted share of the question's terms found in the top three passages;
    - ``known_words``: the idf-weighted share of the question's words the corpus uses at all (a
      question about "Wohngeld" in a corpus that never says it is about something else).
    """

    weights: tuple[float, float, float, float]
    bias: float
    cutoff: float

    def score(self, features: Sequence[float]) -> float:
        return float(np.dot(self.weights, features) + self.bias)

    def matches(self, features: Sequence[float]) -> bool:
        return self.score(features) > self.cutoff


# Fitted by ``assistant eval --fit-no-match`` on the team's sets (answerable: Praxisfragen, Folgefragen,
# Alltagsfragen; unanswerable: Fremdfragen, Fremdfragen (nah)); checked on the blind sets (README).
NO_MATCH_RULES = {
    "transformer": NoMatchRule(weights=(1.041, 0.435, 1.589, 2.96), bias=-6.309, cutoff=-1.0),
    "static": NoMatchRule(weights=(0.605, 0.355, 3.925, 3.496), bias=-4.841, cutoff=-0.75),
}


def rule_for(embedder: Embedder) -> NoMatchRule:
    """The fitted rule for the embedder's kind of model: static token vectors (the corpus-built fallback
    or another ``StaticEmbedding`` model) or a transformer."""
    model = embedder.model
    first = next(iter(model), None) if hasattr(model, "__iter__") else None
    static = type(model).__name__ == "StaticEncoder" or type(first).__name__ == "StaticEmbedding"
    return NO_MATCH_RULES["static" if static else "transformer"]
