"""PDF reading with PDFium (pypdfium2): positioned text runs laid out into blocks in reading order.

pypdf's own text extraction drops the spaces of many LaTeX-made German PDFs (measured on Debian's
German FAQ: "FolgendeSchlüsselmerkmaleunterscheiden…"), so the text comes from PDFium, which keeps
them; pypdf still supplies the printed page labels. ``pdflayout`` turns each page's runs into blocks
(body, headings, margin notes, boxes, footnotes, captions; running heads, footers and contents set
apart); here the kept blocks become paragraphs with chapter and section from the PDF's bookmarks,
or from its printed table of contents where it has none, and line-break hyphenation is joined while
real hyphens stay. Pages without a text layer but with something on them (a scan) are read by text
recognition where the engine is installed (``ocr``); their blocks say so.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import DocumentError
from ...text import normalise
from ..documents import Block, Document, title_from_name
from . import ocr
from .pdfglyphs import GlyphNames
from .pdflayout import KEPT_KINDS, PageLayout, analyse
from .pdflines import LINE_END_HYPHEN, Run

__all__ = ["PdfLayout", "join_lines", "layout_document", "page_paragraphs", "read_layout", "read_pdf"]

_HYPHENS = ("-", "\u2010", "\u00ad", LINE_END_HYPHEN)
# After "Bundes-" these words show a suspended compound ("Bundes- und Landesmittel"), not a broken word.
_CONJUNCTIONS = frozenset({"und", "oder", "bzw", "sowie", "bis", "beziehungsweise"})
# How PDFium writes a hyphen at a line end (U+FFFE in a page's text, 0x02 in bounded text), and the
# soft and typographic hyphens some producers leave there.
_BREAK_MARKS = ("\ufffe", LINE_END_HYPHEN, "\u00ad", "\u2010")
_LONE_HYPHENS = frozenset({"-", "\ufffe", "\u00ad", "\u2010"})
# Words of a page's text; a dash is a word of its own (a space after it may be missing).
# PDFium may run a line-end hyphen (U+FFFE) straight into the next line's word: it ends a word.
_TOKEN = re.compile(r"[–—]|[^\s–—\ufffe]+\ufffe?|\ufffe")
_LEADER_DOTS = re.compile(r"(?:\s*[.·]){5,}\s*")
_SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")
_WORD = re.compile(r"\w+(?:-\w+)*")
_MAX_PATHS = 400  # drawn paths looked at per page for box frames
_HYPHENATION_EVIDENCE = (
    100  # body lines a document needs before its few line-end hyphens say it never hyphenates
)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What a document says about its own words: those it writes within its lines (hyphenated compounds
    included), and whether it breaks words at line ends at all. A document set without hyphenation
    (slides, spreadsheet cells: under 2 % of its body lines end in a hyphen, where hyphenating text has
    4 % and more) keeps every line-end hyphen it has: "nicht-|investive" is "nicht-investive"."""

    words: frozenset[str] = frozenset()
    hyphenates: bool = True

    def __contains__(self, word: object) -> bool:
        return word in self.words


@dataclass(frozen=True, slots=True)
class PdfLayout:
    """Every page of a PDF laid out, with what the document says about itself."""

    title: str
    labels: list[str | None]
    lexicon: Lexicon
    outline: list[tuple[int, float, str, str]]  # (page index, top y, chapter, section)
    pages: list[PageLayout]
    scanned: frozenset[int] = frozenset()  # pages (1-based) with marks but no text layer
    recognised: frozenset[int] = frozenset()  # those of them whose text came from text recognition


