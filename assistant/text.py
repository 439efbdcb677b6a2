"""German text helpers: normalisation, sentence splitting and word counting (pure functions)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["count_words", "normalise", "split_sentences", "words"]

_SOFT_HYPHEN = "\u00ad"
_LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb06": "st",
}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)

# Abbreviations after which a full stop does not end a German sentence.
_ABBREVIATIONS = frozenset(
    """z.b b d.h u.a bzw ca vgl usw etc s nr abs art dr prof ggf evtl inkl sog bspw u.ä o.ä z.t
    i.d.r d.i mio mrd gem lt str tel abb kap ff f zzgl jh jhd v.a u.v.m e.v""".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”“»)]*\s+(?=[\"„“«(]?[A-ZÄÖÜ0-9§])")


def normalise(text: str) -> str:
    """NFC, no soft hyphens, ligatures spelled out, control characters gone, spaces collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace(_SOFT_HYPHEN, "")
    for ligature, letters in _LIGATURES.items():
        text = text.replace(ligature, letters)
    text = _CONTROL.sub("", text)
    lines = [
        _SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    return "\n".join(lines).strip()


def words(text: str) -> list[str]:
    """The words of a text (letters and digits, joined by inner hyphens or apostrophes)."""
    return _WORD.findall(text)


def count_words(text: str) -> int:
    return len(words(text))


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
