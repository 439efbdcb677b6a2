"""Cutting documents into passages of roughly 40–250 words at paragraph or sentence boundaries."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from itertools import groupby

from ..records import Citation, Passage
from ..text import count_words, split_sentences
from .documents import Block, Document

__all__ = ["MAX_WORDS", "MIN_WORDS", "chunk_document", "locate_passages", "passage_id"]

MIN_WORDS = 40
MAX_WORDS = 250


def passage_id(source: str, citation_path: str, text: str) -> str:
    """Stable id from the source file, the place in it and the passage text."""
    digest = hashlib.sha256(f"{source}\x1f{citation_path}\x1f{text}".encode()).hexdigest()
    return digest[:16]


def chunk_document(
    document: Document, *, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS
) -> list[Passage]:
    """Passages of a document; a passage never spans two sections or two pages."""
    return [p for p, _ in locate_passages(document, min_words=min_words, max_words=max_words)]


def locate_passages(
    document: Document, *, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS
) -> list[tuple[Passage, tuple[Block, ...]]]:
    """Each passage of a document with the blocks it was cut from (for showing it in its source)."""
    passages: list[tuple[Passage, tuple[Block, ...]]] = []
    seen: dict[str, int] = {}

    def place(block: Block) -> tuple[str, str, int | None, str | None, bool]:
        return (block.chapter, block.section, block.page, block.page_label, block.ocr)

    for (chapter, section, page, page_label, ocr), group in groupby(document.blocks, key=place):
        blocks = list(group)
        citation = Citation(
            document=document.title,
            chapter=chapter,
            section=section,
            page=page,
            page_label=page_label,
            source=document.source,
            ocr=ocr,
        )
        for piece in _pack_units([b.text for b in blocks], min_words=min_words, max_words=max_words):
            text = _join(piece)
            first, last = piece[0][2], piece[-1][2]
            pid = passage_id(document.source, f"{chapter}\x1f{section}\x1f{page}", text)
            # The same text twice in one place gets distinct, still deterministic ids.
            seen[pid] = seen.get(pid, 0) + 1
            if seen[pid] > 1:
                pid = f"{pid[:13]}-{seen[pid]:02d}"
            passages.append((Passage(id=pid, text=text, citation=citation), tuple(blocks[first : last + 1])))
    return passages


def pack(paragraphs: Iterable[str], *, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> list[str]:
    """Greedily join paragraphs into pieces of at most ``max_words``, splitting long ones by sentence.

    A short last piece is merged into the one before it when both fit, so passages below
    ``min_words`` only remain where a whole section is that short.
    """
    return [_join(piece) for piece in _pack_units(paragraphs, min_words=min_words, max_words=max_words)]


_Unit = tuple[str, bool, int]  # (text, starts a paragraph, index of the paragraph)


def _pack_units(paragraphs: Iterable[str], *, min_words: int, max_words: int) -> list[list[_Unit]]:
    units: list[_Unit] = []
    for index, paragraph in enumerate(paragraphs):
        for i, piece in enumerate(_split_long(paragraph, max_words)):
            units.append((piece, i == 0, index))

    pieces: list[list[_Unit]] = []
    current: list[_Unit] = []
    current_words = 0
    for unit in units:
        n = count_words(unit[0])
        if current and current_words + n > max_words:
            pieces.append(current)
            current, current_words = [], 0
        current.append(unit)
        current_words += n
    if current:
        pieces.append(current)

    if len(pieces) >= 2:
        last_words = sum(count_words(u[0]) for u in pieces[-1])
        before_words = sum(count_words(u[0]) for u in pieces[-2])
        if last_words < min_words:
            if last_words + before_words <= max_words:
                pieces[-2].extend(pieces.pop())
            else:
                _rebalance(pieces[-2], pieces[-1], min_words)
    return [piece for piece in pieces if piece]


def _rebalance(before: list[_Unit], last: list[_Unit], min_words: int) -> None:
    """Move trailing units from ``before`` into ``last`` until ``last`` is long enough."""
    while len(before) > 1 and sum(count_words(u[0]) for u in last) < min_words:
        last.insert(0, before.pop())


def _join(piece: list[_Unit]) -> str:
    out = ""
    for text, starts_paragraph, _ in piece:
        if not out:
            out = text
        else:
            out += ("\n\n" if starts_paragraph else " ") + text
    return out


def _split_long(paragraph: str, max_words: int) -> list[str]:
    if count_words(paragraph) <= max_words:
        return [paragraph]
    out: list[str] = []
    for sentence in split_sentences(paragraph):
        if count_words(sentence) <= max_words:
            out.append(sentence)
            continue
        # A run-on "sentence" (a list, a table row dump): cut between words, never inside one.
        tokens = sentence.split()
        step = max_words
        while tokens:
            head, tokens = tokens[:step], tokens[step:]
            out.append(" ".join(head))
    return out