def read_layout(file: Path, source: str) -> PdfLayout:
    """Open a PDF and lay out its pages; DocumentError with a reason when it cannot be read."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(file)
    except pdfium.PdfiumError as exc:
        reason = str(exc).lower()
        if "password" in reason:
            raise DocumentError(f"{source}: verschlüsselt, bitte ohne Passwortschutz speichern") from exc
        raise DocumentError(f"{source}: keine lesbare PDF-Datei ({exc})") from exc
    except OSError as exc:
        raise DocumentError(f"{source}: nicht lesbar ({exc.strerror or exc})") from exc
    try:
        labels = _page_labels(file, len(pdf))
        outline = _outline(pdf)
        glyphs = GlyphNames(file)
        contents = [_page_content(pdf[i], glyphs=glyphs) for i in range(len(pdf))]
        scanned = [i + 1 for i, content in enumerate(contents) if not content[2] and _has_marks(pdf[i])]
        title = normalise(pdf.get_metadata_dict().get("Title", "") or "")
    finally:
        pdf.close()
    # Only the scanned pages go to the engine: a page with a text layer keeps its own text.
    read = ocr.read_pages(file, source, scanned, _recognised_content) if scanned else {}
    pages = analyse(read.get(i + 1, content) for i, content in enumerate(contents))
    if not outline:
        outline = _outline_from_contents(pages, labels)
    return PdfLayout(title, labels, lexicon(pages), outline, pages, frozenset(scanned), frozenset(read))


def read_pdf(file: Path, source: str) -> Document:
    return layout_document(read_layout(file, source), file, source)


def layout_document(layout: PdfLayout, file: Path, source: str) -> Document:
    """The document a laid-out PDF makes: its kept paragraphs with chapter, section and page."""
    pages = [page_paragraphs(page, lexicon=layout.lexicon) for page in layout.pages]
    _complete_broken_words(pages, layout.lexicon)
    blocks: list[Block] = []
    for page, paragraphs in zip(layout.pages, pages, strict=True):
        label = layout.labels[page.number - 1]
        for paragraph, top, _ in paragraphs:
            if not paragraph:
                continue
            chapter, section = _place(layout.outline, page.number - 1, top)
            blocks.append(
                Block(
                    paragraph,
                    chapter=chapter,
                    section=section,
                    page=page.number,
                    page_label=label if label and label != str(page.number) else None,
                    ocr=page.number in layout.recognised,
                )
            )
    if not blocks and layout.recognised:
        raise DocumentError(f"{source}: keine Textebene, und die Texterkennung fand keinen Text")
    if not blocks:
        hint = f"; {ocr.INSTALL_HINT}" if layout.scanned else ""
        raise DocumentError(f"{source}: keine Textebene (gescannt?){hint}")
    return Document(title=layout.title or title_from_name(file), source=source, blocks=tuple(blocks))


def _complete_broken_words(pages: list[list[tuple[str, float, str]]], lexicon: Lexicon) -> None:
    """A word hyphenated at the foot of a page ("Groß-" | "buchstaben") is completed on the page
    where it starts, so that neither page's passage holds half a word."""
    for before, after in zip(pages, pages[1:], strict=False):
        last = next((i for i in range(len(before) - 1, -1, -1) if before[i][2] == "body"), None)
        first = next((i for i, p in enumerate(after) if p[2] == "body"), None)
        if last is None or first is None:
            continue
        text, top, kind = before[last]
        following, next_top, next_kind = after[first]
        if not text.endswith(_HYPHENS[:3]) or not following[:1].islower():
            continue
        word, _, rest = following.partition(" ")
        before[last] = (join_lines([text, word], lexicon), top, kind)
        after[first] = (rest, next_top, next_kind)


def lexicon(pages: list[PageLayout]) -> Lexicon:
    """The words a document writes within its lines (not across a line break), hyphenated
    compounds included, and whether it hyphenates: they decide how the words broken at line ends are
    joined. A document hyphenates unless under 2 % of 100 or more body lines end in a hyphen and not
    one of those breaks is a word the document writes unbroken elsewhere ("Ausrich-|tung" beside
    "Ausrichtung": a manual whose many short lines of lists and tables dilute its breaks)."""
    words: set[str] = set()
    body_lines = 0
    breaks: list[tuple[str, str]] = []  # (the word's first part, the next line's first word) in body text
    for page in pages:
        for region in page.regions:
            for line, following in zip(region.lines, [*region.lines[1:], None], strict=True):
                text = line.text
                if text.endswith(_HYPHENS):
                    text = text.rsplit(None, 1)[0] if " " in text.strip() else ""
                words.update(_WORD.findall(text))
                if region.kind != "body":
                    continue
                body_lines += 1
                if line.text.rstrip().endswith(_HYPHENS) and following is not None:
                    stem = re.search(r"(\w+)\W*$", line.text)
                    first = re.match(r"\W*(\w+)", following.text)
                    breaks.append((stem.group(1) if stem else "", first.group(1) if first else ""))
    hyphenates = (
        body_lines < _HYPHENATION_EVIDENCE
        or len(breaks) >= 0.02 * body_lines
        or any(a and b and a + b in words and f"{a}-{b}" not in words for a, b in breaks)
    )
    return Lexicon(frozenset(words), hyphenates)


