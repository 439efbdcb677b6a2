"""A query adapter: a small learnt correction of the model's question vectors towards the passages that
answer them, fitted by each build on the shipped fitting sets.

The model places an everyday question ("Wer kümmert sich um die Öffentlichkeitsarbeit?") near passages
that share its wording rather than near the section that answers it. A low-rank linear map added to the
question's vector, ``q + (q V) Uᵀ`` (normalised), learns from labelled questions which directions of
the model's space matter for this corpus. Passages and their stored vectors are untouched; only
questions are mapped, at the cost of two small matrix products per question.

It is fitted on the fitting sets and fitting halves only (``ADAPTER_SETS``), whose labels name sections
of the shipped corpus; a corpus without those sections gets no adapter. Rank, penalty, temperature and
steps were chosen by five-fold cross-validation on those sets (docs/evaluation.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..records import Passage

__all__ = [
    "ADAPTER_SETS",
    "QueryAdapter",
    "adapter_examples",
    "fit_adapter",
    "shipped_fitting_items",
    "shipped_items",
]

#: Labelled questions the adapter learns from: only fitting sets and fitting halves (the held-out sets
#: stay unseen), the same ones the scope model learns from.
ADAPTER_SETS = ("praxisfragen.jsonl", "alltagsfragen.jsonl", "blind2/fragen.jsonl")
#: Fewer labelled questions than this that name passages of the corpus: no adapter.
MIN_EXAMPLES = 50
RANK = 32
L2 = 0.03
TEMPERATURE = 30.0
STEPS = 200
LEARNING_RATE = 0.01
#: Each question is contrasted with its nearest passages by the model alone (and its answers), so the
#: cost of fitting does not grow with the corpus.
CANDIDATES = 200


@dataclass(frozen=True, eq=False)
class QueryAdapter:
    """``apply``: question vectors (n, d) → ``q + (q V) Uᵀ``, each normalised to length 1."""

    u: np.ndarray  # (d, rank)
    v: np.ndarray  # (d, rank)

    @property
    def dimension(self) -> int:
        return int(self.u.shape[0])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        x = np.asarray(vectors, dtype=np.float32)
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[1] != self.dimension:  # another model's vectors: left as they are
            return x
        mapped = flat + (flat @ self.v) @ self.u.T
        norms = np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
        return (mapped / norms).astype(np.float32).reshape(x.shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "u": np.round(self.u, 6).tolist(),
            "v": np.round(self.v, 6).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueryAdapter:
        u = np.asarray(data["u"], dtype=np.float32)
        v = np.asarray(data["v"], dtype=np.float32)
        if u.ndim != 2 or u.shape != v.shape:
            raise ValueError("query adapter: u and v must be matrices of the same shape")
        return cls(u, v)


def shipped_items(name: str) -> Iterator[dict[str, Any]]:
    """Every item of one shipped set in ``eval/`` (one JSON object per line); nothing where the set is
    not shipped."""
    from ..config import bundled_dir

    path = bundled_dir("eval") / name
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def shipped_fitting_items(name: str) -> Iterator[dict[str, Any]]:
    """The items of one shipped set in ``eval/`` that may be learnt from: every item of a fitting set,
    the fitting half of a split one (held-out halves stay unseen); nothing where the set is not shipped."""
    return (item for item in shipped_items(name) if item.get("split", "fit") == "fit")


def adapter_examples(passages: Sequence[Passage]) -> tuple[list[str], list[list[int]]]:
    """The shipped fitting questions whose labelled sections are all in ``passages``, each with the
    rows of the passages that answer it. Questions labelled with a section the corpus lacks (another
    corpus, or a section renamed since) are left out."""
    rows: dict[tuple[str, str], list[int]] = {}
    for row, passage in enumerate(passages):
        rows.setdefault((passage.citation.source, passage.citation.section), []).append(row)
    questions: list[str] = []
    answers: list[list[int]] = []
    for name in ADAPTER_SETS:
        for item in shipped_fitting_items(name):
            labels = item.get("relevant") or []
            if not labels:
                continue
            found = [rows.get((label["source"], label["section"])) for label in labels]
            if any(f is None for f in found):
                continue
            questions.append(item["question"])
            answers.append(sorted({r for f in found if f for r in f}))
    return questions, answers


def fit_adapter(
    questions: np.ndarray,
    answers: Sequence[Sequence[int]],
    passages: np.ndarray,
    *,
    rank: int = RANK,
    l2: float = L2,
    temperature: float = TEMPERATURE,
    steps: int = STEPS,
    seed: int = 0,
) -> QueryAdapter | None:
    """The adapter that ranks each question's ``answers`` (rows of ``passages``) first: softmax over
    the question's nearest ``CANDIDATES`` passages, mean over questions, L2 penalty on U and V, ``steps``
    steps of Adam from U = 0 (the identity map). None with fewer than ``MIN_EXAMPLES`` questions."""
    x = np.asarray(questions, dtype=np.float64)
    p = np.asarray(passages, dtype=np.float64)
    if len(x) < MIN_EXAMPLES or len(x) != len(answers) or p.ndim != 2 or x.shape[1] != p.shape[1]:
        return None
    d = x.shape[1]
    candidates, positive = _candidates(x @ p.T, answers, min(CANDIDATES, len(p)))
    # The passages any question is contrasted with, and each candidate's column among them.
    pool, local = np.unique(candidates, return_inverse=True)
    local = local.reshape(candidates.shape)
    pooled = p[pool]
    rng = np.random.default_rng(seed)
    u = np.zeros((d, rank))
    v = rng.standard_normal((d, rank)) * 0.01
    adam = _Adam([u, v])
    n = len(x)
    for _ in range(steps):
        xv = x @ v
        q = x + xv @ u.T
        norm = np.linalg.norm(q, axis=1, keepdims=True)
        unit = q / norm
        z = temperature * np.take_along_axis(unit @ pooled.T, local, axis=1)
        dz = (_softmax(z) - _softmax(np.where(positive, z, -np.inf))) / n
        spread = np.zeros((n, len(pool)))
        np.put_along_axis(spread, local, dz, axis=1)
        dunit = temperature * (spread @ pooled)
        dq = (dunit - np.sum(dunit * unit, axis=1, keepdims=True) * unit) / norm
        gu = dq.T @ xv + 2 * l2 * u
        gv = x.T @ (dq @ u) + 2 * l2 * v
        adam.step([gu, gv])
    return QueryAdapter(u.astype(np.float32), v.astype(np.float32))


def _candidates(
    scores: np.ndarray, answers: Sequence[Sequence[int]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each question's ``k`` passages to contrast (rows of ``scores``: its cosines to every passage):
    its nearest ones, with any answer beyond them put in place of the farthest that are no answer; and
    which of them answer it."""
    candidates = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    positive = np.zeros((len(scores), k), dtype=bool)
    for i, rows in enumerate(answers):
        wanted = list(dict.fromkeys(int(r) for r in rows))[:k]
        there = set(candidates[i].tolist())
        missing = [r for r in wanted if r not in there]
        if missing:
            free = [j for j in range(k - 1, -1, -1) if int(candidates[i, j]) not in wanted]
            candidates[i, free[: len(missing)]] = missing
        positive[i] = np.isin(candidates[i], wanted)
    return candidates, positive


def _softmax(z: np.ndarray) -> np.ndarray:
    top = np.max(z, axis=1, keepdims=True)
    e = np.exp(z - top)
    return e / e.sum(axis=1, keepdims=True)


class _Adam:
    """Adam (Kingma and Ba) over numpy arrays, updated in place."""

    def __init__(self, params: list[np.ndarray], lr: float = LEARNING_RATE) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.s = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        for p, g, m, s in zip(self.params, grads, self.m, self.s, strict=True):
            m *= 0.9
            m += 0.1 * g
            s *= 0.999
            s += 0.001 * g * g
            p -= self.lr * (m / (1 - 0.9**self.t)) / (np.sqrt(s / (1 - 0.999**self.t)) + 1e-8)
