"""Normalising text: NFC, soft hyphens and ligatures gone, control characters removed, spaces collapsed,
surrogate pairs joined."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise"]

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
_SURROGATE = re.compile("[\ud800-\udfff]")


def normalise(text: str) -> str:
    """NFC, no soft hyphens, ligatures spelled out, control characters gone, spaces collapsed. A
    character outside the Basic Multilingual Plane that arrives as two UTF-16 halves (PDFium's text
    of a page counts "𝜀" in "LaTeX 2𝜀" as two characters) becomes one; a half without its partner
    is dropped, since no encoder can write it."""
    if _SURROGATE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    text = unicodedata.normalize("NFC", text)
    text = text.replace(_SOFT_HYPHEN, "")
    for ligature, letters in _LIGATURES.items():
        text = text.replace(ligature, letters)
    text = _CONTROL.sub("", text)
    lines = [
        _SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    return "\n".join(lines).strip()
