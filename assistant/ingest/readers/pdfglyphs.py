"""Glyphs PDFium cannot map to text: ligatures named the way the Adobe Glyph List names them ("f_i",
"f_f_l") in fonts without a ToUnicode map, as LaTeX writes Linux Libertine and other OpenType-derived
Type 1 fonts. PDFium passes such a glyph's raw code through ("de\\x1bnition", "Vnden" for "finden");
poppler and Acrobat read the glyph name. This reads the names from the fonts' encodings (pypdf) and
puts the ligature's one Unicode character in the code's place, so the text keeps PDFium's indices and
``normalise`` spells the ligature out.

It costs little for the usual PDF: a document's first three pages with text are looked at (every third
character) for characters PDFium reports as unmapped (``FPDFText_HasUnicodeMapError``); only where one
shows and a font names ligatures so are the fonts read and every page looked at.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = ["GlyphNames"]

log = logging.getLogger(__name__)

# Ligatures with a character of their own (Unicode's Alphabetic Presentation Forms).
_LIGATURES = {
    "ff": "\ufb00", "fi": "\ufb01", "fl": "\ufb02", "ffi": "\ufb03", "ffl": "\ufb04",
    "ſt": "\ufb05", "st": "\ufb06",
}  # fmt: skip
_PAGES_TO_JUDGE = 3  # pages with text looked at before a document is judged to map every glyph
_MIN_CHARS = 200  # a page with fewer characters (a title page) does not count towards them
_MAX_FONTS = 2000  # font dictionaries read at most (a hostile file could hold many)


class GlyphNames:
    """One document's unmapped glyphs: ``text(textpage, text)`` gives a page's text with each
    character that PDFium could not map replaced by what its glyph name says, where it says it in one
    character."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.judged = 0  # pages with text looked at while undecided
        self.active: bool | None = None  # None: undecided; False: nothing to do in this document
        self._names: dict[str, dict[int, str]] | None = None  # font name -> code -> character

    def text(self, textpage: object, text: str) -> str:
        if self.active is False or (self.active is None and len(text) < _MIN_CHARS):
            return text
        import pypdfium2.raw as pdfium_c

        raw = textpage.raw  # type: ignore[attr-defined]
        if self.active is None:
            # Judging: every third character is enough to see a ligature that recurs on a page.
            self.judged += 1
            if any(pdfium_c.FPDFText_HasUnicodeMapError(raw, i) for i in range(0, len(text), 3)):
                self.active = True
            elif self.judged >= _PAGES_TO_JUDGE:
                self.active = False
            if not self.active:
                return text
        unmapped = [i for i in range(len(text)) if pdfium_c.FPDFText_HasUnicodeMapError(raw, i)]
        if not unmapped:
            return text
        names = self._font_names()
        if not names:  # its unmapped glyphs are none that a name tells: nothing to do in this document
            self.active = False
            return text
        chars = list(text)
        for i in unmapped:
            codes = names.get(_font_of(raw, i))
            replacement = codes.get(ord(chars[i])) if codes else None
            if replacement:
                chars[i] = replacement
        return "".join(chars)

    def _font_names(self) -> dict[str, dict[int, str]]:
        if self._names is None:
            try:
                self._names = _read_font_names(self.file)
            except Exception as exc:  # pypdf cannot read what PDFium could: keep PDFium's text
                log.info("%s: Glyphnamen nicht lesbar (%s)", self.file.name, exc)
                self._names = {}
        return self._names


def _font_of(raw: object, index: int) -> str:
    import ctypes

    import pypdfium2.raw as pdfium_c

    buffer = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    pdfium_c.FPDFText_GetFontInfo(raw, index, buffer, len(buffer), ctypes.byref(flags))
    return _base_name(buffer.value.decode("latin-1", "replace"))


def _base_name(name: str) -> str:
    """A font's name without its subset tag ("KIUSYG+LinLibertineT" -> "LinLibertineT")."""
    name = name.lstrip("/")
    tag, plus, rest = name.partition("+")
    return rest if plus and len(tag) == 6 and tag.isupper() else name


def _read_font_names(file: Path) -> dict[str, dict[int, str]]:
    """For every font without a ToUnicode map whose encoding names glyphs by the Adobe Glyph List's
    ligature convention: its codes and the one character each stands for."""
    from pypdf import PdfReader

    reader = PdfReader(file, strict=False)
    out: dict[str, dict[int, str]] = {}
    seen: set[object] = set()
    for page in reader.pages:
        resources = page.get("/Resources")
        fonts = resources.get_object().get("/Font") if resources is not None else None
        if fonts is None:
            continue
        for reference in fonts.get_object().values():
            key = getattr(reference, "idnum", id(reference))
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > _MAX_FONTS:
                return out
            font = reference.get_object()
            codes = _ligature_codes(font)
            if codes:
                out.setdefault(_base_name(str(font.get("/BaseFont", ""))), {}).update(codes)
    return out


def _ligature_codes(font: Any) -> dict[int, str]:
    """A font's codes whose glyph names are ligatures (pypdf's font dictionary)."""
    if not hasattr(font, "get") or "/ToUnicode" in font:
        return {}
    reference = font.get("/Encoding")
    encoding: Any = reference.get_object() if reference is not None else None
    differences = encoding.get("/Differences") if hasattr(encoding, "get") else None
    if not differences:
        return {}
    out: dict[int, str] = {}
    code = 0
    for item in differences:
        if isinstance(item, int):
            code = item
            continue
        character = _character(str(item))
        if character:
            out[code] = character
        code += 1
    return out


def _character(name: str) -> str | None:
    """The one character a glyph name stands for by the Adobe Glyph List's rules, for the names PDFium
    does not know: ligatures of components joined by "_" ("f_f_i" -> "ﬃ"), a variant's suffix after
    "." left off."""
    try:
        from pypdf._codecs.adobe_glyphs import adobe_glyphs
    except ImportError:  # pypdf moved its glyph list: PDFium's text stays as it is
        return None
    base = name.lstrip("/").split(".")[0]
    if "_" not in base:
        return None
    parts = []
    for component in base.split("_"):
        letter = adobe_glyphs.get("/" + component)
        if letter is None and component.startswith("uni") and len(component) == 7:
            try:
                letter = chr(int(component[3:], 16))
            except ValueError:
                letter = None
        if not letter:
            return None
        parts.append(letter)
    return _LIGATURES.get("".join(parts))
