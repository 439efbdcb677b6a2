"""Splitting German prose into sentences, keeping abbreviations ("z. B.", "Abs.") and ordinals intact."""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

# Abbreviations after which a full stop does not end a German sentence.
_ABBREVIATIONS = frozenset(
    """z.b b d.h u.a bzw ca vgl usw etc s nr abs art dr prof ggf evtl inkl sog bspw u.ä o.ä z.t
    i.d.r d.i mio mrd gem lt str tel abb kap ff f zzgl jh jhd v.a u.v.m e.v""".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”“»)]*\s+(?=[\"„“«(]?[A-ZÄÖÜ0-9§])")


def _ends_with_abbreviation(fragment: str) -> bool:
    tail = fragment.rstrip('"”“»)').rstrip()
    if not tail.endswith("."):
        return False
    # Look at the last token together with an abbreviation spread over spaces ("z. B.", "d. h.").
    tokens = tail[:-1].split()
    if not tokens:
        return False
    last = tokens[-1].lower().strip('(„"')
    if last.isdigit() and len(last) <= 2:  # an ordinal ("am 9. November"), not a year ("seit 1999.")
        return True
    if len(tokens) >= 2:
        joined = (tokens[-2] + last).lower().strip('(„"')
        if joined.rstrip(".") in _ABBREVIATIONS:
            return True
    return last in _ABBREVIATIONS or len(last) == 1 and last.isalpha()


def split_sentences(text: str) -> list[str]:
    """Split German prose into sentences, keeping abbreviations ("z. B.", "Abs.") and ordinals intact."""
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].strip()
        if candidate and not _ends_with_abbreviation(candidate):
            sentences.append(candidate)
            start = match.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences
