"""A question bank: questions written for single sentences of the shipped corpus, so that the short
answer can tell which of a passage's sentences answers a question.

The model places a question ("Ab wann gibt es das Programm?") about as near to every sentence of the
passage that answers it, because sentences and questions are worded so differently. Two questions that
ask the same thing, however, lie close together in the model's space. So each build encodes the bank's
questions (``BANK_FILE``: written while reading the corpus, sentence by sentence, in everyday words), and
the short answer reads, for each candidate sentence, how close the asked question comes to the nearest
bank question written for that sentence (``QuestionBank.closeness``).

The bank also holds everyday questions written from a list of topics without the corpus in view, then
labelled with every sentence that answers them (``LABELLED_SETS``: the Lernfragen, and the blind sets'
fitting halves): they are worded as people ask, which the bank's own questions are less. The held-out
halves stay unseen, and so does a fitting question worded like one of theirs.

Only sentences of the corpus have bank questions; a build keeps the bank's entries whose sentence the
corpus still holds word for word (an edited sentence loses its questions, see
``tests/retrieval/test_bank.py``). Documents of one's own have none, and their sentences are chosen as
before. The bank is never searched for passages, and none of its questions is in a held-out set (see
``tests/retrieval/test_bank.py``)."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..records import Passage
from ..text import split_sentences
from .adapter import shipped_fitting_items, shipped_items

__all__ = ["BANK_FILE", "LABELLED_SETS", "QuestionBank", "bank_examples", "build_bank", "normalised"]

#: The shipped bank, in ``eval/``: one question per line with the corpus sentences that answer it.
BANK_FILE = "satzfragen/fragen.jsonl"
#: Sets of everyday questions labelled with their answering sentences (``answers``) whose fitting items
#: join the bank: the blind sets' fitting halves (their held-out halves stay unseen) and the Lernfragen,
#: written for the bank and all fitting (docs/evaluation.md).
LABELLED_SETS = ("blind2/fragen.jsonl", "blind3/fragen.jsonl", "lernfragen/fragen.jsonl")
#: How sharply ``closeness`` follows a sentence's nearest bank question (t; chosen with the short
#: answer's weights, see ``answer._BANK_WEIGHT``: t = 5, 7, 10, 20 give 470, 480, 471, 462 of 626).
SOFTNESS = 7.0
#: The largest vector dimension a stored bank may have (the widest sentence-transformers models).
MAX_DIMENSION = 4096


@dataclass(frozen=True, eq=False)
class QuestionBank:
    """``vectors[i]``: bank question i as the release searches with it (mapped by the query adapter);
    ``owners[i]``: the index in ``sentences`` of the sentence it was written for."""

    vectors: np.ndarray  # float16, (questions, dimension)
    owners: np.ndarray  # int32, (questions,)
    sentences: tuple[str, ...]
    _rows: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = np.argsort(self.owners, kind="stable")
        bounds = np.searchsorted(self.owners[order], np.arange(len(self.sentences) + 1))
        rows = {s: order[bounds[i] : bounds[i + 1]] for i, s in enumerate(self.sentences)}
        object.__setattr__(self, "_rows", rows)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.vectors)

    def closeness(self, query_vector: np.ndarray, sentences: Sequence[str]) -> np.ndarray | None:
        """Per sentence, how close the question comes to the bank questions written for it: a soft
        maximum of their cosines (``log Σ exp(t·cos) / t``, t = ``SOFTNESS``), so that a sentence
        several bank questions lead to counts more than one with a single one (ten equally close ones
        add log 10 / t, about 0.33); NaN for a sentence without any. None where no sentence has one (or
        the vector is another model's)."""
        query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if query.size != self.dimension:
            return None
        rows = [self._rows.get(s) for s in sentences]
        if not any(r is not None and len(r) for r in rows):
            return None
        out = np.full(len(sentences), np.nan)
        for i, r in enumerate(rows):
            if r is not None and len(r):
                cosines = self.vectors[r].astype(np.float64) @ query
                top = float(cosines.max())
                out[i] = top + float(np.log(np.exp(SOFTNESS * (cosines - top)).sum())) / SOFTNESS
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "vectors": _pack(self.vectors.astype("<f2")),
            "owners": _pack(self.owners.astype("<i4")),
            "sentences": list(self.sentences),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionBank:
        """The bank as ``to_dict`` stored it; ValueError for anything else (types, sizes, values)."""
        try:
            vectors = _unpack(data["vectors"], "<f2", 2)
            owners = _unpack(data["owners"], "<i4", 1)
            sentences = data["sentences"]
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            raise ValueError(f"question bank: unreadable ({error})") from None
        if not isinstance(sentences, list) or not all(isinstance(x, str) for x in sentences):
            raise ValueError("question bank: sentences must be a list of texts")
        if len(set(sentences)) != len(sentences):
            raise ValueError("question bank: a sentence is listed twice")
        if not 0 < vectors.shape[1] <= MAX_DIMENSION or owners.shape != (len(vectors),):
            raise ValueError("question bank: vectors and owners do not fit together")
        if len(owners) and (int(owners.min()) < 0 or int(owners.max()) >= len(sentences)):
            raise ValueError("question bank: a question names no sentence")
        if not np.isfinite(vectors).all():
            raise ValueError("question bank: vectors must be finite")
        return cls(vectors, owners, tuple(sentences))


def bank_examples(passages: Iterable[Passage]) -> tuple[list[str], list[str]]:
    """The shipped bank's questions and the labelled fitting questions of ``LABELLED_SETS`` that name a
    sentence of ``passages`` (as ``split_sentences`` cuts them), each with that sentence (a question
    that names two sentences appears twice; a question and sentence named twice count once). A fitting
    question worded like a question of a held-out half (lower-cased, without punctuation) is left out:
    the held-out halves stay unseen. Empty where none is shipped or the passages hold none of their
    sentences."""
    known = {sentence for passage in passages for sentence in split_sentences(passage.text)}
    items = [(item["question"], item["sentences"]) for item in shipped_items(BANK_FILE)]
    held_out = {
        normalised(item["question"])
        for name in LABELLED_SETS
        for item in shipped_items(name)
        if item.get("split") == "test"
    }
    for name in LABELLED_SETS:
        items.extend(
            (item["question"], item.get("answers") or [])
            for item in shipped_fitting_items(name)
            if normalised(item["question"]) not in held_out
        )
    pairs = dict.fromkeys(
        (question, sentence) for question, sentences in items for sentence in sentences if sentence in known
    )
    return [question for question, _ in pairs], [sentence for _, sentence in pairs]


def normalised(question: str) -> str:
    """A question as compared with others: lower-cased, its words separated by single spaces."""
    return " ".join(re.findall(r"\w+", question.lower()))


def build_bank(questions: np.ndarray, owners: Sequence[str]) -> QuestionBank | None:
    """The bank of these (already mapped) question vectors, each written for the sentence ``owners[i]``;
    None without questions."""
    if not len(owners):
        return None
    sentences = tuple(dict.fromkeys(owners))
    index = {s: i for i, s in enumerate(sentences)}
    return QuestionBank(
        np.asarray(questions, dtype=np.float16),
        np.array([index[s] for s in owners], dtype=np.int32),
        sentences,
    )


def _pack(array: np.ndarray) -> dict[str, Any]:
    data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
    return {"shape": list(array.shape), "data": data}


def _unpack(entry: dict[str, Any], dtype: str, ndim: int) -> np.ndarray:
    """An array of ``dtype`` (fixed by the reader, never by the data) and ``ndim`` dimensions; its bytes
    must be exactly what its shape needs (nothing is allocated for a shape alone)."""
    shape = tuple(int(n) for n in entry["shape"])
    if len(shape) != ndim or any(n < 0 for n in shape):
        raise ValueError(f"shape {shape}")
    raw = base64.b64decode(entry["data"], validate=True)
    if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
        raise ValueError("size does not match the shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)
