"""Checks on the shipped corpus that fail on broken structure before it reaches an index."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import pytest

from assistant.config import bundled_dir
from assistant.ingest.chunking import MAX_WORDS, MIN_WORDS, chunk_document
from assistant.ingest.readers import read_document
from assistant.records import Passage
from assistant.text import count_words, words

CORPUS = bundled_dir("corpus")
FILES = sorted(CORPUS.glob("*.md"))
HEADING = re.compile(r"^(#{1,6})(.*)$")


def shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    tokens = [w.lower() for w in words(text)]
    return {tuple(tokens[i : i + n]) for i in range(max(len(tokens) - n + 1, 1))}


@pytest.fixture(scope="module")
def passages() -> list[Passage]:
    return [p for file in FILES for p in chunk_document(read_document(file, CORPUS))]


def test_corpus_is_there() -> None:
    assert len(FILES) >= 6


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_structure_of_each_file(file: Path) -> None:
    text = file.read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: "), "front matter with a title expected"
    lines = text.split("\n")
    headings = [(i, m.group(1), m.group(2)) for i, line in enumerate(lines) if (m := HEADING.match(line))]
    assert sum(1 for _, level, _ in headings if level == "#") == 1, "exactly one # heading"
    for number, level, title in headings:
        assert title.startswith(" ") and title.strip(), f"line {number + 1}: empty or malformed heading"
        # Every heading has text before the next heading of the same or a higher level.
        following = next((n for n, lv, _ in headings if n > number and len(lv) <= len(level)), len(lines))
        body = "\n".join(line for line in lines[number + 1 : following] if not HEADING.match(line))
        assert body.strip(), f"line {number + 1}: heading {title.strip()!r} has no text"
    assert headings[-1][2].strip() == "Quellen", "the file must end with its sources ('## Quellen')"
    sources = [line for line in lines[headings[-1][0] + 1 :] if line.startswith("- ")]
    assert sources, "the 'Quellen' section lists no source"
    document = read_document(file, CORPUS)
    assert "Zusammenfassung" in document.blocks[0].text, "the file must say it is the project's own summary"


def test_passages_within_length_bounds(passages: list[Passage]) -> None:
    outside = [
        f"{p.citation.source}: {p.citation.label} ({count_words(p.text)} Wörter)"
        for p in passages
        if not MIN_WORDS <= count_words(p.text) <= MAX_WORDS
    ]
    assert not outside, outside


def test_no_duplicate_or_near_duplicate_passages(passages: list[Passage]) -> None:
    sets = [(p, shingles(p.text)) for p in passages]
    similar = [
        f"{a.citation.label} ~ {b.citation.label}"
        for (a, sa), (b, sb) in combinations(sets, 2)
        if len(sa & sb) / len(sa | sb) > 0.5
    ]
    assert not similar, similar


def test_no_unmarked_invented_examples(passages: list[Passage]) -> None:
    # Illustrative cases must say so; "Beispiel:" without "(fiktiv)" is the usual slip.
    unmarked = [p.citation.label for p in passages if re.search(r"\bBeispiel:", p.text)]
    assert not unmarked, unmarked
