"""Deterministic synthetic corpora of any size for the scale benchmark (not German prose, but German words).

Run: .venv/bin/python bench/synthetic_corpus.py OUT_DIR --passages 10000 [--seed 7]

The words are those of the shipped corpus, so the German analyser, the stemmer and the compound splitter
see real German words. Each passage is one Markdown section of 60–130 words: a fifth are the specific
words of its subject (ten passages share a subject, whose dozen words are compounds of two corpus nouns,
so the vocabulary grows with the corpus as a German one does), a third come from its topic (a
Zipf-weighted set of 300 words) and the rest follow the corpus-wide word frequencies. Queries name a
random passage's subject words and two more of its words. A bag of words drawn only by topic made every
passage of a topic equally near a query (top-1 and top-200 cosine within 0.03), so "nearest" meant noise
and no index could find the same ten twice; subjects give the neighbourhoods real text has.
Files hold 1,000 sections each. The same seed and size always give byte-identical files.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

import numpy as np

from assistant.config import bundled_dir

__all__ = ["SECTIONS_PER_FILE", "queries", "vocabulary", "write_corpus"]

SECTIONS_PER_FILE = 1000
_WORD = re.compile(r"[A-Za-zÄÖÜäöüß]{2,}")
_TOPIC_WORDS = 300


def vocabulary() -> tuple[list[str], np.ndarray]:
    """The shipped corpus's words (first seen spelling) and their frequencies, most frequent first."""
    counts: Counter[str] = Counter()
    for file in sorted(bundled_dir("corpus").glob("*.md")):
        counts.update(_WORD.findall(file.read_text(encoding="utf-8")))
    words = [w for w, _ in counts.most_common()]
    freq = np.array([counts[w] for w in words], dtype=np.float64)
    return words, freq / freq.sum()


class _Topics:
    """Topics (300 frequent-ish words each) and, within them, subjects: groups of about ten passages
    that share a dozen specific compound words, the way a few passages of a guide share "Verfügungsfonds"
    or "Quartiersbeirat". Compounds are made by joining two nouns of the shipped corpus, so the
    vocabulary grows with the corpus as a real German one does."""

    def __init__(self, passages: int, seed: int) -> None:
        self.words, self.background = vocabulary()
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.nouns = [w for w in self.words if w[:1].isupper() and len(w) >= 4]
        # Topic words come from below the 200 most frequent words (those are the function words).
        pool = np.arange(200, len(self.words))
        self.members = [
            rng.choice(pool, size=_TOPIC_WORDS, replace=False) for _ in range(topic_count(passages))
        ]
        zipf = 1.0 / np.arange(1, _TOPIC_WORDS + 1)
        self.weights = zipf / zipf.sum()

    def subject(self, number: int) -> tuple[int, list[str]]:
        """The topic of subject ``number`` and its specific words."""
        rng = np.random.default_rng([self.seed, 2, number])
        topic = int(rng.integers(len(self.members)))
        pairs = rng.integers(len(self.nouns), size=(_SUBJECT_WORDS, 2))
        return topic, [self.nouns[a] + self.nouns[b].lower() for a, b in pairs]

    def passage(self, number: int) -> tuple[str, list[str]]:
        """Heading and words of passage ``number`` (each passage has its own random stream)."""
        rng = np.random.default_rng([self.seed, 1, number])
        subject = number // _SUBJECT_SIZE
        topic, specific = self.subject(subject)
        length = int(rng.integers(60, 131))
        kind = rng.random(length)
        topic_words = self.members[topic][rng.choice(_TOPIC_WORDS, size=length, p=self.weights)]
        background = rng.choice(len(self.words), size=length, p=self.background)
        own = rng.choice(len(specific), size=length)
        words = [
            specific[own[i]]
            if kind[i] < 0.2
            else self.words[topic_words[i] if kind[i] < 0.55 else background[i]]
            for i in range(length)
        ]
        return f"Abschnitt {number + 1} (Thema {topic + 1}, Gegenstand {subject + 1})", words


_SUBJECT_SIZE = 10
_SUBJECT_WORDS = 12


def _sentence(words: list[str]) -> str:
    joined = " ".join(words)
    return joined[:1].upper() + joined[1:] + "."


def topic_count(passages: int) -> int:
    return max(20, passages // 1000)


def write_corpus(folder: Path, passages: int, *, seed: int = 7) -> list[Path]:
    """Write ``passages`` sections into ``folder`` (files of 1,000 sections); returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    topics = _Topics(passages, seed)
    files = []
    for number, start in enumerate(range(0, passages, SECTIONS_PER_FILE)):
        lines = [f"# Synthetisches Dokument {number + 1}", ""]
        for section in range(start, min(passages, start + SECTIONS_PER_FILE)):
            heading, words = topics.passage(section)
            text = " ".join(_sentence(words[i : i + 12]) for i in range(0, len(words), 12))
            lines += [f"## {heading}", "", text, ""]
        file = folder / f"synthetisch-{number + 1:05d}.md"
        file.write_text("\n".join(lines), encoding="utf-8")
        files.append(file)
    return files


def queries(passages: int, count: int, *, seed: int = 7) -> list[str]:
    """Question-like strings about random passages of the corpus of that size: up to three of the
    passage's subject words and two other words of it, as a practitioner names a subject in context."""
    topics = _Topics(passages, seed)
    rng = np.random.default_rng([seed, 3])
    out = []
    for number in rng.integers(passages, size=count):
        _, words = topics.passage(int(number))
        _, specific = topics.subject(int(number) // _SUBJECT_SIZE)
        present = sorted(set(words) & set(specific))
        named = list(rng.choice(present, size=min(3, len(present)), replace=False))
        context = list(rng.choice([w for w in words if w not in specific], size=2, replace=False))
        out.append("Was gilt für " + " ".join([*named, *context]) + "?")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    files = write_corpus(args.out, args.passages, seed=args.seed)
    print(f"{args.passages} sections in {len(files)} files under {args.out}")


if __name__ == "__main__":
    main()