def page_paragraphs(
    page: PageLayout, kinds: tuple[str, ...] = KEPT_KINDS, lexicon: Lexicon = Lexicon()
) -> list[tuple[str, float, str]]:
    """(text, top y, kind) of a page's paragraphs in reading order; a body paragraph cut by a column
    or frame break ("… im Anzeige-" | "modus …") is joined again."""
    out: list[tuple[str, float, str]] = []
    for region in page.regions:
        if region.kind not in kinds:
            continue
        for lines in region.paragraphs:
            # Dot leaders are layout ("Neu: \\textins . . . . . 7"): one ellipsis keeps their meaning.
            text = _LEADER_DOTS.sub(" … ", join_lines([ln.text for ln in lines], lexicon))
            if not text:
                continue
            # Continued: the same kind of text (body, a footnote, a box) breaking off mid-sentence.
            if out and region.kind == out[-1][2] != "heading" and _continues(out[-1][0], text):
                previous, top, kind = out.pop()
                out.append((join_lines([previous, text], lexicon), top, kind))
            else:
                out.append((text, lines[0].y1, region.kind))
    return out


def _continues(before: str, after: str) -> bool:
    """Whether ``after`` carries on the sentence ``before`` broke off (no end mark, lower-case start)."""
    return bool(before) and before[-1] not in ".!?:;)\"”“'" and after[:1].islower()


def _page_labels(file: Path, count: int) -> list[str | None]:
    """Printed page labels ("iv", "12") from the catalogue, via pypdf; None where there are none."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(file)
        if reader.is_encrypted:
            reader.decrypt("")
        labels: list[str | None] = list(reader.page_labels)
    except Exception:  # labels are a nicety: a PDF pypdf cannot parse is still read by PDFium
        labels = []
    return (labels + [None] * count)[:count]


def _outline(pdf: object) -> list[tuple[int, float, str, str]]:
    """(page index, top y, chapter, section) of the top two bookmark levels, in reading order."""
    starts: list[tuple[int, float, str, str]] = []
    chapter = ""
    try:
        for item in pdf.get_toc():  # type: ignore[attr-defined]
            dest = item.get_dest()
            index = dest.get_index() if dest else None
            if index is None or item.level > 1:
                continue
            _, view = dest.get_view()
            # A bookmark without a position points at the top of its page.
            top = float(view[1]) if len(view) >= 2 and view[1] else float("inf")
            title = normalise(item.get_title() or "")
            if item.level == 0:
                chapter = title
                starts.append((index, top, chapter, ""))
            else:
                starts.append((index, top, chapter, title))
    except Exception:  # a damaged outline costs the chapter names, not the text
        return []
    return sorted(starts, key=lambda s: (s[0], -s[1]))


def _place(outline: list[tuple[int, float, str, str]], page_index: int, top: float) -> tuple[str, str]:
    """Chapter and section of a paragraph: those of the last bookmark at or above where it starts."""
    position = bisect_right([(page, -y) for page, y, _, _ in outline], (page_index, -(top + 2.0)))
    if position == 0:
        return "", ""
    _, _, chapter, section = outline[position - 1]
    return chapter, section


def _page_content(
    page: object, *, recognised: ocr.Marks | None = None, glyphs: GlyphNames | None = None
) -> tuple[float, float, list[Run], list[tuple[float, float, float, float]]]:
    """A page's size, its text runs and the rectangles drawn on it (frames of boxes); ``recognised``
    for a page whose text layer Tesseract wrote: the frames and leaders seen in its image (``_runs``);
    ``glyphs``: the document's glyphs that PDFium cannot map."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()  # type: ignore[attr-defined]
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    try:
        runs = _runs(textpage, recognised=recognised, glyphs=glyphs)
    finally:
        textpage.close()
    rects: list[tuple[float, float, float, float]] = []
    for n, obj in enumerate(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=3)):  # type: ignore[attr-defined]
        if n >= _MAX_PATHS:
            break  # a drawing, not a page of text boxes
        rects.append(tuple(obj.get_bounds()))
    return width, height, runs, rects


_Content = tuple[float, float, list[Run], list[tuple[float, float, float, float]]]


def _recognised_content(page: object) -> _Content:
    """A page's content as recognised text: one size for its body text (see ``ocr.steady_sizes``), and
    the frames of boxes found in its image (a scan has no drawn rectangles)."""
    marks = ocr.marks(page)
    width, height, runs, rects = _page_content(page, recognised=marks)
    return width, height, ocr.steady_sizes(runs), rects + marks.frames


def _has_marks(page: object) -> bool:
    """Whether anything is drawn on a page (an image, paths, a form): a blank page has nothing to read."""
    return next(iter(page.get_objects(max_depth=2)), None) is not None  # type: ignore[attr-defined]


def _page_text(textpage: object, glyphs: GlyphNames | None = None) -> str:
    """PDFium's text of a page, one character per PDFium character index, with ligatures PDFium could
    not map read from their glyph names, accents drawn apart composed and low quotes drawn as high
    ones put right."""
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw  # type: ignore[attr-defined]
    count = pdfium_c.FPDFText_CountChars(raw)
    text = textpage.get_text_range(0, count) if count > 0 else ""  # type: ignore[attr-defined]
    if len(text) != count:  # characters outside the BMP: keep the indices in step with PDFium's
        text = "".join(chr(pdfium_c.FPDFText_GetUnicode(raw, i) or 32) for i in range(count))
    if glyphs is not None:
        text = glyphs.text(textpage, text)
    if _ACCENT_CHARS.search(text):
        text = _compose_accents(raw, text)
    if _HIGH_QUOTES.search(text):
        text = _lower_quotes(raw, text)
    return text


class _WordBoxes:
    """Where a word of a page's text stands: its left and right edge, its baseline and font size,
    from its first and last characters' boxes (see ``_runs``)."""

    def __init__(self, raw: object, text: str, recognised: ocr.Marks | None):
        import ctypes

        import pypdfium2.raw as pdfium_c

        self.raw, self.text, self.recognised = raw, text, recognised
        self.char_box = pdfium_c.FPDFText_GetCharBox
        self.origin = pdfium_c.FPDFText_GetCharOrigin
        self.left, self.right = ctypes.c_double(), ctypes.c_double()
        self.bottom, self.top = ctypes.c_double(), ctypes.c_double()
        self.ox, self.oy = ctypes.c_double(), ctypes.c_double()

    def hyphen_set_off(self, match: re.Match[str], gap: float) -> bool:
        """Whether the word is a line-end hyphen set a little apart from the syllable it breaks
        ("Öffent -|lichkeitsarbeit", as LibreOffice justifies a line): a hyphen alone, last on its line,
        closer than 0.3 em (the least gap that counts as a word space, see ``_runs``) after a letter, with
        only a space PDFium made up between them. A typed dash (" - ") has a real space."""
        import pypdfium2.raw as pdfium_c

        start, stop = match.span()
        text = self.text
        return (
            text[start:stop] in _LONE_HYPHENS
            and gap < 0.3
            and start >= 2
            and text[start - 1] == " "
            and text[start - 2].isalpha()
            and bool(pdfium_c.FPDFText_IsGenerated(self.raw, start - 1))
            and (stop == len(text) or text[stop] in "\r\n")
        )

    def word(self, match: re.Match[str]) -> tuple[float, float, float, float] | None:
        """(left, right, baseline, size) of a word, or None for a word to leave out: recognition's
        noise, or characters PDFium generated with no place on the page."""
        raw, text, left, right, bottom, top = (
            self.raw,
            self.text,
            self.left,
            self.right,
            self.bottom,
            self.top,
        )
        start, stop = match.span()
        self.char_box(raw, start, left, right, bottom, top)
        word_left, word_bottom = left.value, bottom.value
        if stop - 1 > start:
            self.char_box(raw, stop - 1, left, right, bottom, top)
        word_right = max(right.value, word_left)
        if self.recognised is not None:
            if ocr.noise(
                match.group(), (word_left, word_bottom, word_right, top.value), self.recognised.frames
            ):
                return None
            if text[stop : stop + 1] == " ":
                letters_top = top.value
                self.char_box(raw, stop, left, right, bottom, top)
                if right.value > left.value >= word_right - 0.5:  # a glyph right after the word
                    word_right = right.value
                top.value = letters_top
        if word_right <= word_left and top.value <= word_bottom:
            return None  # a character PDFium generated, with no place on the page
        word_size = _font_size(raw, start + (stop - start) // 2) or (top.value - word_bottom)
        # The baseline of the word's first letter: a mark before it (a low quote „) may sit lower.
        anchor = start + next((k for k, ch in enumerate(match.group()) if ch.isalnum()), 0)
        word_base = float(self.oy.value) if self.origin(raw, anchor, self.ox, self.oy) else word_bottom
        return word_left, word_right, word_base, word_size

    def text_of(self, match: re.Match[str], left: float, right: float) -> str:
        """The word as it stands on the page: on a recognised page the letters Tesseract read into a
        dot leader (``ocr.in_leader``) become dots again, as a text layer has them."""
        word = match.group()
        leaders = self.recognised.leaders if self.recognised is not None else ()
        if not leaders or not any(x0 <= right and left <= x1 for x0, _, x1, _ in leaders):
            return word
        chars, box = [], (self.left, self.right, self.bottom, self.top)
        for k in range(*match.span()):
            self.char_box(self.raw, k, *box)
            on = ocr.in_leader((box[0].value, box[2].value, box[1].value, box[3].value), leaders)
            chars.append("." if on else self.text[k])
        return re.sub(r"\.{2,}", ".....", "".join(chars))


def _runs(
    textpage: object, *, recognised: ocr.Marks | None = None, glyphs: GlyphNames | None = None
) -> list[Run]:
    """Runs of text from PDFium's own text of the page (with the spaces and line breaks PDFium
    inferred), word by word: a run is cut where a line ends or the next word stands apart (another
    column, a margin note, a wide word space the layout decides about later).

    Words are placed by their first and last characters' boxes rather than by PDFium's text
    rectangles: some producers (Chromium's Skia) place every glyph on its own, which PDFium reports
    as one rectangle per character, and looking at every character costs more than the words do.

    ``recognised`` (Tesseract's text layer; the frames in the page's image): Tesseract stretches a
    word and the space after it over the word's box, so the word ends where that space glyph ends
    (its letters alone stop short, and every word gap would look wide enough to cut the line); and
    the words ``ocr.noise`` calls a frame's edge or a speck are left out."""
    raw = textpage.raw  # type: ignore[attr-defined]
    text = _page_text(textpage, glyphs)
    boxes = _WordBoxes(raw, text, recognised)
    runs: list[Run] = []
    words: list[str] = []
    x0 = x1 = base = size = 0.0
    last_left = last_right = 0.0
    end = 0

    def flush() -> None:
        if words:
            joined = "".join(words).rstrip()
            hyphen = joined.endswith(_BREAK_MARKS)
            clean = normalise(joined.rstrip("".join(_BREAK_MARKS)) if hyphen else joined)
            if clean or hyphen:
                y0, y1 = base - 0.22 * size, base + 0.72 * size
                runs.append(Run(clean + (LINE_END_HYPHEN if hyphen else ""), x0, y0, x1, y1, size, base))
        words.clear()

    for match in _TOKEN.finditer(text):
        start, stop = match.span()
        between = text[end:start]
        end = stop
        if "\n" in between or "\r" in between:
            flush()
        box = boxes.word(match)
        if box is None:
            continue
        word_left, word_right, word_base, word_size = box
        word = boxes.text_of(match, word_left, word_right).replace(_MERGED, "")
        if not word:
            continue  # an accent that joined its letter
        if words:
            em = max(size, word_size, 1.0)
            gap = word_left - last_right
            # Apart: far to the right, back to the left, or on another baseline.
            if gap > 0.8 * em or word_left < last_left - 0.5 * em or abs(word_base - base) > 0.5 * em:
                flush()
            elif (between or gap > 0.3 * em) and not (
                word in _LONE_HYPHENS and boxes.hyphen_set_off(match, gap / em)
            ):
                words.append(
                    " "
                )  # PDFium's space (or a no-break one), or a word gap PDFium did not turn into one
        if not words:
            x0, base, size = word_left, word_base, word_size
        x1 = max(x1, word_right) if words else word_right
        words.append(word)
        last_left, last_right = word_left, word_right
    flush()
    return runs


#: Accents some producers (dvips, older Ghostscript) draw as glyphs of their own over or under a
#: letter ("erkl¨art"), with the combining mark each stands for.
_SPACING_ACCENTS = {
    "\u00a8": "\u0308",  # diaeresis
    "\u00b4": "\u0301",  # acute
    "`": "\u0300",  # grave
    "\u02c6": "\u0302",  # circumflex
    "^": "\u0302",
    "\u02dc": "\u0303",  # tilde
    "~": "\u0303",
    "\u02da": "\u030a",  # ring
    "\u02c7": "\u030c",  # caron
    "\u02d8": "\u0306",  # breve
    "\u02d9": "\u0307",  # dot above
    "\u00af": "\u0304",  # macron
    "\u02dd": "\u030b",  # double acute
    "\u00b8": "\u0327",  # cedilla (under the letter)
    "\u02db": "\u0328",  # ogonek (under the letter)
}
_BELOW = {"\u0327", "\u0328"}
_ACCENT_CHARS = re.compile("[" + re.escape("".join(_SPACING_ACCENTS)) + "]")
_MERGED = "\u200b"  # stands where an accent was, until the word is assembled without it
_ACCENT_REACH = 250  # characters either side searched for the letter an accent stands on


#: Quotation marks that fonts without a low opening quote (TeX's OT1, Texinfo) set at the baseline in
#: its place, with the low mark each stands for there.
#: Also the raw codes of the low quotes in TeX's T1 (Cork) encoding, which a bitmap (Type 3) font without
#: a Unicode map passes through as control characters (texinfo.tex sets „ from an EC font that way):
#: they count only where they stand low before a word, as the quotes above do, so the same codes as
#: accents of OT1 (set high) stay as they are.
_LOW_QUOTES = {
    "\u201d": "\u201e", '"': "\u201e", "\u2019": "\u201a", "'": "\u201a", "\x12": "\u201e", "\x0d": "\u201a",
}  # fmt: skip
_HIGH_QUOTES = re.compile("[" + re.escape("".join(_LOW_QUOTES)) + "]")


def _font_size(raw: object, index: int) -> float:
    """A character's font size in points. PDFium gives the size set with the font (``Tf``), which is 1
    where a producer scales its text by the text matrix instead (old dvipdfm output, gerdoc); below 2 pt
    the size is taken from the character's loose box, which spans the font's ascent to its descent (0.87
    to 1 em in the collection). 0 where PDFium knows neither."""
    import pypdfium2.raw as pdfium_c

    size = float(pdfium_c.FPDFText_GetFontSize(raw, index))
    if size >= 2.0:
        return size
    loose = pdfium_c.FS_RECTF()
    if pdfium_c.FPDFText_GetLooseCharBox(raw, index, loose) and loose.top > loose.bottom:
        return (loose.top - loose.bottom) / 0.9
    return size


def _char_boxes(raw: object) -> Callable[[int], tuple[float, float, float, float]]:
    """``box(i)``: the i-th character's (left, right, bottom, top) on the page, from PDFium."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    left, right, bottom, top = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()

    def box(i: int) -> tuple[float, float, float, float]:
        pdfium_c.FPDFText_GetCharBox(raw, i, left, right, bottom, top)
        return left.value, right.value, bottom.value, top.value

    return box


def _lower_quotes(raw: object, text: str) -> str:
    """``text`` with each closing-quote glyph that stands at the baseline before a word read as the
    low opening quote it stands for ("”Soziale Stadt“" as set by a font without „ → "„Soziale Stadt“");
    the line break PDFium made up between the low mark and its word (it reads the mark as a line of its
    own) becomes ``_MERGED``. A quote at the normal height stays as it is; one lowered a little below
    the baseline (german.sty's „ from a lowered ”) counts as at the baseline."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    box = _char_boxes(raw)
    origin_x, origin_y = ctypes.c_double(), ctypes.c_double()
    chars = list(text)
    for match in _HIGH_QUOTES.finditer(text):
        i = match.start()
        after = i + 1
        while after < len(chars) and after - i <= 4 and chars[after] in " \r\n":
            if not pdfium_c.FPDFText_IsGenerated(raw, after):
                break
            after += 1
        if after >= len(chars) or not chars[after].isalnum():
            continue
        ql, qr, qb, qt = box(i)
        nl, nr, nb, nt = box(after)
        # The word's baseline and size, not its first letter's box: a "g" reaches below the baseline.
        size = _font_size(raw, after) or (nt - nb)
        base = origin_y.value if pdfium_c.FPDFText_GetCharOrigin(raw, after, origin_x, origin_y) else nb
        if qr <= ql or size <= 0 or not -0.3 * size <= nl - qr <= 0.6 * size:
            continue
        if qt <= base + 0.4 * size and qb >= base - 0.6 * size:
            chars[i] = _LOW_QUOTES[text[i]]
            for k in range(i + 1, after):
                chars[k] = _MERGED
    return "".join(chars)


def _compose_accents(raw: object, text: str) -> str:
    """``text`` with every accent glyph that stands on a letter joined to it, by position: the letter
    whose box holds the accent's horizontal centre, on the same line, with the accent above it (under
    it for a cedilla or ogonek). The joined letter becomes the composed character ("a" + "¨" = "ä") and
    the accent becomes ``_MERGED``, so the text keeps PDFium's indices (a letter without a
    precomposed form keeps its combining mark in the accent's place, where that is next to it); so do
    the spaces PDFium made up around an accent it had put inside another word ("d¨ en" → "den"). An
    accent over nothing (a tilde in "~/foo", a caret in code) stays as it is.

    The letter is searched among ``_ACCENT_REACH`` characters either side: some producers write a
    line's accents after the whole line (dvips), far from their letters in PDFium's order."""
    import unicodedata

    import pypdfium2.raw as pdfium_c

    box = _char_boxes(raw)

    def made_up_space(i: int) -> bool:
        return chars[i] == _MERGED or (chars[i] == " " and bool(pdfium_c.FPDFText_IsGenerated(raw, i)))

    chars = list(text)
    for match in _ACCENT_CHARS.finditer(text):
        i = match.start()
        mark = _SPACING_ACCENTS[text[i]]
        al, ar, ab, at = box(i)
        if ar <= al:
            continue
        centre = (al + ar) / 2
        best: tuple[float, int] | None = None
        for j in range(max(0, i - _ACCENT_REACH), min(len(text), i + _ACCENT_REACH + 1)):
            if j == i or not chars[j].isalpha():
                continue
            ll, lr, lb, lt = box(j)
            width, height = lr - ll, lt - lb
            if width <= 0 or height <= 0 or not ll - 0.1 * width <= centre <= lr + 0.1 * width:
                continue
            if mark in _BELOW:
                placed = at <= lb + 0.5 * height and ab >= lb - 1.5 * height
            else:
                placed = lb + 0.35 * height <= ab <= lt + 1.0 * height
            if placed:
                distance = abs(centre - (ll + lr) / 2) + abs(ab - lt) / 4
                if best is None or distance < best[0]:
                    best = (distance, j)
        if best is None:
            continue
        composed = unicodedata.normalize("NFC", chars[best[1]] + mark)
        if len(composed) == 2 and abs(best[1] - i) == 1:
            # No precomposed letter ("o" with a ring): the letter and its combining mark take the two
            # places, in that order, as the accent stands right beside its letter in the text.
            first, second = sorted((best[1], i))
            chars[first], chars[second] = composed[0], composed[1]
            continue
        if len(composed) != 1:  # not a letter that takes this accent
            continue
        chars[best[1]], chars[i] = composed, _MERGED
        # Made-up spaces around the accent, where it stood between two letters set close together.
        before, after = i - 1, i + 1
        while before >= 0 and made_up_space(before):
            before -= 1
        while after < len(chars) and made_up_space(after):
            after += 1
        if 0 <= before and after < len(chars) and chars[before].isalnum() and not chars[after].isspace():
            bl, br, bb, bt = box(before)
            nl, nr, nb, nt = box(after)
            size = max(bt - bb, nt - nb, 1.0)
            if -0.3 * size <= nl - br <= 0.25 * size and abs(nb - bb) < 0.5 * size:
                for k in range(before + 1, after):
                    chars[k] = _MERGED
    return "".join(chars)


def _outline_from_contents(
    pages: list[PageLayout], labels: list[str | None]
) -> list[tuple[int, float, str, str]]:
    """Chapters and sections from the printed table of contents, for PDFs without bookmarks."""
    entries = [entry for page in pages for entry in page.toc]
    if not entries:
        return []
    indents = sorted({round(e.indent / 3) for e in entries})
    index_of = {(label or str(i + 1)).lower(): i for i, label in enumerate(labels)}
    starts: list[tuple[int, float, str, str]] = []
    chapter = ""
    for entry in entries:
        # The depth of a numbered title ("2.1 …") where all entries share one indent.
        numbered = _SECTION_NUMBER.match(entry.title)
        level = indents.index(round(entry.indent / 3))
        if numbered and len(indents) == 1:
            level = numbered.group(1).count(".")
        page_index = index_of.get(entry.page_label.lower())
        if page_index is None or level > 1 or page_index >= len(pages):
            continue
        title = normalise(entry.title)
        top = _heading_top(pages[page_index], title)
        if level == 0:
            chapter = title
            starts.append((page_index, top, chapter, ""))
        else:
            starts.append((page_index, top, chapter, title))
    return sorted(starts, key=lambda s: (s[0], -s[1]))


def _heading_top(page: PageLayout, title: str) -> float:
    """Where a contents entry's heading stands on its page (the top of the page if not found)."""
    words = re.sub(r"^[\dIVX.]+\s+", "", title).lower()
    for region in page.regions:
        for line in region.lines:
            left_out = region.kind in ("contents", "furniture", "index")
            if not left_out and words and words[:40] in line.text.lower():
                return line.y1
    return float("inf")


def join_lines(lines: list[str], lexicon: Lexicon = Lexicon()) -> str:
    """Join PDF lines: "Quartiers-|management" → "Quartiersmanagement", "EU-|Staaten" and
    "Bundes-|und Landesmittel" keep their hyphen. Where the document writes the word unbroken
    elsewhere (``lexicon``), that spelling decides: "Free-|BSD" → "FreeBSD", "csquotes-|paket"
    stays hyphenated when the document says "csquotes-paket" elsewhere. In a document that does not
    hyphenate (``lexicon.hyphenates``), a hyphen at a line end is always a real one."""
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
            continue
        if out.endswith(_HYPHENS) and out.rstrip("".join(_HYPHENS))[-1:].isspace():
            out = f"{out} {line}"  # a dash typed as a spaced hyphen: "offen -|wer zahlt"
        elif out.endswith(_HYPHENS):
            stem = out.rstrip("".join(_HYPHENS))
            first = re.match(r"\w+", line)
            next_word = first.group(0) if first else ""
            last = re.search(r"(\w+)$", stem)
            before = last.group(1) if last else ""
            joined, hyphened = before + next_word, f"{before}-{next_word}"
            known_joined, known_hyphened = joined in lexicon, hyphened in lexicon
            if before and next_word and known_joined != known_hyphened:
                out = stem + line if known_joined else f"{stem}-{line}"
            elif len(before) >= 3 and next_word.lower() in _CONJUNCTIONS:
                out = f"{stem}- {line}"  # suspended compound: "Bundes- und Landesmittel"
            elif (
                lexicon.hyphenates
                and before
                and next_word
                and before[-1].islower()
                and next_word[0].islower()
            ):
                out = stem + line  # a word broken at the line end
            else:
                out = f"{stem}-{line}"  # a real hyphen: "EU-Staaten", "Debian-Richtlinien"
        elif out.endswith(("–", "—")) and not out[:-1].endswith(" ") and line[:1].isalnum():
            out = out + line  # a range or a dash set close: "2021–|2027"
        else:
            out = f"{out} {line}"
    return out.replace(LINE_END_HYPHEN, "-")
